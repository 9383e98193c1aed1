//! The embedded engine: GGUF models run in-process through llama.cpp (`llama-cpp-2`). Each
//! model is loaded once and served by a few worker threads ("slots"), never on the async
//! workers. Each slot keeps its context and the tokens in its KV cache, so the next turn of a
//! conversation only evaluates what changed. The chat template and tokenizer come from the GGUF.
use super::openai::done;
use super::{
    BackendError, BackendKind, ChatBackend, ChatEvent, ChatRequest, DoneReason, ModelInfo, Usage,
    now_rfc3339,
};
use futures::stream::BoxStream;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const DEFAULT_MAX_TOKENS: u32 = 512;
const CONTEXT: u32 = 4096;
/// Concurrent generations per model.
const SLOTS: usize = 2;

/// llama.cpp's global state: initialised once per process.
fn llama() -> Result<&'static LlamaBackend, String> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let mut b =
                LlamaBackend::init().map_err(|e| format!("cannot initialise llama.cpp: {e}"))?;
            b.void_logs(); // its stderr chatter would break the TUI; errors come back as values
            Ok(b)
        })
        .as_ref()
        .map_err(Clone::clone)
}

struct Loaded {
    model: LlamaModel,
    template: Option<LlamaChatTemplate>,
}

struct Job {
    req: ChatRequest,
    cancel: CancellationToken,
    tx: mpsc::Sender<ChatEvent>,
    path: PathBuf,
}

/// A loaded model's queue; its slot threads end when this is dropped.
struct Workers {
    queue: std::sync::mpsc::Sender<Job>,
}

type Cache = Arc<Mutex<HashMap<PathBuf, Arc<Workers>>>>;

#[derive(Debug, Clone)]
pub struct EmbeddedBackend {
    id: String,
    model: Option<String>,
    models_dir: PathBuf,
    threads: i32,
    cache: Cache,
    /// Where the built-in default model comes from, fetched when it is asked for and missing.
    default_source: Option<super::default_model::Source>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Workers")
    }
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Loaded")
    }
}

impl EmbeddedBackend {
    pub fn new(
        id: &str,
        model: Option<String>,
        models_dir: PathBuf,
        threads: Option<u32>,
        default_source: Option<super::default_model::Source>,
    ) -> Self {
        let default_threads = std::thread::available_parallelism()
            .map(|n| (n.get() / 2).max(1))
            .unwrap_or(1);
        let threads = threads
            .map(|t| t.max(1) as usize)
            .unwrap_or(default_threads) as i32;
        Self {
            id: id.into(),
            model,
            models_dir,
            threads,
            cache: Arc::new(Mutex::new(HashMap::new())),
            default_source,
        }
    }

    /// A model is a GGUF path, or a file under the models directory (`model pull hf:…`);
    /// with none given, the first downloaded GGUF.
    fn resolve(&self, name: Option<&str>) -> Result<PathBuf, String> {
        let hint =
            "download one with `infernet model pull hf:<org>/<repo>`, or pass --model <file.gguf>";
        match name {
            Some(n) => {
                let p = PathBuf::from(n);
                if p.is_file() {
                    return Ok(p);
                }
                let under = self.models_dir.join(n);
                if under.is_file() {
                    return Ok(under);
                }
                let by_name = super::hf::local_ggufs(&self.models_dir)
                    .into_iter()
                    .find(|(f, _)| f.file_name().is_some_and(|x| x == n));
                by_name.map(|(f, _)| f).ok_or_else(|| {
                    format!(
                        "no GGUF model '{n}' (not a file, nor in {}); {hint}",
                        self.models_dir.display()
                    )
                })
            }
            None => super::hf::local_ggufs(&self.models_dir)
                .into_iter()
                .next()
                .map(|(f, _)| f)
                .ok_or_else(|| format!("no GGUF model in {}; {hint}", self.models_dir.display())),
        }
    }

    /// Loads the model once and starts its slots.
    fn workers(&self, path: &Path) -> Result<Arc<Workers>, String> {
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| "model cache lock poisoned".to_string())?;
        if let Some(w) = cache.get(path) {
            return Ok(w.clone());
        }
        let backend = llama()?;
        let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
            .map_err(|e| format!("cannot load '{}': {e}", path.display()))?;
        let template = model.chat_template(None).ok();
        let loaded = Arc::new(Loaded { model, template });
        let (queue, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..SLOTS {
            let (loaded, rx, this) = (loaded.clone(), rx.clone(), self.clone());
            std::thread::Builder::new()
                .name(format!("infernet-llama-{n}"))
                .spawn(move || this.slot(&loaded, &rx))
                .map_err(|e| format!("cannot start a generation thread: {e}"))?;
        }
        let w = Arc::new(Workers { queue });
        cache.insert(path.to_path_buf(), w.clone());
        Ok(w)
    }

