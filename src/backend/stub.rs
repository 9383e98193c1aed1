//! The `stub` backend: canned text for demos and wiring checks, used only when asked for by
//! name (`--backend stub`), and always labelled as canned in the text and the model name.
use super::openai::done;
use super::{
    BackendError, BackendKind, ChatBackend, ChatEvent, ChatRequest, DoneReason, ModelInfo,
    now_rfc3339,
};
use futures::stream::BoxStream;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const STUB_MODEL: &str = "stub (canned replies, not a model)";

#[derive(Debug, Clone, Default)]
pub struct StubBackend;

pub fn canned_reply(prompt: &str) -> String {
    format!("[canned reply from the stub backend, not a model] You said: {prompt}")
}

impl ChatBackend for StubBackend {
    fn id(&self) -> &str {
        "stub"
    }
    fn kind(&self) -> BackendKind {
        BackendKind::Stub
    }
    fn url(&self) -> &str {
        ""
    }
    fn default_model(&self) -> Option<&str> {
        Some(STUB_MODEL)
    }
    fn chat(&self, req: ChatRequest, cancel: CancellationToken) -> BoxStream<'static, ChatEvent> {
        super::spawned(move |tx| async move {
            let id = req.id.clone();
            let prompt = req
                .messages
                .iter()
                .rev()
                .find(|m| m.role == "user")
                .map(|m| m.content.clone());
            let reply = canned_reply(&prompt.unwrap_or_default());
            let meta = ChatEvent::Meta {
                id: id.clone(),
                backend: "stub".into(),
                model: STUB_MODEL.into(),
                started_at: now_rfc3339(),
            };
            if tx.send(meta).await.is_err() {
                return;
            }
            let mut text = String::new();
            let words: Vec<&str> = reply.split_inclusive(' ').collect();
            let limit = req.max_tokens.map(|n| n as usize).unwrap_or(usize::MAX);
            for (i, w) in words.iter().enumerate() {
                if i >= limit {
                    let _ = tx.send(done(&id, DoneReason::Length, text, None)).await;
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(15)) => {},
                    _ = cancel.cancelled() => {
                        let _ = tx.send(done(&id, DoneReason::Cancel, text, None)).await;
                        return;
                    }
                }
                text.push_str(w);
                if tx
                    .send(ChatEvent::Token {
                        id: id.clone(),
                        text: (*w).to_string(),
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            let _ = tx.send(done(&id, DoneReason::Stop, text, None)).await;
        })
    }
    fn models(&self) -> futures::future::BoxFuture<'_, Result<Vec<ModelInfo>, BackendError>> {
        Box::pin(async {
            Ok(vec![ModelInfo {
                name: STUB_MODEL.into(),
                size_bytes: None,
            }])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Message;
    use futures::StreamExt;

    #[tokio::test]
    async fn labels_itself_and_honours_max_tokens_and_cancel() {
        let req = ChatRequest {
            id: "s".into(),
            messages: vec![Message::new("user", "hi there")],
            ..Default::default()
        };
        let ev: Vec<ChatEvent> = StubBackend
            .chat(req.clone(), CancellationToken::new())
            .collect()
            .await;
        match ev.last().unwrap() {
            ChatEvent::Done { text, reason, .. } => {
                assert_eq!(text, &canned_reply("hi there"));
                assert!(text.contains("canned"));
                assert_eq!(*reason, DoneReason::Stop);
            }
            e => panic!("{e:?}"),
        }
        let short = ChatRequest {
            max_tokens: Some(2),
            ..req.clone()
        };
        let ev: Vec<ChatEvent> = StubBackend
            .chat(short, CancellationToken::new())
            .collect()
            .await;
        assert!(matches!(
            ev.last(),
            Some(ChatEvent::Done {
                reason: DoneReason::Length,
                ..
            })
        ));
        let c = CancellationToken::new();
        c.cancel();
        let ev: Vec<ChatEvent> = StubBackend.chat(req, c).collect().await;
        assert!(matches!(
            ev.last(),
            Some(ChatEvent::Done {
                reason: DoneReason::Cancel,
                ..
            })
        ));
    }
}
