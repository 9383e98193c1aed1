//! `infernet backends`: the configured backends and every known endpoint, probed at once.
use clap::Args;
use infernet::backend::detect::{self, Probe};
use infernet::config::{self, Overrides};
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct BackendsArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(flag: Option<&Path>, args: BackendsArgs) -> ExitCode {
    let loaded = match config::load(flag, &Overrides::default()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let env = |k: &str| std::env::var(k).ok();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let http = reqwest::Client::new();
    let backends =
        match infernet::backend::Backends::from_config(&loaded.config.backends, &env, http.clone())
        {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
    let mut candidates: Vec<_> = backends
        .all()
        .iter()
        .map(|b| (b.kind(), b.url().to_string()))
        .collect();
    for c in detect::default_candidates(&env) {
        if !candidates.iter().any(|(_, u)| *u == c.1) {
            candidates.push(c);
        }
    }
    let probes: Vec<Probe> = runtime.block_on(detect::detect(&http, &candidates));
    let configured: Vec<serde_json::Value> = backends
        .all()
        .iter()
        .map(|b| {
            let p = probes.iter().find(|p| p.url == b.url());
            serde_json::json!({"id": b.id(), "kind": b.kind().name(), "url": b.url(), "model": b.default_model(),
                "answered": p.is_some_and(|p| p.answered), "detail": p.map(|p| p.detail.clone())})
        })
        .collect();
    if args.json {
        let v = serde_json::json!({"configured": configured, "probes": probes});
        outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    if configured.is_empty() {
        outln!("configured: none (add a 'backends' section to config.json)");
    } else {
        outln!("configured:");
        for c in &configured {
            outln!(
                "  {:<12} {:<9} {:<28} {}",
                c["id"].as_str().unwrap_or(""),
                c["kind"].as_str().unwrap_or(""),
                c["url"].as_str().unwrap_or(""),
                if c["answered"] == true { "up" } else { "down" }
            );
        }
    }
    outln!("probed:");
    for p in &probes {
        let state = if p.answered { "up  " } else { "down" };
        outln!("  {state} {:<9} {:<28} {}", p.kind.name(), p.url, p.detail);
    }
    ExitCode::SUCCESS
}
