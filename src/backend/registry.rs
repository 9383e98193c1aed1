//! Backends from config (`backends` section) and the environment, and picking one for a chat.
use super::detect::{self, Probe};
use super::{BackendKind, ChatBackend, OllamaBackend, OpenAiBackend, normalise_url};
use crate::config::{BackendConfig, Secret};
use std::sync::Arc;

/// Builds a backend: URL from config, else the kind's host variable, else its default port;
/// API key from config, else `api_key_env`, else the kind's key variable; model likewise.
pub fn build_backend(
    cfg: &BackendConfig,
    env: &dyn Fn(&str) -> Option<String>,
    http: reqwest::Client,
) -> Result<Arc<dyn ChatBackend>, String> {
    let kind = BackendKind::parse(&cfg.kind)
        .ok_or_else(|| format!("unknown backend kind '{}'", cfg.kind))?;
    let (host_var, key_var, model_var) = kind.env_vars();
    let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let url = if matches!(kind, BackendKind::Engine | BackendKind::Embedded) {
        String::new()
    } else if cfg.url.is_empty() {
        nonempty(env(host_var))
            .map(|u| normalise_url(&u))
            .unwrap_or_else(|| kind.default_url().to_string())
    } else {
        normalise_url(&cfg.url)
    };
    let key = if !cfg.api_key.is_empty() {
        Some(cfg.api_key.clone())
    } else if !cfg.api_key_secret.is_empty() {
        let dir = crate::config::config_dir(env).unwrap_or_else(|| std::path::PathBuf::from("."));
        match crate::identity::Secrets::new(&dir).get(&cfg.api_key_secret) {
            Ok(Some((v, _))) => Some(v),
            Ok(None) => {
                return Err(format!(
                    "backend '{}': secret '{}' is not stored; store it with `infernet secret set {}`",
                    cfg.id, cfg.api_key_secret, cfg.api_key_secret
                ));
            }
            Err(e) => return Err(format!("backend '{}': {e}", cfg.id)),
        }
    } else {
        let var = (!cfg.api_key_env.is_empty())
            .then_some(cfg.api_key_env.as_str())
            .or(key_var);
        nonempty(var.and_then(env)).map(Secret::new)
    };
    let model = nonempty(Some(cfg.model.clone())).or_else(|| nonempty(model_var.and_then(env)));
    Ok(match kind {
        BackendKind::Stub => Arc::new(super::stub::StubBackend),
        #[cfg(feature = "embedded")]
        BackendKind::Embedded => {
            let threads = cfg
                .num_thread
                .or_else(|| env("INFERNET_EMBEDDED_THREADS").and_then(|v| v.parse().ok()));
            Arc::new(super::embedded::EmbeddedBackend::new(
                &cfg.id,
                model,
                super::hf::models_dir(env),
                threads,
                super::default_model::Source::from_env(env),
            ))
        }
        #[cfg(not(feature = "embedded"))]
        BackendKind::Embedded => {
            return Err(
                "this infernet was built without the embedded engine (cargo feature 'embedded')"
                    .into(),
            );
        }
        BackendKind::Engine => {
            // `command` (or `url`, or INFERNET_ENGINE_BIN), else `infernet-engine` on PATH.
            let cmd = [cfg.command.clone(), cfg.url.clone()]
                .into_iter()
                .find(|c| !c.trim().is_empty())
                .or_else(|| nonempty(env("INFERNET_ENGINE_BIN")))
                .unwrap_or_else(|| "infernet-engine".to_string());
            let program = crate::compute::docker::split_command(&cmd);
            Arc::new(super::stdio::StdioBackend::new(&cfg.id, program, model))
        }
        BackendKind::Remote => Arc::new(super::remote::RemoteBackend::new(
            &cfg.id, &url, model, http,
        )),
        BackendKind::Ollama => {
            let threads = cfg
                .num_thread
                .or_else(|| env("OLLAMA_NUM_THREAD").and_then(|v| v.parse().ok()));
            Arc::new(OllamaBackend::new(&cfg.id, &url, model, threads, http))
        }
        _ => Arc::new(OpenAiBackend::new(&cfg.id, kind, &url, key, model, http)),
    })
}

/// The configured backends, by id.
#[derive(Debug, Clone, Default)]
pub struct Backends {
    list: Vec<Arc<dyn ChatBackend>>,
}

