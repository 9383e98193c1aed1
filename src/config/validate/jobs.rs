//! `jobs`: the timeouts every job runs under.
use super::Ctx;
use crate::config::{Error, JobsConfig};

pub(super) fn check(jobs: &JobsConfig, cx: &Ctx) -> Result<(), Error> {
    for (key, v) in [
        ("jobs.container_timeout", jobs.container_timeout),
        ("jobs.stream_idle_timeout", jobs.stream_idle_timeout),
        ("jobs.pending_ttl", jobs.pending_ttl),
    ] {
        if v <= 0.0 {
            return Err(cx.err(key, format!("expected seconds > 0, found '{v}'")));
        }
    }
    Ok(())
}
