//! Tokens generated per backend, counted as they stream (every configured backend is wrapped
//! in [`Metered`] by `Backends::from_config`), for the TUI's tokens/s history. Counters only
//! grow; readers take differences.
use super::BackendError;
use super::{BackendKind, ChatBackend, ChatEvent, ChatRequest, ModelInfo, PullProgress};
use futures::StreamExt;
use futures::stream::BoxStream;
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex};
use tokio_util::sync::CancellationToken;

static TOKENS: LazyLock<Mutex<BTreeMap<String, u64>>> = LazyLock::new(Default::default);

fn add(id: &str, n: u64) {
    if let Ok(mut m) = TOKENS.lock() {
        *m.entry(id.to_string()).or_default() += n;
    }
}

/// Tokens generated so far, per backend id, since the process started.
pub fn tokens() -> BTreeMap<String, u64> {
    TOKENS.lock().map(|m| m.clone()).unwrap_or_default()
}

/// A backend whose streamed tokens are counted.
#[derive(Debug)]
pub struct Metered(pub Arc<dyn ChatBackend>);

impl ChatBackend for Metered {
    fn id(&self) -> &str {
        self.0.id()
    }
    fn kind(&self) -> BackendKind {
        self.0.kind()
    }
    fn url(&self) -> &str {
        self.0.url()
    }
    fn default_model(&self) -> Option<&str> {
        self.0.default_model()
    }
    fn chat(&self, req: ChatRequest, cancel: CancellationToken) -> BoxStream<'static, ChatEvent> {
        let id = self.0.id().to_string();
        self.0
            .chat(req, cancel)
            .inspect(move |ev| {
                if matches!(ev, ChatEvent::Token { .. }) {
                    add(&id, 1);
                }
            })
            .boxed()
    }
    fn models(&self) -> futures::future::BoxFuture<'_, Result<Vec<ModelInfo>, BackendError>> {
        self.0.models()
    }
    fn describe(
        &self,
        name: &str,
    ) -> futures::future::BoxFuture<'_, Result<Option<serde_json::Value>, BackendError>> {
        self.0.describe(name)
    }
    fn pull(&self, name: &str) -> BoxStream<'static, Result<PullProgress, BackendError>> {
        self.0.pull(name)
    }
    fn remove(&self, name: &str) -> futures::future::BoxFuture<'_, Result<(), BackendError>> {
        self.0.remove(name)
    }
}
