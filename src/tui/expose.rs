//! A node hosted by `infernet tui` is still the node of its config directory: it holds the pid
//! lock and serves the IPC socket, so `infernet status`, `stats`, `stop`, a second `infernet
//! tui` (attached) and `infernet start` (refused, naming it) all see it.
use infernet::daemon::Paths;
use infernet::daemon::lock::{LockError, PidLock};
use infernet::daemon::server::{Daemon, bind, supervise};
use infernet::store::now_ms;
use infernet::view::Host;
use infernet_ui::model as ui;
use std::sync::Arc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Held while the TUI hosts the node; dropping it releases the lock (the socket goes when
/// `shutdown` is cancelled).
pub struct Exposed {
    _lock: PidLock,
    pub shutdown: CancellationToken,
}

pub fn expose(host: Arc<Host>, model: watch::Sender<Arc<ui::Model>>) -> Result<Exposed, String> {
    let paths = Paths::from_env()?;
    paths.ensure_dir()?;
    let lock = PidLock::acquire(&paths.pid).map_err(|e| match e {
        LockError::Held { pid } => format!(
            "another node (pid {}) holds {}; `infernet status` does not see this one",
            pid.map(|p| p.to_string())
                .unwrap_or_else(|| "unknown".into()),
            paths.pid.display()
        ),
        e => e.to_string(),
    })?;
    let listener = bind(&paths.sock)?;
    let public_key =
        infernet::identity::node_key::load(&infernet::identity::Secrets::new(&paths.dir))
            .ok()
            .flatten()
            .map(|i| i.public_key);
    let shutdown = CancellationToken::new();
    let d = Arc::new(Daemon {
        host,
        paths,
        started_at_ms: now_ms(),
        shutdown: shutdown.clone(),
        model,
        public_key,
        log_file: None,
        managed_by: "infernet tui".into(),
    });
    supervise(d.host.handle.supervisor(), listener, d.clone());
    Ok(Exposed {
        _lock: lock,
        shutdown,
    })
}
