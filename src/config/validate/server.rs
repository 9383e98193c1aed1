//! `server`: the REST API's address, rate limit, size limits and timeouts.
use super::Ctx;
use crate::config::{Error, ServerConfig};
use std::net::IpAddr;

pub(super) fn check(s: &ServerConfig, cx: &Ctx) -> Result<(), Error> {
    rate_limit(s, cx)?;
    if s.bind.parse::<IpAddr>().is_err() {
        return Err(cx.err("server.bind", format!("'{}' is not an IP address", s.bind)));
    }
    cx.nets("server.trusted_proxies", &s.trusted_proxies)?;
    cx.nets("server.status_allowed_ips", &s.status_allowed_ips)?;
    sizes(s, cx)?;
    for (key, v) in [
        ("server.header_timeout_secs", s.header_timeout_secs),
        ("server.body_timeout_secs", s.body_timeout_secs),
    ] {
        if !(v.is_finite() && v > 0.0 && v <= 86_400.0) {
            return Err(cx.err(
                key,
                format!("expected seconds between 0 and 86400, found '{v}'"),
            ));
        }
    }
    Ok(())
}

fn rate_limit(s: &ServerConfig, cx: &Ctx) -> Result<(), Error> {
    if s.rate_limit.num_requests == 0 {
        return Err(cx.err(
            "server.rate_limit.num_requests",
            "expected an integer >= 1, found '0'",
        ));
    }
    cx.seconds("server.rate_limit.period", s.rate_limit.period)?;
    Ok(())
}

/// Request bodies, `GET /api/jobs` answers and connections at once.
fn sizes(s: &ServerConfig, cx: &Ctx) -> Result<(), Error> {
    if s.max_body_bytes < 1024 {
        return Err(cx.err(
            "server.max_body_bytes",
            format!("expected at least 1024, found '{}'", s.max_body_bytes),
        ));
    }
    if s.max_get_ids == 0 {
        return Err(cx.err("server.max_get_ids", "expected at least 1, found '0'"));
    }
    if s.max_get_bytes < 1024 {
        return Err(cx.err(
            "server.max_get_bytes",
            format!("expected at least 1024, found '{}'", s.max_get_bytes),
        ));
    }
    if s.max_connections == 0 {
        return Err(cx.err("server.max_connections", "expected at least 1, found '0'"));
    }
    Ok(())
}
