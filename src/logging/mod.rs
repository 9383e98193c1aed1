//! Logging: human lines on stderr at the configured level, JSON lines at debug and up to
//! `log.path`, rotated by size.
mod ring;
mod rotate;

pub use ring::{LogRing, RingLine};
pub use rotate::RotatingFile;

use std::io::Write;
use tracing_subscriber::fmt::MakeWriter;

/// A writer whose every line loses the registered secrets (`config::scrub`) on its way out.
/// The fmt layers format one event into one buffer and write it at once, so a secret is never
/// split across two writes.
pub struct Scrubbed<M>(pub M);

pub struct ScrubWriter<W>(W);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Scrubbed<M> {
    type Writer = ScrubWriter<M::Writer>;
    fn make_writer(&'a self) -> Self::Writer {
        ScrubWriter(self.0.make_writer())
    }
}

impl<W: Write> Write for ScrubWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(s) => self
                .0
                .write_all(crate::config::scrub::scrub(s).as_bytes())?,
            Err(_) => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

use crate::config::LogConfig;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The configured level (`RUST_LOG` wins), for the console or the TUI's Logs panel.
fn level_filter(log: &LogConfig) -> Result<EnvFilter, String> {
    EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{},hyper=warn,bollard=warn", log.level)))
        .map_err(|e| format!("bad log level: {e}"))
}

/// JSON lines at debug and up to `log.path`, rotated by size (None when no path is set).
fn file_layer<S>(log: &LogConfig) -> Result<Option<impl Layer<S>>, String>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    if log.path.is_empty() {
        return Ok(None);
    }
    let file = RotatingFile::open(
        std::path::Path::new(&log.path),
        log.max_file_size,
        log.backup_count,
    )
    .map_err(|e| format!("cannot open log file '{}': {e}", log.path))?;
    let filter = EnvFilter::new("debug,hyper=info,bollard=info,h2=info,reqwest=info");
    Ok(Some(
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(Scrubbed(file))
            .with_filter(filter),
    ))
}

/// Installs the global subscriber. `RUST_LOG` overrides the console level.
pub fn init(log: &LogConfig, with_file: bool) -> Result<(), String> {
    let console = tracing_subscriber::fmt::layer()
        .with_writer(Scrubbed(std::io::stderr))
        .with_target(false)
        .with_filter(level_filter(log)?);
    let file = if with_file { file_layer(log)? } else { None };
    tracing_subscriber::registry()
        .with(console)
        .with(file)
        .try_init()
        .map_err(|e| format!("logging already initialised: {e}"))
}

/// Logging while the TUI owns the terminal: nothing on stderr; events go to `ring` (the Logs
/// panel) at the configured level and to `log.path` as JSON lines, as in `start`.
pub fn init_tui(log: &LogConfig, ring: &LogRing) -> Result<(), String> {
    tracing_subscriber::registry()
        .with(ring.layer().with_filter(level_filter(log)?))
        .with(file_layer(log)?)
        .try_init()
        .map_err(|e| format!("logging already initialised: {e}"))
}

/// Logging for the daemon: human lines on stderr (under systemd: the journal) or, when
/// detached, to `daemon_log` rotated like `log.path`; the ring feeds attached TUIs; JSON lines
/// to `log.path` as in `start`.
pub fn init_daemon(
    log: &LogConfig,
    daemon_log: Option<&std::path::Path>,
    ring: &LogRing,
) -> Result<(), String> {
    let console = match daemon_log {
        Some(p) => {
            let f = RotatingFile::open(p, log.max_file_size, log.backup_count)
                .map_err(|e| format!("cannot open '{}': {e}", p.display()))?;
            tracing_subscriber::fmt::layer()
                .with_writer(Scrubbed(f))
                .with_ansi(false)
                .with_target(false)
                .with_filter(level_filter(log)?)
                .boxed()
        }
        None => tracing_subscriber::fmt::layer()
            .with_writer(Scrubbed(std::io::stderr))
            .with_target(false)
            .with_filter(level_filter(log)?)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(console)
        .with(ring.layer().with_filter(level_filter(log)?))
        .with(file_layer(log)?)
        .try_init()
        .map_err(|e| format!("logging already initialised: {e}"))
}