impl Backends {
    pub fn from_config(
        cfgs: &[BackendConfig],
        env: &dyn Fn(&str) -> Option<String>,
        http: reqwest::Client,
    ) -> Result<Self, String> {
        // Metered: the TUI's history counts each backend's tokens.
        let list = cfgs
            .iter()
            .map(|c| {
                build_backend(c, env, http.clone())
                    .map(|b| Arc::new(super::meter::Metered(b)) as Arc<dyn ChatBackend>)
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { list })
    }

    pub fn get(&self, id: &str) -> Option<Arc<dyn ChatBackend>> {
        self.list.iter().find(|b| b.id() == id).cloned()
    }

    pub fn all(&self) -> &[Arc<dyn ChatBackend>] {
        &self.list
    }

    /// These plus one more (e.g. the control plane, for chat only).
    pub fn with(&self, extra: Arc<dyn ChatBackend>) -> Self {
        let mut list = self.list.clone();
        list.push(extra);
        Self { list }
    }
}

/// Picks the backend for a chat: `--backend` (a configured id or a kind), else
/// `INFERNET_ENGINE_BACKEND`, else the first configured one, else auto-detection.
/// `host` overrides the URL. Returns the probes when detection ran.
pub async fn resolve_backend(
    flag: Option<&str>,
    host: Option<&str>,
    backends: &Backends,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    http: reqwest::Client,
) -> Result<(Arc<dyn ChatBackend>, Vec<Probe>), String> {
    let name = flag
        .map(str::to_string)
        .or_else(|| env("INFERNET_ENGINE_BACKEND").filter(|v| !v.is_empty()));
    let adhoc = |kind: &str, url: &str| {
        let cfg = BackendConfig {
            id: kind.to_string(),
            kind: kind.to_string(),
            url: url.to_string(),
            ..Default::default()
        };
        build_backend(&cfg, env, http.clone())
    };
    if let Some(name) = name {
        if let Some(b) = backends.get(&name) {
            return match host {
                Some(h) => {
                    let cfg = BackendConfig {
                        id: b.id().to_string(),
                        kind: b.kind().name().to_string(),
                        url: h.to_string(),
                        model: b.default_model().unwrap_or_default().to_string(),
                        ..Default::default()
                    };
                    Ok((build_backend(&cfg, env, http)?, Vec::new()))
                }
                None => Ok((b, Vec::new())),
            };
        }
        if BackendKind::parse(&name).is_some() {
            return Ok((adhoc(&name, host.unwrap_or(""))?, Vec::new()));
        }
        let ids: Vec<&str> = backends.all().iter().map(|b| b.id()).collect();
        let kinds: Vec<&str> = BackendKind::ALL.iter().map(|k| k.name()).collect();
        return Err(format!(
            "unknown backend '{name}': configured backends are [{}]; kinds are {}",
            ids.join(", "),
            kinds.join(", ")
        ));
    }
    if let Some(first) = backends.all().first() {
        return Ok((first.clone(), Vec::new()));
    }
    if env("INFERNET_ENGINE_BIN").is_some_and(|v| !v.trim().is_empty()) {
        return Ok((adhoc("engine", "")?, Vec::new()));
    }
    let candidates = detect::default_candidates(env);
    let probes = detect::detect(&http, &candidates).await;
    let found = [
        BackendKind::Vllm,
        BackendKind::Llamacpp,
        BackendKind::Ollama,
        BackendKind::Sglang,
        BackendKind::Max,
    ]
    .iter()
    .find_map(|k| probes.iter().find(|p| p.answered && p.kind == *k));
    match found {
        Some(p) => {
            let b = adhoc(p.kind.name(), host.unwrap_or(&p.url))?;
            Ok((b, probes))
        }
        // No server anywhere: the embedded engine needs none, only a GGUF: the built-in
        // default model when it is on disk, else a downloaded one, else the default model
        // fetched on first use (unless INFERNET_DEFAULT_MODEL=off).
        None if cfg!(feature = "embedded") => {
            let default = super::default_model::Source::from_env(env);
            let local = !super::hf::local_ggufs(&super::hf::models_dir(env)).is_empty();
            match default {
                Some(src) if src.present() || !local => {
                    let cfg = super::default_model::backend_config();
                    Ok((build_backend(&cfg, env, http.clone())?, probes))
                }
                _ if local => Ok((adhoc("embedded", "")?, probes)),
                _ => Err(no_backend(&probes)),
            }
        }
        None => Err(no_backend(&probes)),
    }
}

fn no_backend(probes: &[Probe]) -> String {
    let lines: Vec<String> = probes
        .iter()
        .map(|p| format!("  {} at {}: {}", p.kind.name(), p.url, p.detail))
        .collect();
    format!(
        "no LLM backend found; probed:\n{}\nstart one (e.g. `llama-server -m model.gguf`, `ollama serve`) or configure 'backends' in config.json",
        lines.join("\n")
    )
}
