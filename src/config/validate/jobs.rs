//! `jobs`: the timeouts every job runs under.
use super::Ctx;
use crate::config::{Error, JobsConfig};

pub(super) fn check(jobs: &JobsConfig, cx: &Ctx) -> Result<(), Error> {
    for (key, v) in [
        ("jobs.container_timeout", jobs.container_timeout),
        ("jobs.stream_idle_timeout", jobs.stream_idle_timeout),
        ("jobs.pending_ttl", jobs.pending_ttl),
    ] {
        cx.seconds(key, v)?;
    }
    Ok(())
}
