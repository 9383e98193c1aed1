//! The backend the built-in defaults configure (the embedded engine on the default model), as
//! config: fetching and checking the model is `backend::default_model`'s job.
use super::BackendConfig;

/// The model file the default backend serves.
pub const FILE: &str = "SmolLM2-135M-Instruct-Q4_1.gguf";
/// The backend id the built-in defaults give the embedded engine, and so the workflow id a
/// job names to run on it (`{"containers": ["llm"], …}`).
pub const BACKEND_ID: &str = "llm";

/// `INFERNET_DEFAULT_MODEL=off` (or 0, false, no, none) runs without the default model.
pub fn switched_off(env: &dyn Fn(&str) -> Option<String>) -> bool {
    env("INFERNET_DEFAULT_MODEL").is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "off" | "0" | "false" | "no" | "none"
        )
    })
}

/// The backend the built-in defaults configure: the embedded engine on the default model.
pub fn backend_config() -> BackendConfig {
    BackendConfig {
        id: BACKEND_ID.into(),
        kind: "embedded".into(),
        model: FILE.into(),
        ..Default::default()
    }
}
