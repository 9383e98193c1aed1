//! Steps that look at the machine: hardware, Docker, the LLM backend and its model.
use super::{Cancelled, Ctx, Flow, env};
use infernet::backend::{self, BackendKind, ChatBackend};
use infernet::config::BackendConfig;
use infernet::setup::BackendChoice;
use infernet::system::gpu;
use infernet::system::{Memory, gb};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub(super) fn hardware(c: &mut Ctx<'_>) -> Flow {
    let report = gpu::probe();
    for line in gpu::render(&report).lines() {
        outln!("  {line}");
    }
    c.mem = Memory {
        ram_bytes: report.host.ram_total,
        vram_bytes: {
            let v: u64 = report.gpus.iter().filter_map(|g| g.vram_total).sum();
            (v > 0).then_some(v)
        },
    };
    Flow::Next
}

pub(super) async fn docker() -> Flow {
    let docker_ok = match bollard::Docker::connect_with_local_defaults() {
        Ok(d) => match tokio::time::timeout(Duration::from_secs(5), d.version()).await {
            Ok(Ok(v)) => {
                outln!("  Docker {} answers", v.version.unwrap_or_default());
                true
            }
            _ => false,
        },
        Err(_) => false,
    };
    if !docker_ok {
        outln!("  the Docker engine does not answer. Containers need it; LLM backends do not.");
        outln!(
            "  fix: sudo apt-get install docker.io && sudo systemctl start docker && sudo usermod -aG docker $USER (then log in again)"
        );
    }
    Flow::Next
}

fn configured(c: &Ctx<'_>) -> Option<BackendConfig> {
    c.existing
        .as_ref()
        .and_then(|c| c.backends.iter().find(|b| b.id == "llm").cloned())
}

/// Detects the backends on this machine and picks one (flag, else a question, else the
/// configured one or the first found).
pub(super) async fn choose(c: &mut Ctx<'_>) -> Result<Flow, Cancelled> {
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message("probing Ollama, vLLM, SGLang, llama.cpp, MAX…");
    spinner.enable_steady_tick(Duration::from_millis(100));
    let probes = backend::detect::detect(&c.http, &backend::detect::default_candidates(&env)).await;
    spinner.finish_and_clear();
    c.found = probes.into_iter().filter(|p| p.answered).collect();
    for p in &c.found {
        outln!("  found {} at {} ({})", p.kind.name(), p.url, p.detail);
    }
    if c.found.is_empty() {
        outln!("  no backend answers on this machine");
    }
    let configured = configured(c);
    c.chosen = match c.args.backend.as_deref() {
        Some("none") => None,
        Some(k) => {
            let Some(kind) = BackendKind::parse(k) else {
                eprintln!(
                    "error: --backend {k}: unknown kind (ollama, vllm, sglang, llamacpp, max, openai, embedded, none)"
                );
                return Ok(Flow::Stop(ExitCode::from(2)));
            };
            let url = c
                .args
                .backend_url
                .clone()
                .or_else(|| {
                    c.found
                        .iter()
                        .find(|p| p.kind == kind)
                        .map(|p| p.url.clone())
                })
                .unwrap_or_else(|| kind.default_url().to_string());
            Some((kind, url))
        }
        None => {
            let mut options = options(c, configured.as_ref());
            let default = if configured.is_some() || !c.found.is_empty() {
                0
            } else {
                options.len() - 1
            };
            let i = c.ask.select(
                "Which LLM backend should this node use?",
                options.iter().map(|o| o.0.clone()).collect(),
                default,
            )?;
            options.swap_remove(i).1
        }
    };
    if c.chosen.is_none() {
        c.needs.push(
            "--backend KIND [--backend-url URL] --model NAME: serve an LLM (none is configured)"
                .into(),
        );
    }
    Ok(Flow::Next)
}

type Choice = (String, Option<(BackendKind, String)>);

