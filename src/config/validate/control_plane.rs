//! `control_plane`: where the node registers, and how often it talks to it.
use super::{Ctx, is_http_url};
use crate::config::{ControlPlaneConfig, Error, P2pConfig, TelemetryConfig};

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

/// `p2p`: addresses that parse as multiaddrs (bootstrap ones naming their peer), a price
/// and an interval that make sense. Checked only when enabled.
pub(super) fn check_p2p(p: &P2pConfig, cx: &Ctx) -> Result<(), Error> {
    if !p.enabled {
        return Ok(());
    }
    if p.listen.is_empty() {
        return Err(cx.err(
            "p2p.listen",
            "empty: give at least one multiaddr, e.g. /ip4/0.0.0.0/tcp/46337",
        ));
    }
    for (i, a) in p.listen.iter().enumerate() {
        if let Err(e) = a.parse::<libp2p::Multiaddr>() {
            return Err(cx.err(
                format!("p2p.listen[{i}]"),
                format!("'{a}' is not a multiaddr ({e}), e.g. /ip4/0.0.0.0/tcp/46337"),
            ));
        }
    }
    for (i, a) in p.bootstrap.iter().enumerate() {
        let ok = a
            .parse::<libp2p::Multiaddr>()
            .map_err(|e| e.to_string())
            .and_then(|m| match m.iter().last() {
                Some(libp2p::multiaddr::Protocol::P2p(_)) => Ok(()),
                _ => Err("it does not end in /p2p/<peer id>".to_string()),
            });
        if let Err(e) = ok {
            return Err(cx.err(
                format!("p2p.bootstrap[{i}]"),
                format!(
                    "'{a}' is not a peer address ({e}), e.g. /ip4/203.0.113.5/tcp/46337/p2p/16Uiu2…"
                ),
            ));
        }
    }
    if !(p.price_usd.is_finite() && p.price_usd >= 0.0) {
        return Err(cx.err(
            "p2p.price_usd",
            format!("expected USD >= 0, found '{}'", p.price_usd),
        ));
    }
    if !(p.max_price_usd.is_finite() && p.max_price_usd >= 0.0) {
        return Err(cx.err(
            "p2p.max_price_usd",
            format!("expected USD >= 0, found '{}'", p.max_price_usd),
        ));
    }
    cx.seconds("p2p.bid_window", p.bid_window)?;
    cx.seconds("p2p.stream_wait", p.stream_wait)?;
    cx.seconds("p2p.ad_interval", p.ad_interval)
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
