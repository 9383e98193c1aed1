//! The last steps: firewall advice, the node identity (and registration with the control
//! plane), and starting or restarting the background node.
use super::{Ctx, Flow};
use crate::cli::node::{StartArgs, start_background};
use infernet::config;
use infernet::daemon::{Paths, ipc};
use infernet::identity::{Secrets, node_key};
use serde_json::Value;
use std::process::ExitCode;
use std::time::Duration;

pub(super) fn firewall(c: &mut Ctx<'_>) -> Flow {
    let port = c
        .args
        .port
        .or_else(|| {
            c.current
                .pointer("/server/port")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
        })
        .unwrap_or(4000);
    if c.args.no_firewall {
        outln!("  skipped (--no-firewall)");
        return Flow::Next;
    }
    let fw = &crate::cli::firewall_cmd::TOOLS;
    let detected: Vec<&str> = fw
        .iter()
        .filter(|(_, b)| crate::cli::firewall_cmd::on_path(b))
        .map(|(n, _)| *n)
        .collect();
    outln!("  to reach the REST API from other machines, open TCP {port}:");
    for (tool, lines) in crate::cli::firewall_cmd::commands(port, None) {
        if detected.is_empty() || detected.contains(&tool) {
            for l in lines {
                outln!("    {l}    # {tool}");
            }
        }
    }
    outln!("  (printed, not run; `infernet firewall --from CIDR` allows one network only)");
    Flow::Next
}

pub(super) async fn identity(c: &mut Ctx<'_>) -> Flow {
    let secrets = Secrets::new(&c.secrets_dir);
    if c.args.skip_identity {
        outln!("  skipped (--skip-identity)");
    } else {
        match infernet::setup::ensure_identity(&secrets) {
            Ok(line) => outln!("  {line}"),
            Err(e) => {
                eprintln!("error: {e}");
                return Flow::Stop(ExitCode::FAILURE);
            }
        }
    }
    register(c, &secrets).await;
    Flow::Next
}

/// Registers with the control plane when one is configured: always, since specs and served
/// models change. A failure is a warning; the node retries on its own.
async fn register(c: &Ctx<'_>, secrets: &Secrets) {
    let cp = config::load(Some(c.path), &Default::default())
        .map(|l| l.config)
        .ok()
        .filter(|c| !c.control_plane.url.is_empty());
    let Some(cfg) = cp else {
        outln!("  control plane: none (`--control-plane URL` joins one)");
        return;
    };
    if c.args.skip_identity && node_key::load(secrets).ok().flatten().is_none() {
        outln!(
            "  control plane {}: needs the node identity (run without --skip-identity)",
            cfg.control_plane.url
        );
        return;
    }
    let env = |k: &str| std::env::var(k).ok();
    let backends =
        infernet::backend::Backends::from_config(&cfg.backends, &env, reqwest::Client::new())
            .unwrap_or_default();
    let name = if cfg.ui.node_name.is_empty() {
        sysinfo::System::host_name().unwrap_or_else(|| "infernet".into())
    } else {
        cfg.ui.node_name.clone()
    };
    let r = match infernet::control::client::NodeKey::load(&c.secrets_dir) {
        Ok(k) => infernet::control::agent::register_once(&cfg.control_plane, k, backends, &name)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    match r {
        Ok(reg) => outln!(
            "  registered with {} as {} ({} model(s) advertised)",
            cfg.control_plane.url,
            reg.row["node_id"].as_str().unwrap_or("?"),
            reg.stored().len()
        ),
        Err(e) => outln!(
            "  warning: could not register with {} yet: {e} (the node retries on its own)",
            cfg.control_plane.url
        ),
    }
}

pub(super) async fn daemon(c: &mut Ctx<'_>) -> Flow {
    if c.args.skip_daemon {
        outln!("  skipped (--skip-daemon); start it with `infernet start`");
        return Flow::Next;
    }
    let Ok(paths) = Paths::from_env() else {
        eprintln!("error: cannot find the config directory");
        return Flow::Stop(ExitCode::FAILURE);
    };
    let start = StartArgs {
        foreground: false,
        port: None,
        bind: None,
        store: None,
        log_file: None,
        wait: 60,
        detached: false,
    };
    if ipc::alive(&paths.sock).await {
        outln!("  restarting the running node to load the new config");
        let _ = ipc::call(&paths.sock, "shutdown", Value::Null, Duration::from_secs(5)).await;
        let until = std::time::Instant::now() + Duration::from_secs(90);
        while infernet::daemon::lock::inspect(&paths.pid)
            != infernet::daemon::lock::PidState::Absent
            && std::time::Instant::now() < until
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let code = start_background(c.flag.or(Some(c.path)), &start, &paths).await;
    if code != ExitCode::SUCCESS {
        return Flow::Stop(code);
    }
    Flow::Next
}
