//! `infernet debug`: one Markdown document to attach to a bug report — versions, machine,
//! effective config (secrets redacted), daemon status, recent log lines, backends, doctor.
//! Every stored secret's value is scrubbed from the whole text as a last line of defence.
use super::doctor::{self, Check};
use crate::config::{self, Overrides};
use crate::daemon::{Paths, ipc, logs};
use crate::identity::Secrets;
use crate::identity::node_key::{CHAIN_KEY, NODE_IDENTITY};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Options {
    pub log_lines: usize,
}

fn fence(lang: &str, body: &str) -> String {
    format!("```{lang}\n{}\n```\n", body.trim_end())
}

/// The values to scrub: stored secrets and secrets written in the config.
fn secret_values(paths: Option<&Paths>, cfg: Option<&config::Config>) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(p) = paths {
        let s = Secrets::new(&p.dir);
        for name in [NODE_IDENTITY, CHAIN_KEY] {
            if let Ok(Some((x, _))) = s.get(name) {
                v.push(x.expose().to_string());
            }
        }
        for name in s.file_names().unwrap_or_default() {
            if let Ok(Some((x, _))) = s.get(&name) {
                v.push(x.expose().to_string());
            }
        }
    }
    if let Some(c) = cfg {
        if let Some(k) = &c.chain.wallet.private_key {
            v.push(k.expose().to_string());
        }
        for b in &c.backends {
            v.push(b.api_key.expose().to_string());
        }
        for ct in &c.containers {
            v.push(ct.bearer.expose().to_string());
        }
    }
    // Keys appear with and without 0x.
    let mut all = Vec::new();
    for s in v.into_iter().filter(|s| s.len() >= 8) {
        if let Some(bare) = s.strip_prefix("0x") {
            all.push(bare.to_string());
        }
        all.push(s);
    }
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    all.dedup();
    all
}

pub async fn build(flag: Option<&Path>, opts: &Options) -> String {
    let mut md = String::new();
    md.push_str("# infernet debug bundle\n\n");
    md.push_str(&format!(
        "- version: {} ({})\n- generated: {} ms since the epoch\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        crate::store::now_ms()
    ));
    let gpu = crate::system::gpu::probe();
    md.push_str("\n## Machine\n\n");
    md.push_str(&fence("", &crate::system::gpu::render(&gpu)));
    let loaded = config::load(flag, &Overrides::default());
    md.push_str("\n## Config\n\n");
    let cfg = match &loaded {
        Ok(l) => {
            md.push_str(&format!("source: {}\n\n", l.source));
            for w in &l.warnings {
                md.push_str(&format!("- warning: {w}\n"));
            }
            let redacted = config::redacted(&l.config);
            md.push_str(&fence(
                "json",
                &serde_json::to_string_pretty(&redacted).unwrap_or_default(),
            ));
            Some(l.config.clone())
        }
        Err(e) => {
            md.push_str(&format!("error: {e}\n"));
            None
        }
    };
    let paths = Paths::from_env().ok();
    md.push_str("\n## Secrets (names and where they live; never values)\n\n");
    if let Some(p) = &paths {
        let s = Secrets::new(&p.dir);
        for name in [NODE_IDENTITY, CHAIN_KEY] {
            let line = match s.get(name) {
                Ok(Some((_, loc))) => format!("- {name}: stored in {loc}\n"),
                Ok(None) => format!("- {name}: not stored\n"),
                Err(e) => format!("- {name}: {e}\n"),
            };
            md.push_str(&line);
        }
    }
    md.push_str("\n## Daemon\n\n");
    let status = match &paths {
        Some(p) if p.sock.exists() => {
            ipc::call(&p.sock, "status", Value::Null, Duration::from_secs(3))
                .await
                .map_err(|e| e.to_string())
        }
        _ => Err("not running".into()),
    };
    match status {
        Ok(s) => md.push_str(&fence(
            "json",
            &serde_json::to_string_pretty(&s).unwrap_or_default(),
        )),
        Err(e) => md.push_str(&format!("{e}\n")),
    }
    if let Some(p) = &paths {
        let lines = logs::tail(&p.log, opts.log_lines);
        md.push_str(&format!(
            "\n## Last {} log lines ({})\n\n",
            lines.len(),
            p.log.display()
        ));
        md.push_str(&fence("", &lines.join("\n")));
    }
    md.push_str("\n## Doctor\n\n");
    let checks: Vec<Check> = doctor::run(flag, &doctor::Options { skip_e2e: true }).await;
    for c in &checks {
        md.push_str(&format!(
            "- **{}** {}: {}{}\n",
            serde_json::to_value(c.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            c.name,
            c.detail,
            c.fix
                .as_ref()
                .map(|f| format!(" — fix: {f}"))
                .unwrap_or_default()
        ));
    }
    for s in secret_values(paths.as_ref(), cfg.as_ref()) {
        md = md.replace(&s, "[redacted]");
    }
    // URL credentials (RPC passwords and path keys) and env-held keys, as everywhere else.
    config::scrub::scrub(&md).into_owned()
}