    /// One slot: a context kept across turns, with the tokens its KV cache holds.
    fn slot(&self, loaded: &Loaded, rx: &Mutex<std::sync::mpsc::Receiver<Job>>) {
        let n_ctx = CONTEXT.min(loaded.model.n_ctx_train().max(512));
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(n_ctx)
            .with_n_threads(self.threads)
            .with_n_threads_batch(self.threads);
        let mut ctx = None;
        let mut cached: Vec<LlamaToken> = Vec::new();
        loop {
            let job = match rx.lock() {
                Ok(r) => match r.recv() {
                    Ok(j) => j,
                    Err(_) => return, // the model was dropped
                },
                Err(_) => return,
            };
            let id = job.req.id.clone();
            let tx = job.tx.clone();
            if ctx.is_none() {
                match llama().and_then(|b| {
                    loaded
                        .model
                        .new_context(b, params.clone())
                        .map_err(|e| format!("cannot create a context: {e}"))
                }) {
                    Ok(c) => ctx = Some(c),
                    Err(message) => {
                        let _ = tx.blocking_send(ChatEvent::Error {
                            id,
                            message: format!("embedded: {message}"),
                        });
                        continue;
                    }
                }
            }
            let Some(c) = ctx.as_mut() else { continue };
            if let Err(message) = self.generate(loaded, c, n_ctx, &mut cached, job) {
                // After a failure the cache contents are unknown: start the next turn clean.
                c.clear_kv_cache();
                cached.clear();
                let _ = tx.blocking_send(ChatEvent::Error {
                    id,
                    message: format!("embedded: {message}"),
                });
            }
        }
    }

