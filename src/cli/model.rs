//! `infernet model list|show|use|pull|remove` across backends.
use clap::{Args, Subcommand};
use futures::StreamExt;
use infernet::backend::{self, Backends, ChatBackend, ModelInfo};
use infernet::config::{self, Overrides, Source};
use infernet::system::{Memory, gb};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ModelArgs {
    #[command(subcommand)]
    pub command: ModelCommand,
    /// A configured backend id or a kind (else INFERNET_ENGINE_BACKEND, the first configured, or auto-detection)
    #[arg(long, global = true)]
    pub backend: Option<String>,
    /// Backend URL, overriding the configured or default one
    #[arg(long, global = true)]
    pub host: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Models the backend has, their size and whether they fit this machine
    #[command(visible_alias = "ls")]
    List {
        #[arg(long)]
        json: bool,
    },
    /// The backend, its address and the default model
    #[command(visible_alias = "current")]
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Make a model the backend's default (written to config.json)
    #[command(visible_alias = "set")]
    Use { name: String },
    /// Download a model (Ollama), with progress; refuses one that does not fit unless --force
    #[command(visible_alias = "add")]
    Pull {
        name: String,
        #[arg(long, short = 'f')]
        force: bool,
    },
    /// Delete a model from the backend
    #[command(visible_aliases = ["rm", "delete"])]
    Remove { name: String },
}

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(code)
}

