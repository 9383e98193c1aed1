//! `control_plane`: where the node registers, and how often it talks to it.
use super::{Ctx, is_http_url};
use crate::config::{ControlPlaneConfig, Error, TelemetryConfig};

/// `telemetry`: the push target, when one is named.
pub(super) fn check_telemetry(t: &TelemetryConfig, cx: &Ctx) -> Result<(), Error> {
    if !t.push_url.is_empty() && !is_http_url(&t.push_url) {
        return Err(cx.err(
            "telemetry.push_url",
            format!("'{}' is not an http(s) URL", t.push_url),
        ));
    }
    cx.seconds("telemetry.push_interval", t.push_interval)
}

pub(super) fn check(cp: &ControlPlaneConfig, cx: &Ctx) -> Result<(), Error> {
    if !cp.url.is_empty() && !is_http_url(cp.url.trim_end_matches('/')) {
        return Err(cx.err(
            "control_plane.url",
            format!("'{}' is not an http(s) URL", cp.url),
        ));
    }
    for (i, u) in cp.urls.iter().enumerate() {
        if !is_http_url(u.trim().trim_end_matches('/')) {
            return Err(cx.err(
                format!("control_plane.urls[{i}]"),
                format!("'{u}' is not an http(s) URL"),
            ));
        }
    }
    if cp.url.is_empty() && !cp.urls.is_empty() {
        return Err(cx.err(
            "control_plane.url",
            "empty while control_plane.urls lists replicas: put the first one in url",
        ));
    }
    if !matches!(cp.role.as_str(), "provider" | "aggregator" | "client") {
        return Err(cx.err(
            "control_plane.role",
            format!("'{}' is not one of provider, aggregator, client", cp.role),
        ));
    }
    for (k, v) in [
        ("heartbeat_interval", cp.heartbeat_interval),
        ("poll_interval", cp.poll_interval),
        ("command_interval", cp.command_interval),
    ] {
        cx.seconds(format!("control_plane.{k}"), v)?;
    }
    // 0 is allowed: the node asks without waiting (a server that does not long-poll).
    if !(cp.poll_wait.is_finite() && cp.poll_wait >= 0.0) {
        return Err(cx.err(
            "control_plane.poll_wait",
            format!("expected seconds >= 0, found '{}'", cp.poll_wait),
        ));
    }
    if cp.concurrency_cap == 0 {
        return Err(cx.err(
            "control_plane.concurrency_cap",
            "expected an integer >= 1, found '0'",
        ));
    }
    if let Some(p) = cp.price
        && !(p.is_finite() && p >= 0.0)
    {
        return Err(cx.err(
            "control_plane.price",
            format!("expected USD per 1k tokens >= 0, found '{p}'"),
        ));
    }
    Ok(())
}