/// The menu: keep the configured backend, one found on this machine, embedded, or none.
fn options(c: &Ctx<'_>, configured: Option<&BackendConfig>) -> Vec<Choice> {
    let mut options: Vec<Choice> = Vec::new();
    if let Some(cf) = configured
        && let Some(k) = BackendKind::parse(&cf.kind)
    {
        let at = if cf.url.is_empty() {
            k.default_url()
        } else {
            &cf.url
        };
        options.push((
            format!("keep the configured {} at {at}", cf.kind),
            Some((k, cf.url.clone())),
        ));
    }
    for p in &c.found {
        if !options.iter().any(|(_, o)| {
            o.as_ref()
                .is_some_and(|(k, u)| *k == p.kind && (u == &p.url || u.is_empty()))
        }) {
            options.push((
                format!("{} at {}", p.kind.name(), p.url),
                Some((p.kind, p.url.clone())),
            ));
        }
    }
    if cfg!(feature = "embedded") {
        options.push((
            "embedded llama.cpp in this process (GGUF models from Hugging Face)".into(),
            Some((BackendKind::Embedded, String::new())),
        ));
    }
    options.push(("none (containers only)".into(), None));
    options
}

/// Picks the model by what fits this machine, pulls it where the backend can, and sets the
/// backend answer.
pub(super) async fn model(c: &mut Ctx<'_>) -> Result<Flow, Cancelled> {
    let Some((kind, url)) = c.chosen.clone() else {
        outln!("  no backend: skipped");
        return Ok(Flow::Next);
    };
    let configured = configured(c);
    let cfg = BackendConfig {
        id: "llm".into(),
        kind: kind.name().into(),
        url: url.clone(),
        model: String::new(),
        ..configured.clone().unwrap_or_default()
    };
    let be: Option<Arc<dyn ChatBackend>> = match backend::build_backend(&cfg, &env, c.http.clone())
    {
        Ok(b) => Some(b),
        Err(e) => {
            outln!("  cannot use this backend: {e}");
            None
        }
    };
    let present = match &be {
        Some(b) => match tokio::time::timeout(Duration::from_secs(10), b.models()).await {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => {
                outln!("  the backend does not list models: {e}");
                Vec::new()
            }
            Err(_) => {
                outln!("  the backend did not list its models within 10 s");
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    outln!(
        "  models fit up to {} on this machine ({})",
        gb(c.mem.fit_limit_bytes()),
        c.mem.rule()
    );
    let current_model = configured
        .as_ref()
        .map(|c| c.model.clone())
        .filter(|m| !m.is_empty());
    let options = super::fit::candidates(&present, kind, &c.mem);
    let model: Option<String> = match &c.args.model {
        Some(m) => Some(m.clone()),
        None if options.is_empty() => {
            if c.ask.interactive {
                let m = c.ask.text(
                    "Model name (empty: decide later):",
                    current_model.as_deref().unwrap_or(""),
                )?;
                (!m.is_empty()).then_some(m)
            } else {
                current_model.clone()
            }
        }
        None => {
            let default = super::fit::default_choice(&options, current_model.as_deref(), &c.mem);
            let i = c.ask.select(
                "Which model should it serve?",
                options.iter().map(|o| o.label.clone()).collect(),
                default,
            )?;
            options.get(i).map(|o| o.name.clone())
        }
    };
    if let (Some(m), Some(b)) = (&model, &be) {
        ensure_present(c, kind, b, m, present.iter().any(|p| &p.name == m)).await;
    }
    if model.is_none() {
        c.needs.push("--model NAME: no model chosen".into());
    }
    c.answers.backend = BackendChoice::Set {
        kind: kind.name().into(),
        // The embedded engine has no server to reach.
        url: if kind == BackendKind::Embedded {
            String::new()
        } else {
            url
        },
        model: model.unwrap_or_default(),
    };
    Ok(Flow::Next)
}

/// Pulls the model when the backend can (Ollama) and it is not there yet.
async fn ensure_present(
    c: &mut Ctx<'_>,
    kind: BackendKind,
    b: &Arc<dyn ChatBackend>,
    m: &str,
    is_present: bool,
) {
    if is_present {
        outln!("  {m} is present");
    } else if c.args.skip_pull {
        outln!("  {m} is not on the backend yet (--skip-pull): `infernet model pull {m}` later");
    } else if kind == BackendKind::Ollama {
        outln!("  pulling {m}…");
        match crate::cli::model::pull_model(b.clone(), m, false).await {
            Ok(()) => outln!("  pulled {m}"),
            Err(e) => {
                outln!("  pull failed: {e}");
                c.needs
                    .push(format!("--model NAME: '{m}' could not be pulled ({e})"));
            }
        }
    } else {
        outln!("  {m} is not listed by the backend; {}", kind.start_hint());
    }
}
