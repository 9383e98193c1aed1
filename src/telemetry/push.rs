//! The opt-in push: every `telemetry.push_interval` seconds the `/metrics` text is POSTed to
//! `telemetry.push_url` (a Prometheus Pushgateway takes it as is). A failed push is logged
//! once per change of outcome and retried at the next interval: losing a sample is fine,
//! flooding the log is not.
use super::node::NodeMetrics;
use crate::config::TelemetryConfig;
use crate::supervise::{Backoff, Never, Supervisor};
use std::time::Duration;

pub fn spawn(sup: &Supervisor, cfg: &TelemetryConfig, metrics: NodeMetrics) {
    if cfg.push_url.is_empty() {
        return;
    }
    let url = cfg.push_url.clone();
    let every = Duration::from_secs_f64(cfg.push_interval.max(0.1));
    sup.restart::<_, _, Never>("telemetry-push", Backoff::default(), move |cancel| {
        let (url, metrics) = (url.clone(), metrics.clone());
        async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default();
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = cancel.cancelled() => return Ok(()),
                }
                let r = http
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, super::prom::CONTENT_TYPE)
                    .body(metrics.render())
                    .send()
                    .await
                    .and_then(|r| r.error_for_status());
                match r {
                    Ok(_) if failing => {
                        failing = false;
                        tracing::info!(url = %crate::config::scrub::scrub(&url), "metrics push works again");
                    }
                    Ok(_) => {}
                    Err(e) if !failing => {
                        failing = true;
                        let e = crate::config::scrub::scrub(&e.to_string()).into_owned();
                        tracing::warn!(url = %crate::config::scrub::scrub(&url), error = %e, "metrics push failed; retrying every interval");
                    }
                    Err(_) => {}
                }
            }
        }
    });
}
