//! Semantic checks after parsing: each failure names the key, the value and what is expected.
//! One function per config section, run in a fixed order; the first failure is the one reported.
mod backends;
mod chain;
mod containers;
mod control_plane;
mod jobs;
mod log;
mod server;

use super::{Config, Error};
use ipnet::IpNet;
use std::collections::HashMap;
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

/// The file being checked: every error and warning names it.
struct Ctx<'a> {
    path: &'a Path,
    file: String,
}

impl Ctx<'_> {
    fn err(&self, key: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Key {
            path: self.path.to_path_buf(),
            key: key.into(),
            message: message.into(),
        }
    }

    /// A duration in seconds: finite and > 0 (NaN and infinity would panic at `Duration`).
    fn seconds(&self, key: impl Into<String>, v: f64) -> Result<(), Error> {
        if v.is_finite() && v > 0.0 {
            return Ok(());
        }
        Err(self.err(key, format!("expected seconds > 0, found '{v}'")))
    }

    fn warning(&self, text: &str) -> String {
        format!("config file '{}': {text}", self.file)
    }

    /// Each entry of `list` (at `key[j]`) must be an IP or a CIDR network.
    fn nets(&self, key: &str, list: &[String]) -> Result<(), Error> {
        for (j, ip) in list.iter().enumerate() {
            if parse_net(ip).is_none() {
                return Err(self.err(
                    format!("{key}[{j}]"),
                    format!("'{ip}' is not an IP address or CIDR network"),
                ));
            }
        }
        Ok(())
    }
}

/// Where each id was declared: containers and backends share one namespace.
type Ids = HashMap<String, String>;

/// Validates in place (fills in reassigned ports) and returns warnings.
pub fn validate(c: &mut Config, path: &Path) -> Result<Vec<String>, Error> {
    let cx = Ctx {
        path,
        file: path.display().to_string(),
    };
    let mut warnings = Vec::new();
    let mut ids = Ids::new();
    containers::check(c, &cx, &mut ids, &mut warnings)?;
    containers::reassign_ports(c, &cx, &mut warnings)?;
    backends::check(&c.backends, &cx, &mut ids)?;
    control_plane::check(&c.control_plane, &cx)?;
    control_plane::check_telemetry(&c.telemetry, &cx)?;
    control_plane::check_p2p(&c.p2p, &cx)?;
    containers::docker(c.docker.as_ref(), &cx)?;
    chain::check(&c.chain, &cx)?;
    server::check(&c.server, &cx)?;
    log::check(&c.log, &cx)?;
    jobs::check(&c.jobs, &cx)?;
    Ok(warnings)
}

#[cfg(test)]
mod tests;
