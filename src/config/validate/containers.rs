//! `containers[]`, their host ports and the `docker` pull credentials.
use super::{Ctx, Ids, is_address, is_http_url};
use crate::config::{Config, ContainerConfig, DockerCredentialsConfig, Error};
use std::collections::HashSet;
use std::net::IpAddr;

/// Every container in order; the manage mode decides what is required and what is ignored.
pub(super) fn check(
    c: &Config,
    cx: &Ctx,
    ids: &mut Ids,
    warnings: &mut Vec<String>,
) -> Result<(), Error> {
    for (i, ct) in c.containers.iter().enumerate() {
        let at = format!("containers[{i}]");
        id(ct, &at, cx, ids)?;
        endpoint(ct, &at, c.manage_containers, cx, warnings)?;
        cx.nets(&format!("{at}.allowed_ips"), &ct.allowed_ips)?;
        addresses(
            &format!("{at}.allowed_addresses"),
            &ct.allowed_addresses,
            cx,
        )?;
        addresses(
            &format!("{at}.allowed_delegate_addresses"),
            &ct.allowed_delegate_addresses,
            cx,
        )?;
        payments(ct, &at, cx)?;
        volumes(ct, &at, cx)?;
        if let Some(t) = ct.timeout {
            cx.seconds(format!("{at}.timeout"), t)?;
        }
    }
    Ok(())
}

fn id(ct: &ContainerConfig, at: &str, cx: &Ctx, ids: &mut Ids) -> Result<(), Error> {
    let key = format!("{at}.id");
    if ct.id.trim().is_empty() {
        return Err(cx.err(key, "is required: a non-empty container id"));
    }
    if ct.id.contains(',') {
        return Err(cx.err(
            key,
            format!(
                "'{}' must not contain ',' (ids are joined with ',' into container sets)",
                ct.id
            ),
        ));
    }
    if let Some(other) = ids.insert(ct.id.clone(), key.clone()) {
        return Err(cx.err(
            key,
            format!("duplicate container id '{}' (also {other})", ct.id),
        ));
    }
    Ok(())
}

/// How the node reaches the container: an image it runs, or a URL it calls.
fn endpoint(
    ct: &ContainerConfig,
    at: &str,
    managed: bool,
    cx: &Ctx,
    warnings: &mut Vec<String>,
) -> Result<(), Error> {
    if managed && ct.image.trim().is_empty() {
        return Err(cx.err(
            format!("{at}.image"),
            "is required when 'manage_containers' is true (or set 'manage_containers': false and give 'url')",
        ));
    }
    if !ct.url.is_empty() && !is_http_url(&ct.url) {
        return Err(cx.err(
            format!("{at}.url"),
            format!("'{}' is not an http(s) URL", ct.url),
        ));
    }
    if managed && (!ct.url.is_empty() || !ct.bearer.is_empty()) {
        warnings.push(cx.warning(&format!(
            "'{at}.url'/'bearer' are ignored because 'manage_containers' is true"
        )));
    }
    if ct.port == 0 {
        return Err(cx.err(
            format!("{at}.port"),
            "expected an integer from 1 to 65535, found '0'",
        ));
    }
    if ct.host_ip.parse::<IpAddr>().is_err() {
        return Err(cx.err(
            format!("{at}.host_ip"),
            format!("'{}' is not an IP address", ct.host_ip),
        ));
    }
    Ok(())
}

fn addresses(key: &str, list: &[String], cx: &Ctx) -> Result<(), Error> {
    for (j, a) in list.iter().enumerate() {
        if !is_address(a) {
            return Err(cx.err(
                format!("{key}[{j}]"),
                format!("'{a}' is not an address (expected 0x and 40 hex digits)"),
            ));
        }
    }
    Ok(())
}

/// `accepted_payments`: token address -> minimum amount (uint256, decimal or 0x hex).
fn payments(ct: &ContainerConfig, at: &str, cx: &Ctx) -> Result<(), Error> {
    for (token, minimum) in &ct.accepted_payments {
        if !is_address(token) {
            return Err(cx.err(
                format!("{at}.accepted_payments"),
                format!("token '{token}' is not an address (expected 0x and 40 hex digits)"),
            ));
        }
        let m = minimum.trim();
        let ok = match m.strip_prefix("0x") {
            Some(h) => alloy::primitives::U256::from_str_radix(h, 16).is_ok(),
            None => alloy::primitives::U256::from_str_radix(m, 10).is_ok(),
        };
        if !ok {
            return Err(cx.err(
                format!("{at}.accepted_payments.{token}"),
                format!(
                    "'{minimum}' is not an amount (expected a uint256 in decimal, e.g. \"1000000000000000000\")"
                ),
            ));
        }
    }
    Ok(())
}

fn volumes(ct: &ContainerConfig, at: &str, cx: &Ctx) -> Result<(), Error> {
    for (j, v) in ct.volumes.iter().enumerate() {
        let parts: Vec<&str> = v.split(':').collect();
        let ok = (2..=3).contains(&parts.len()) && parts.iter().all(|p| !p.is_empty());
        if !ok {
            return Err(cx.err(
                format!("{at}.volumes[{j}]"),
                format!("'{v}' is not a volume (expected 'host_path:container_path[:ro|rw]')"),
            ));
        }
    }
    Ok(())
}

/// Ritual's rule: a duplicate host port is moved to the highest free port below 4000; an
/// error when none is left.
pub(super) fn reassign_ports(
    c: &mut Config,
    cx: &Ctx,
    warnings: &mut Vec<String>,
) -> Result<(), Error> {
    let mut used: HashSet<u16> = HashSet::new();
    let mut next: u16 = 3999;
    for i in 0..c.containers.len() {
        let port = c.containers[i].port;
        if used.insert(port) {
            continue;
        }
        while used.contains(&next) || c.containers.iter().any(|x| x.port == next) {
            next = match next.checked_sub(1).filter(|p| *p > 0) {
                Some(p) => p,
                None => {
                    return Err(cx.err(
                        format!("containers[{i}].port"),
                        format!("{port} is already used and no free port below 4000 is left"),
                    ));
                }
            };
        }
        warnings.push(cx.warning(&format!(
            "'containers[{i}].port' {port} is already used; container '{}' gets port {next}",
            c.containers[i].id
        )));
        c.containers[i].port = next;
        used.insert(next);
    }
    Ok(())
}

/// Registry credentials for image pulls: both or none.
pub(super) fn docker(d: Option<&DockerCredentialsConfig>, cx: &Ctx) -> Result<(), Error> {
    if let Some(d) = d
        && (d.username.is_empty() || d.password.is_empty())
    {
        return Err(cx.err(
            "docker",
            "needs both 'username' and 'password' (remove the 'docker' object for anonymous pulls)",
        ));
    }
    Ok(())
}
