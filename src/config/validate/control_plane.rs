//! `control_plane`: where the node registers, and how often it talks to it.
use super::{Ctx, is_http_url};
use crate::config::{ControlPlaneConfig, Error};

pub(super) fn check(cp: &ControlPlaneConfig, cx: &Ctx) -> Result<(), Error> {
    if !cp.url.is_empty() && !is_http_url(cp.url.trim_end_matches('/')) {
        return Err(cx.err(
            "control_plane.url",
            format!("'{}' is not an http(s) URL", cp.url),
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
        if v.is_nan() || v <= 0.0 {
            return Err(cx.err(
                format!("control_plane.{k}"),
                format!("expected seconds > 0, found '{v}'"),
            ));
        }
    }
    if cp.poll_wait < 0.0 || cp.concurrency_cap == 0 {
        return Err(cx.err(
            "control_plane",
            "poll_wait must be >= 0 and concurrency_cap >= 1",
        ));
    }
    Ok(())
}
