//! Backend kinds and their defaults (reference infernet-protocol §7.3, Appendix A).
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Ollama,
    Vllm,
    Sglang,
    Llamacpp,
    Max,
    /// Any other OpenAI-compatible server.
    Openai,
    /// Canned replies; only when asked for by name.
    Stub,
    /// A custom engine over stdio (`INFERNET_ENGINE_BIN`).
    Engine,
    /// GGUF models in-process through llama.cpp.
    Embedded,
    /// A control plane (`/api/chat` + SSE): the job runs on whichever node it routes to.
    Remote,
}

impl BackendKind {
    pub const ALL: [BackendKind; 6] = [
        BackendKind::Vllm,
        BackendKind::Llamacpp,
        BackendKind::Ollama,
        BackendKind::Sglang,
        BackendKind::Max,
        BackendKind::Openai,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Ollama => "ollama",
            BackendKind::Vllm => "vllm",
            BackendKind::Sglang => "sglang",
            BackendKind::Llamacpp => "llamacpp",
            BackendKind::Max => "max",
            BackendKind::Openai => "openai",
            BackendKind::Stub => "stub",
            BackendKind::Engine => "engine",
            BackendKind::Embedded => "embedded",
            BackendKind::Remote => "remote",
        }
    }

    /// A kind by name; `stub` is known here but never auto-detected (it is not in `ALL`).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.to_ascii_lowercase();
        match s.as_str() {
            "stub" => return Some(BackendKind::Stub),
            // The Infernet Protocol CLI calls its stdio engine "mojo".
            "engine" | "mojo" => return Some(BackendKind::Engine),
            "embedded" => return Some(BackendKind::Embedded),
            "remote" | "control-plane" => return Some(BackendKind::Remote),
            _ => {}
        }
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    pub fn default_url(self) -> &'static str {
        match self {
            BackendKind::Ollama => "http://127.0.0.1:11434",
            BackendKind::Vllm | BackendKind::Max => "http://127.0.0.1:8000",
            BackendKind::Sglang => "http://127.0.0.1:30000",
            BackendKind::Llamacpp => "http://127.0.0.1:8080",
            BackendKind::Openai => "http://127.0.0.1:8000",
            BackendKind::Stub | BackendKind::Engine | BackendKind::Embedded => "",
            BackendKind::Remote => "http://127.0.0.1:4010",
        }
    }

    /// (host, api key, model) environment variables.
    pub fn env_vars(self) -> (&'static str, Option<&'static str>, Option<&'static str>) {
        match self {
            BackendKind::Ollama => ("OLLAMA_HOST", None, None),
            BackendKind::Vllm => ("VLLM_HOST", Some("VLLM_API_KEY"), Some("VLLM_MODEL")),
            BackendKind::Sglang => ("SGLANG_HOST", Some("SGLANG_API_KEY"), Some("SGLANG_MODEL")),
            BackendKind::Llamacpp => (
                "LLAMACPP_HOST",
                Some("LLAMACPP_API_KEY"),
                Some("LLAMACPP_MODEL"),
            ),
            BackendKind::Max => ("MODULAR_MAX_HOST", Some("MAX_API_KEY"), Some("MAX_MODEL")),
            BackendKind::Openai => ("OPENAI_BASE_URL", Some("OPENAI_API_KEY"), None),
            BackendKind::Stub => ("", None, None),
            BackendKind::Engine => ("INFERNET_ENGINE_BIN", None, Some("INFERNET_ENGINE_MODEL")),
            BackendKind::Embedded => ("", None, Some("INFERNET_ENGINE_MODEL")),
            BackendKind::Remote => (
                "INFERNET_CONTROL_PLANE",
                None,
                Some("INFERNET_ENGINE_MODEL"),
            ),
        }
    }

    /// What to start when nothing answers.
    pub fn start_hint(self) -> &'static str {
        match self {
            BackendKind::Ollama => "start it with `ollama serve`",
            BackendKind::Vllm => "start it with `vllm serve <model>`",
            BackendKind::Sglang => {
                "start it with `python -m sglang.launch_server --model-path <model>`"
            }
            BackendKind::Llamacpp => "start it with `llama-server -m <model.gguf>`",
            BackendKind::Max => "start it with `max serve --model-path <model>`",
            BackendKind::Openai => "check the server's URL",
            BackendKind::Stub => "",
            BackendKind::Engine => "set INFERNET_ENGINE_BIN to the engine binary",
            BackendKind::Embedded => "download a GGUF with `infernet model pull hf:<org>/<repo>`",
            BackendKind::Remote => {
                "start one with `infernet control-plane serve`, or check the URL"
            }
        }
    }

    /// The probe path that tells the server is there.
    pub fn probe_path(self) -> &'static str {
        match self {
            BackendKind::Ollama => "/api/version",
            BackendKind::Remote => "/api/health",
            _ => "/v1/models",
        }
    }
}

/// `OLLAMA_HOST` may be `host:port` or a URL; normalise to a URL.
pub fn normalise_url(s: &str) -> String {
    let s = s.trim().trim_end_matches('/');
    if s.contains("://") {
        s.to_string()
    } else {
        format!("http://{s}")
    }
}