    /// Runs on a blocking thread: prompt, then one token at a time until EOG, the limit or cancel.
    fn generate(
        &self,
        loaded: &Loaded,
        ctx: &mut LlamaContext<'_>,
        n_ctx: u32,
        cached: &mut Vec<LlamaToken>,
        job: Job,
    ) -> Result<(), String> {
        let Job {
            req,
            cancel,
            tx,
            path,
        } = job;
        let id = req.id.clone();
        let model = &loaded.model;
        let vocab = model.vocab();
        let prompt = match &loaded.template {
            Some(t) => {
                let msgs = req
                    .messages
                    .iter()
                    .map(|m| LlamaChatMessage::new(m.role.clone(), m.content.clone()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("bad message: {e}"))?;
                model
                    .apply_chat_template(t, &msgs, true)
                    .map_err(|e| format!("chat template failed: {e}"))?
            }
            // A base model without a template: plain turns.
            None => {
                let mut p: String = req
                    .messages
                    .iter()
                    .map(|m| format!("{}: {}\n", m.role, m.content))
                    .collect();
                p.push_str("assistant:");
                p
            }
        };
        let tokens = vocab.tokenize(prompt.as_bytes(), true, true);
        if tokens.is_empty() || tokens.len() as u32 >= n_ctx {
            return Err(format!(
                "the prompt has {} tokens; the context holds {n_ctx}",
                tokens.len()
            ));
        }
        let max = req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
        // Reuse what the KV cache already holds (the conversation so far); evaluate the rest.
        // At least the last prompt token is evaluated again, for its logits.
        let common = cached
            .iter()
            .zip(&tokens)
            .take_while(|(a, b)| a == b)
            .count();
        let keep = common.min(tokens.len() - 1);
        ctx.clear_kv_cache_seq(Some(0), Some(keep as u32), None)
            .map_err(|e| format!("kv cache: {e}"))?;
        cached.truncate(keep);
        let mut batch = LlamaBatch::new(n_ctx as usize, 1);
        let last = tokens.len() - 1;
        for (i, t) in tokens.iter().enumerate().skip(keep) {
            batch
                .add(*t, i as i32, &[0], i == last)
                .map_err(|e| format!("batch: {e}"))?;
        }
        ctx.decode(&mut batch)
            .map_err(|e| format!("decode failed: {e}"))?;
        cached.extend_from_slice(&tokens[keep..]);
        let mut sampler = match req.temperature {
            Some(t) if t <= 0.0 => LlamaSampler::greedy(),
            t => LlamaSampler::chain_simple([
                LlamaSampler::top_k(40),
                LlamaSampler::top_p(0.95, 1),
                LlamaSampler::temp(t.unwrap_or(0.8) as f32),
                LlamaSampler::dist(rand_seed()),
            ]),
        };
        let name = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let meta = ChatEvent::Meta {
            id: id.clone(),
            backend: self.id.clone(),
            model: name,
            started_at: now_rfc3339(),
        };
        if tx.blocking_send(meta).is_err() {
            return Ok(());
        }
        let (mut text, mut pending, mut generated) = (String::new(), Vec::<u8>::new(), 0u32);
        let mut pos = tokens.len() as i32;
        let reason = loop {
            if cancel.is_cancelled() {
                break DoneReason::Cancel;
            }
            if generated >= max || pos as u32 >= n_ctx {
                break DoneReason::Length;
            }
            let token = sampler.sample(ctx, batch.n_tokens() - 1);
            if vocab.is_eog(token) {
                break DoneReason::Stop;
            }
            generated += 1;
            pending.extend_from_slice(&vocab.token_to_piece(token, false, None));
            // Emit only complete UTF-8; a character split across tokens waits for the rest.
            let valid = match std::str::from_utf8(&pending) {
                Ok(s) => s.len(),
                Err(e) => e.valid_up_to(),
            };
            if valid > 0 {
                let piece = String::from_utf8_lossy(&pending[..valid]).into_owned();
                pending.drain(..valid);
                text.push_str(&piece);
                if tx
                    .blocking_send(ChatEvent::Token {
                        id: id.clone(),
                        text: piece,
                    })
                    .is_err()
                {
                    return Ok(()); // consumer gone: stop generating
                }
            }
            batch.clear();
            batch
                .add(token, pos, &[0], true)
                .map_err(|e| format!("batch: {e}"))?;
            pos += 1;
            ctx.decode(&mut batch)
                .map_err(|e| format!("decode failed: {e}"))?;
        };
        let usage = Some(Usage {
            prompt_tokens: tokens.len() as u64,
            completion_tokens: u64::from(generated),
        });
        let _ = tx.blocking_send(done(&id, reason, text, usage));
        Ok(())
    }
}

fn rand_seed() -> u32 {
    rand::random::<u32>()
}

impl ChatBackend for EmbeddedBackend {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> BackendKind {
        BackendKind::Embedded
    }
    fn url(&self) -> &str {
        "in-process"
    }
    fn default_model(&self) -> Option<&str> {
        self.model.as_deref()
    }
    fn chat(&self, req: ChatRequest, cancel: CancellationToken) -> BoxStream<'static, ChatEvent> {
        let (tx, mut rx) = mpsc::channel(64);
        let this = self.clone();
        crate::supervise::spawn_logged("embedded-chat", async move {
            // The built-in default model is fetched on first use (once; others wait for it).
            if let Some(src) = this.missing_default(req.model.as_deref())
                && let Err(e) = super::default_model::ensure(&src, |_| {}).await
            {
                let _ = tx
                    .send(ChatEvent::Error {
                        id: req.id.clone(),
                        message: format!("embedded: {e}"),
                    })
                    .await;
                return;
            }
            // Loading a model takes a while: off the async workers too.
            let _ = tokio::task::spawn_blocking(move || this.enqueue(req, cancel, tx)).await;
        });
        Box::pin(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }
    fn models(&self) -> futures::future::BoxFuture<'_, Result<Vec<ModelInfo>, BackendError>> {
        let list = super::hf::local_ggufs(&self.models_dir);
        let dir = self.models_dir.clone();
        let fetching = self.missing_default(None).map(|src| {
            super::default_model::status().unwrap_or_else(|| {
                format!(
                    "the default model {} is not downloaded yet (fetched on first use from {})",
                    super::default_model::LABEL,
                    super::download::display_url(&src.url)
                )
            })
        });
        Box::pin(async move {
            if let Some(why) = fetching {
                return Err(BackendError::Protocol(why));
            }
            Ok(list
                .into_iter()
                .map(|(p, size)| ModelInfo {
                    name: p
                        .strip_prefix(&dir)
                        .unwrap_or(&p)
                        .to_string_lossy()
                        .into_owned(),
                    size_bytes: Some(size),
                })
                .collect())
        })
    }
}

impl EmbeddedBackend {
    /// The default model's source when `requested` (else this backend's model) is the built-in
    /// default and it is not on disk yet.
    fn missing_default(&self, requested: Option<&str>) -> Option<super::default_model::Source> {
        let name = requested.or(self.model.as_deref())?;
        let src = self.default_source.as_ref()?;
        (name == super::default_model::FILE && !src.present()).then(|| src.clone())
    }

    /// Resolves and loads the model, then queues the job on one of its slots.
    fn enqueue(&self, req: ChatRequest, cancel: CancellationToken, tx: mpsc::Sender<ChatEvent>) {
        let id = req.id.clone();
        let queued = self
            .resolve(req.model.as_deref().or(self.model.as_deref()))
            .and_then(|path| Ok((self.workers(&path)?, path)))
            .and_then(|(w, path)| {
                let job = Job {
                    req,
                    cancel,
                    tx: tx.clone(),
                    path,
                };
                w.queue
                    .send(job)
                    .map_err(|_| "the model's generation threads stopped".to_string())
            });
        if let Err(message) = queued {
            let _ = tx.blocking_send(ChatEvent::Error {
                id,
                message: format!("embedded: {message}"),
            });
        }
    }
}
