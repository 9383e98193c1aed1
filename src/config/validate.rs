//! Semantic checks after parsing: each failure names the key, the value and what is expected.
use super::{Config, Error};
use ipnet::IpNet;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::Path;

/// Parses an IP or CIDR leniently, as Ritual does (`10.0.0.5/8` means `10.0.0.0/8`).
pub fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    if let Ok(n) = s.parse::<IpNet>() {
        return Some(n.trunc());
    }
    s.parse::<IpAddr>().ok().map(IpNet::from)
}

pub fn is_address(s: &str) -> bool {
    let h = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or("");
    h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_http_url(s: &str) -> bool {
    match reqwest::Url::parse(s) {
        Ok(u) => matches!(u.scheme(), "http" | "https") && u.host_str().is_some(),
        Err(_) => false,
    }
}

/// Validates in place (fills in reassigned ports) and returns warnings.
pub fn validate(c: &mut Config, path: &Path) -> Result<Vec<String>, Error> {
    let file = path.display().to_string();
    let err = |key: String, message: String| Error::Key {
        path: path.to_path_buf(),
        key,
        message,
    };
    let mut warnings = Vec::new();

    // id -> where it was declared: containers and backends share one namespace.
    let mut seen: HashMap<String, String> = HashMap::new();
    for (i, ct) in c.containers.iter().enumerate() {
        let k = |f: &str| format!("containers[{i}].{f}");
        if ct.id.trim().is_empty() {
            return Err(err(k("id"), "is required: a non-empty container id".into()));
        }
        if ct.id.contains(',') {
            return Err(err(
                k("id"),
                format!(
                    "'{}' must not contain ',' (ids are joined with ',' into container sets)",
                    ct.id
                ),
            ));
        }
        if let Some(other) = seen.insert(ct.id.clone(), k("id")) {
            return Err(err(
                k("id"),
                format!("duplicate container id '{}' (also {other})", ct.id),
            ));
        }
        if c.manage_containers && ct.image.trim().is_empty() {
            return Err(err(
                k("image"),
                "is required when 'manage_containers' is true (or set 'manage_containers': false and give 'url')"
                    .into(),
            ));
        }
        if !ct.url.is_empty() && !is_http_url(&ct.url) {
            return Err(err(k("url"), format!("'{}' is not an http(s) URL", ct.url)));
        }
        if c.manage_containers && (!ct.url.is_empty() || !ct.bearer.is_empty()) {
            warnings.push(format!(
                "config file '{file}': 'containers[{i}].url'/'bearer' are ignored because 'manage_containers' is true"
            ));
        }
        if ct.port == 0 {
            return Err(err(
                k("port"),
                "expected an integer from 1 to 65535, found '0'".into(),
            ));
        }
        if ct.host_ip.parse::<IpAddr>().is_err() {
            return Err(err(
                k("host_ip"),
                format!("'{}' is not an IP address", ct.host_ip),
            ));
        }
        for (j, ip) in ct.allowed_ips.iter().enumerate() {
            if parse_net(ip).is_none() {
                return Err(err(
                    format!("containers[{i}].allowed_ips[{j}]"),
                    format!("'{ip}' is not an IP address or CIDR network"),
                ));
            }
        }
        for field in ["allowed_addresses", "allowed_delegate_addresses"] {
            let list = if field == "allowed_addresses" {
                &ct.allowed_addresses
            } else {
                &ct.allowed_delegate_addresses
            };
            for (j, a) in list.iter().enumerate() {
                if !is_address(a) {
                    return Err(err(
                        format!("containers[{i}].{field}[{j}]"),
                        format!("'{a}' is not an address (expected 0x and 40 hex digits)"),
                    ));
                }
            }
        }
        for (token, minimum) in &ct.accepted_payments {
            if !is_address(token) {
                return Err(err(
                    format!("containers[{i}].accepted_payments"),
                    format!("token '{token}' is not an address (expected 0x and 40 hex digits)"),
                ));
            }
            let m = minimum.trim();
            let ok = match m.strip_prefix("0x") {
                Some(h) => alloy::primitives::U256::from_str_radix(h, 16).is_ok(),
                None => alloy::primitives::U256::from_str_radix(m, 10).is_ok(),
            };
            if !ok {
                return Err(err(
                    format!("containers[{i}].accepted_payments.{token}"),
                    format!(
                        "'{minimum}' is not an amount (expected a uint256 in decimal, e.g. \"1000000000000000000\")"
                    ),
                ));
            }
        }
        for (j, v) in ct.volumes.iter().enumerate() {
            let parts: Vec<&str> = v.split(':').collect();
            let ok = (2..=3).contains(&parts.len()) && parts.iter().all(|p| !p.is_empty());
            if !ok {
                return Err(err(
                    format!("containers[{i}].volumes[{j}]"),
                    format!("'{v}' is not a volume (expected 'host_path:container_path[:ro|rw]')"),
                ));
            }
        }
        if let Some(t) = ct.timeout
            && !(t.is_finite() && t > 0.0)
        {
            return Err(err(
                k("timeout"),
                format!("expected seconds > 0, found '{t}'"),
            ));
        }
    }
    reassign_ports(c, &file, &mut warnings);

    for (i, b) in c.backends.iter().enumerate() {
        let k = |f: &str| format!("backends[{i}].{f}");
        if b.id.trim().is_empty() || b.id.contains(',') {
            return Err(err(
                k("id"),
                format!("'{}' must be a non-empty id without ','", b.id),
            ));
        }
        if let Some(other) = seen.insert(b.id.clone(), k("id")) {
            return Err(err(
                k("id"),
                format!("duplicate id '{}' (also {other})", b.id),
            ));
        }
        if crate::backend::BackendKind::parse(&b.kind).is_none() {
            return Err(err(
                k("kind"),
                format!(
                    "'{}' is not a backend kind (ollama, vllm, sglang, llamacpp, max, openai, engine, embedded, stub)",
                    b.kind
                ),
            ));
        }
        let is_engine =
            b.kind.eq_ignore_ascii_case("engine") || b.kind.eq_ignore_ascii_case("mojo");
        if !is_engine && !b.url.is_empty() && !is_http_url(&crate::backend::normalise_url(&b.url)) {
            return Err(err(k("url"), format!("'{}' is not an http(s) URL", b.url)));
        }
        for (j, ip) in b.allowed_ips.iter().enumerate() {
            if parse_net(ip).is_none() {
                return Err(err(
                    format!("backends[{i}].allowed_ips[{j}]"),
                    format!("'{ip}' is not an IP address or CIDR network"),
                ));
            }
        }
    }

    let cp = &c.control_plane;
    if !cp.url.is_empty() && !is_http_url(cp.url.trim_end_matches('/')) {
        return Err(err(
            "control_plane.url".into(),
            format!("'{}' is not an http(s) URL", cp.url),
        ));
    }
    if !matches!(cp.role.as_str(), "provider" | "aggregator" | "client") {
        return Err(err(
            "control_plane.role".into(),
            format!("'{}' is not one of provider, aggregator, client", cp.role),
        ));
    }
    for (k, v) in [
        ("heartbeat_interval", cp.heartbeat_interval),
        ("poll_interval", cp.poll_interval),
        ("command_interval", cp.command_interval),
    ] {
        if v.is_nan() || v <= 0.0 {
            return Err(err(
                format!("control_plane.{k}"),
                format!("expected seconds > 0, found '{v}'"),
            ));
        }
    }
    if cp.poll_wait < 0.0 || cp.concurrency_cap == 0 {
        return Err(err(
            "control_plane".into(),
            "poll_wait must be >= 0 and concurrency_cap >= 1".into(),
        ));
    }

    if let Some(d) = &c.docker
        && (d.username.is_empty() || d.password.is_empty())
    {
        return Err(err(
            "docker".into(),
            "needs both 'username' and 'password' (remove the 'docker' object for anonymous pulls)"
                .into(),
        ));
    }
    if c.chain.enabled {
        let need = [
            ("chain.rpc_url", c.chain.rpc_url.is_none()),
            ("chain.registry_address", c.chain.registry_address.is_none()),
            (
                "chain.wallet.private_key",
                c.chain.wallet.private_key.is_none(),
            ),
        ];
        for (key, missing) in need {
            if missing {
                let hint = if key == "chain.wallet.private_key" {
                    " (in the file, or stored with `infernet secret set chain.wallet.private_key`)"
                } else {
                    ""
                };
                return Err(err(
                    key.into(),
                    format!("is required when 'chain.enabled' is true{hint}"),
                ));
            }
        }
        if let Some(u) = &c.chain.rpc_url {
            let ok = reqwest::Url::parse(u)
                .map(|u| matches!(u.scheme(), "http" | "https" | "ws" | "wss"))
                .unwrap_or(false);
            if !ok {
                return Err(err(
                    "chain.rpc_url".into(),
                    format!("'{u}' is not an http(s) or ws(s) URL"),
                ));
            }
        }
        if let Some(a) = &c.chain.registry_address
            && !is_address(a)
        {
            return Err(err(
                "chain.registry_address".into(),
                format!("'{a}' is not an address (expected 0x and 40 hex digits)"),
            ));
        }
        if let Some(k) = &c.chain.wallet.private_key
            && crate::chain::deploy::parse_key(k.expose()).is_err()
        {
            return Err(err(
                "chain.wallet.private_key".into(),
                "is not a valid secp256k1 private key (expected 64 hex digits, 0x optional)".into(),
            ));
        }
    }
    if c.server.rate_limit.num_requests == 0 {
        return Err(err(
            "server.rate_limit.num_requests".into(),
            "expected an integer >= 1, found '0'".into(),
        ));
    }
    if c.server.rate_limit.period <= 0.0 {
        return Err(err(
            "server.rate_limit.period".into(),
            format!(
                "expected seconds > 0, found '{}'",
                c.server.rate_limit.period
            ),
        ));
    }
    if c.server.bind.parse::<IpAddr>().is_err() {
        return Err(err(
            "server.bind".into(),
            format!("'{}' is not an IP address", c.server.bind),
        ));
    }
    for (key, list) in [
        ("server.trusted_proxies", &c.server.trusted_proxies),
        ("server.status_allowed_ips", &c.server.status_allowed_ips),
    ] {
        for (j, ip) in list.iter().enumerate() {
            if parse_net(ip).is_none() {
                return Err(err(
                    format!("{key}[{j}]"),
                    format!("'{ip}' is not an IP address or CIDR network"),
                ));
            }
        }
    }
    if c.server.max_body_bytes < 1024 {
        return Err(err(
            "server.max_body_bytes".into(),
            format!(
                "expected at least 1024, found '{}'",
                c.server.max_body_bytes
            ),
        ));
    }
    if c.server.max_get_ids == 0 {
        return Err(err(
            "server.max_get_ids".into(),
            "expected at least 1, found '0'".into(),
        ));
    }
    if c.server.max_get_bytes < 1024 {
        return Err(err(
            "server.max_get_bytes".into(),
            format!("expected at least 1024, found '{}'", c.server.max_get_bytes),
        ));
    }
    if c.server.max_connections == 0 {
        return Err(err(
            "server.max_connections".into(),
            "expected at least 1, found '0'".into(),
        ));
    }
    for (key, v) in [
        ("server.header_timeout_secs", c.server.header_timeout_secs),
        ("server.body_timeout_secs", c.server.body_timeout_secs),
    ] {
        if !(v.is_finite() && v > 0.0 && v <= 86_400.0) {
            return Err(err(
                key.into(),
                format!("expected seconds between 0 and 86400, found '{v}'"),
            ));
        }
    }
    if c.log.max_file_size == 0 {
        return Err(err(
            "log.max_file_size".into(),
            "expected bytes > 0, found '0'".into(),
        ));
    }
    let level_ok = matches!(
        c.log.level.to_ascii_lowercase().as_str(),
        "trace" | "debug" | "info" | "warn" | "error" | "off"
    ) || ((c.log.level.contains('=') || c.log.level.contains(','))
        && tracing_subscriber::EnvFilter::try_new(&c.log.level).is_ok());
    if !level_ok {
        return Err(err(
            "log.level".into(),
            format!(
                "'{}' is not a level (trace, debug, info, warn, error)",
                c.log.level
            ),
        ));
    }
    for (key, v) in [
        ("jobs.container_timeout", c.jobs.container_timeout),
        ("jobs.stream_idle_timeout", c.jobs.stream_idle_timeout),
        ("jobs.pending_ttl", c.jobs.pending_ttl),
    ] {
        if v <= 0.0 {
            return Err(err(
                key.into(),
                format!("expected seconds > 0, found '{v}'"),
            ));
        }
    }
    Ok(warnings)
}

/// Ritual's rule: a duplicate host port is moved to the highest free port below 4000.
fn reassign_ports(c: &mut Config, file: &str, warnings: &mut Vec<String>) {
    let mut used: HashSet<u16> = HashSet::new();
    let mut next: u16 = 3999;
    for i in 0..c.containers.len() {
        let port = c.containers[i].port;
        if used.insert(port) {
            continue;
        }
        while used.contains(&next) || c.containers.iter().any(|x| x.port == next) {
            next -= 1;
        }
        warnings.push(format!(
            "config file '{file}': 'containers[{i}].port' {port} is already used; container '{}' gets port {next}",
            c.containers[i].id
        ));
        c.containers[i].port = next;
        used.insert(next);
    }
}

#[cfg(test)]
mod tests;
