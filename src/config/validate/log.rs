//! `log`: file rotation size and the console level (a level name or an `EnvFilter` directive).
use super::Ctx;
use crate::config::{Error, LogConfig};

pub(super) fn check(log: &LogConfig, cx: &Ctx) -> Result<(), Error> {
    if log.max_file_size == 0 {
        return Err(cx.err("log.max_file_size", "expected bytes > 0, found '0'"));
    }
    let level_ok = matches!(
        log.level.to_ascii_lowercase().as_str(),
        "trace" | "debug" | "info" | "warn" | "error" | "off"
    ) || ((log.level.contains('=') || log.level.contains(','))
        && tracing_subscriber::EnvFilter::try_new(&log.level).is_ok());
    if !level_ok {
        return Err(cx.err(
            "log.level",
            format!(
                "'{}' is not a level (trace, debug, info, warn, error)",
                log.level
            ),
        ));
    }
    Ok(())
}