pub fn run(flag: Option<&Path>, args: ModelArgs) -> ExitCode {
    let loaded = match config::load(flag, &Overrides::default()) {
        Ok(l) => l,
        Err(e) => return fail(2, e),
    };
    let config_path = match &loaded.source {
        Source::File(p) => p.clone(),
        Source::Defaults { .. } => {
            let env = |k: &str| std::env::var(k).ok();
            config::config_dir(&env)
                .unwrap_or_else(|| PathBuf::from("."))
                .join("config.json")
        }
    };
    let runtime = match super::runtime(Some(2)) {
        Ok(r) => r,
        Err(c) => return c,
    };
    runtime.block_on(async move {
        let env = |k: &str| std::env::var(k).ok();
        let http = reqwest::Client::new();
        // GGUF downloads need no backend.
        if let ModelCommand::Pull { name, .. } = &args.command
            && (name == "default" || name == backend::default_model::FILE)
        {
            let Some(src) = backend::default_model::Source::from_env(&env) else {
                return fail(
                    2,
                    "the built-in default model is off (INFERNET_DEFAULT_MODEL=off)",
                );
            };
            return match super::fetch_default_model(&src, false).await {
                Ok(p) => {
                    outln!("default model ready: {}", p.display());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(1, e),
            };
        }
        if let ModelCommand::Pull { name, force } = &args.command
            && let Some(spec) = backend::hf::parse_spec(name)
        {
            return pull_hf(&spec, *force, &env).await;
        }
        // With no config file a running server found by detection wins (as for `chat`).
        let named =
            args.backend.is_some() || env("INFERNET_ENGINE_BACKEND").is_some_and(|v| !v.is_empty());
        let configured = if matches!(loaded.source, Source::Defaults { .. }) && !named {
            &[][..]
        } else {
            &loaded.config.backends[..]
        };
        let backends = match Backends::from_config(configured, &env, http.clone()) {
            Ok(b) => b,
            Err(e) => return fail(2, e),
        };
        let resolved = backend::resolve_backend(
            args.backend.as_deref(),
            args.host.as_deref(),
            &backends,
            &env,
            http,
        )
        .await;
        let be = match resolved {
            Ok((b, _)) => b,
            Err(e) => return fail(1, e),
        };
        match args.command {
            ModelCommand::List { json } => list(be, json).await,
            ModelCommand::Show { json } => show(be, json).await,
            ModelCommand::Use { name } => use_model(be, &name, &config_path).await,
            ModelCommand::Pull { name, force } => pull(be, &name, force).await,
            ModelCommand::Remove { name } => remove(be, &name, &config_path).await,
        }
    })
}

async fn list(be: Arc<dyn ChatBackend>, json: bool) -> ExitCode {
    let models = match be.models().await {
        Ok(m) => m,
        Err(e) => return fail(1, e),
    };
    let mem = Memory::probe();
    let active = be.default_model().unwrap_or("");
    if json {
        let rows: Vec<serde_json::Value> = models
            .iter()
            .map(|m| serde_json::json!({"name": m.name, "size_bytes": m.size_bytes, "fits": mem.fits(m.size_bytes), "active": m.name == active}))
            .collect();
        let env = |k: &str| std::env::var(k).ok();
        let local: Vec<serde_json::Value> = backend::hf::local_ggufs(&backend::hf::models_dir(&env))
            .into_iter()
            .map(|(p, size)| serde_json::json!({"path": p, "size_bytes": size, "fits": mem.fits(Some(size))}))
            .collect();
        let v = serde_json::json!({"backend": be.id(), "kind": be.kind().name(), "url": be.url(),
            "fit_limit_bytes": mem.fit_limit_bytes(), "fit_rule": mem.rule(), "models": rows, "local_gguf": local});
        outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    outln!(
        "{} ({}) at {} — fits up to {} ({})",
        be.id(),
        be.kind().name(),
        be.url(),
        gb(mem.fit_limit_bytes()),
        mem.rule()
    );
    outln!("  {:<48} {:>10}  {:<5} ACTIVE", "NAME", "SIZE", "FITS");
    for ModelInfo { name, size_bytes } in &models {
        let size = size_bytes.map(gb).unwrap_or_else(|| "?".into());
        let fits = match mem.fits(*size_bytes) {
            Some(true) => "yes",
            Some(false) => "no",
            None => "?",
        };
        let mark = if name == active { "*" } else { "" };
        outln!("  {name:<48} {size:>10}  {fits:<5} {mark}");
    }
    if models.is_empty() {
        outln!("  (no models; `infernet model pull <name>` on Ollama)");
    }
    let env = |k: &str| std::env::var(k).ok();
    let dir = backend::hf::models_dir(&env);
    let local = backend::hf::local_ggufs(&dir);
    if !local.is_empty() {
        outln!("downloaded GGUF files ({}):", dir.display());
        for (p, size) in local {
            let fits = if mem.fits(Some(size)) == Some(true) {
                "yes"
            } else {
                "no"
            };
            outln!(
                "  {:<48} {:>10}  {fits}",
                p.strip_prefix(&dir).unwrap_or(&p).display(),
                gb(size)
            );
        }
    }
    ExitCode::SUCCESS
}

async fn show(be: Arc<dyn ChatBackend>, json: bool) -> ExitCode {
    let reachable = be.models().await.map_err(|e| e.to_string());
    let details = match be.default_model() {
        Some(m) if reachable.is_ok() => be.describe(m).await.ok().flatten(),
        _ => None,
    };
    if json {
        let v = serde_json::json!({"backend": be.id(), "kind": be.kind().name(), "url": be.url(),
            "model": be.default_model(), "reachable": reachable.is_ok(), "error": reachable.as_ref().err(),
            "details": details});
        outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    outln!("backend: {} ({})", be.id(), be.kind().name());
    outln!("host:    {}", be.url());
    outln!(
        "model:   {}",
        be.default_model()
            .unwrap_or("(none: the first model the server lists)")
    );
    match reachable {
        Ok(_) => outln!("status:  reachable"),
        Err(e) => outln!("status:  {e}"),
    }
    if let Some(d) = details {
        let f = |k: &str| d["details"][k].as_str().unwrap_or("?").to_string();
        outln!(
            "details: {} {} {}, {}",
            f("family"),
            f("parameter_size"),
            f("quantization_level"),
            if d["loaded"] == true {
                "loaded"
            } else {
                "not loaded"
            }
        );
    }
    ExitCode::SUCCESS
}

async fn use_model(be: Arc<dyn ChatBackend>, name: &str, path: &Path) -> ExitCode {
    match be.models().await {
        Ok(models) if models.iter().any(|m| m.name == name) => {}
        Ok(models) => {
            let have: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
            return fail(
                1,
                format!(
                    "{} at {} does not have '{name}' (it has: {}); pull it first with `infernet model pull {name}`",
                    be.id(),
                    be.url(),
                    have.join(", ")
                ),
            );
        }
        Err(e) => return fail(1, e),
    }
    match config::edit::set_backend_model(path, be.id(), be.kind().name(), be.url(), Some(name)) {
        Ok(()) => {
            outln!(
                "{}: default model is now '{name}' (written to {})",
                be.id(),
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(1, e),
    }
}

/// Pulls with a progress bar; refuses a model that does not fit unless `force`.
pub(super) async fn pull_model(
    be: Arc<dyn ChatBackend>,
    name: &str,
    force: bool,
) -> Result<(), String> {
    let mem = Memory::probe();
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:30} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut progress = be.pull(name);
    let mut checked = false;
    let mut last_status = String::new();
    while let Some(item) = progress.next().await {
        let p = match item {
            Ok(p) => p,
            Err(e) => {
                bar.abandon();
                return Err(e.to_string());
            }
        };
        if let (Some(total), false) = (p.total, checked) {
            // The first layer's size is the model's weights: check the fit before downloading.
            checked = true;
            if mem.fits(Some(total)) == Some(false) && !force {
                bar.abandon();
                return Err(format!(
                    "'{name}' needs {} and this machine fits models up to {} ({}); pass --force to pull it anyway",
                    gb(total),
                    gb(mem.fit_limit_bytes()),
                    mem.rule()
                ));
            }
        }
        if let (Some(total), Some(done)) = (p.total, p.completed) {
            bar.set_length(total);
            bar.set_position(done);
        }
        if p.status != last_status {
            if bar.is_hidden() {
                eprintln!("{}", p.status);
            }
            bar.set_message(p.status.clone());
            last_status = p.status;
        }
    }
    bar.finish_and_clear();
    if last_status != "success" {
        return Err(format!(
            "pull of '{name}' ended without success (last status: '{last_status}')"
        ));
    }
    Ok(())
}

async fn pull(be: Arc<dyn ChatBackend>, name: &str, force: bool) -> ExitCode {
    match pull_model(be, name, force).await {
        Ok(()) => {
            outln!("pulled {name}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(1, e),
    }
}

async fn pull_hf(
    spec: &backend::hf::HfSpec,
    force: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> ExitCode {
    let hub = backend::hf::Hub::new(env);
    let file = match hub.pick_file(spec).await {
        Ok(f) => f,
        Err(e) => return fail(1, e),
    };
    let dest = backend::hf::models_dir(env).join(&spec.repo).join(&file);
    if dest.exists() {
        outln!("already downloaded: {}", dest.display());
        return ExitCode::SUCCESS;
    }
    let mem = Memory::probe();
    if let Some(size) = hub.size(spec, &file).await
        && mem.fits(Some(size)) == Some(false)
        && !force
    {
        return fail(
            1,
            format!(
                "'{file}' needs {} and this machine fits models up to {} ({}); pass --force to pull it anyway",
                gb(size),
                gb(mem.fit_limit_bytes()),
                mem.rule()
            ),
        );
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(file.clone());
    let result = hub
        .download(spec, &file, &dest, |done, total| {
            if let Some(t) = total {
                bar.set_length(t);
            }
            bar.set_position(done);
        })
        .await;
    bar.finish_and_clear();
    match result {
        Ok(()) => {
            outln!("downloaded {}", dest.display());
            ExitCode::SUCCESS
        }
        Err(e) => fail(1, e),
    }
}

async fn remove(be: Arc<dyn ChatBackend>, name: &str, path: &Path) -> ExitCode {
    if let Err(e) = be.remove(name).await {
        return fail(1, e);
    }
    if be.default_model() == Some(name) && path.exists() {
        if let Err(e) =
            config::edit::set_backend_model(path, be.id(), be.kind().name(), be.url(), None)
        {
            return fail(1, e);
        }
        outln!(
            "cleared the default model of {} in {}",
            be.id(),
            path.display()
        );
    }
    outln!("removed {name}");
    ExitCode::SUCCESS
}
