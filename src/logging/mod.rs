//! Logging: human lines on stderr at the configured level, JSON lines at debug and up to
//! `log.path`, rotated by size.
mod ring;
mod rotate;

pub use ring::{LogRing, RingLine};
pub use rotate::RotatingFile;

use crate::config::LogConfig;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Installs the global subscriber. `RUST_LOG` overrides the console level.
pub fn init(log: &LogConfig, with_file: bool) -> Result<(), String> {
    let console_filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{},hyper=warn,bollard=warn", log.level)))
        .map_err(|e| format!("bad log level: {e}"))?;
    let console = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_filter(console_filter);
    let file_layer = if with_file && !log.path.is_empty() {
        let file = RotatingFile::open(
            std::path::Path::new(&log.path),
            log.max_file_size,
            log.backup_count,
        )
        .map_err(|e| format!("cannot open log file '{}': {e}", log.path))?;
        let filter = EnvFilter::new("debug,hyper=info,bollard=info,h2=info,reqwest=info");
        Some(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(file)
                .with_filter(filter),
        )
    } else {
        None
    };
    tracing_subscriber::registry()
        .with(console)
        .with(file_layer)
        .try_init()
        .map_err(|e| format!("logging already initialised: {e}"))
}

/// Logging while the TUI owns the terminal: nothing on stderr; events go to `ring` (the Logs
/// panel) at the configured level and to `log.path` as JSON lines, as in `start`.
pub fn init_tui(log: &LogConfig, ring: &LogRing) -> Result<(), String> {
    let ring_filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{},hyper=warn,bollard=warn", log.level)))
        .map_err(|e| format!("bad log level: {e}"))?;
    let file_layer = if !log.path.is_empty() {
        let file = RotatingFile::open(
            std::path::Path::new(&log.path),
            log.max_file_size,
            log.backup_count,
        )
        .map_err(|e| format!("cannot open log file '{}': {e}", log.path))?;
        let filter = EnvFilter::new("debug,hyper=info,bollard=info,h2=info,reqwest=info");
        Some(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(file)
                .with_filter(filter),
        )
    } else {
        None
    };
    tracing_subscriber::registry()
        .with(ring.layer().with_filter(ring_filter))
        .with(file_layer)
        .try_init()
        .map_err(|e| format!("logging already initialised: {e}"))
}
