//! The control plane's job stream (`event:`/`data:` SSE frames) relayed as chat events. Its
//! frames are not the line-per-piece formats of `sse::drive` (the server sends `meta` itself, a
//! retry on another node replays the answer after `reset`, and an end without `done` is an
//! error), so only the chunk reading is shared (`sse::next_lines`).
use super::error;
use crate::backend::openai::done;
use crate::backend::sse::{Lines, Next, next_lines};
use crate::backend::{ChatEvent, DoneReason, Usage, now_rfc3339};
use infernet_core::continuity::Continuity;
use serde_json::Value;
use tokio::sync::mpsc::Sender;
use tokio_util::sync::CancellationToken;

/// Reads the job stream to its end: forwards each event, ends with `done`, `error`, or
/// `done{cancel}` on a cancel. Returns early when the consumer is gone.
pub(super) async fn relay<S>(
    stream: S,
    id: &str,
    cancel: &CancellationToken,
    tx: &Sender<ChatEvent>,
) where
    S: futures::Stream<Item = reqwest::Result<bytes::Bytes>>,
{
    let mut stream = Box::pin(stream);
    let mut lines = Lines::default();
    let mut relay = Relay::new(id);
    loop {
        let (pending, finished) = match next_lines(&mut stream, &mut lines, cancel).await {
            Next::Lines { lines, finished } => (lines, finished),
            Next::Cancelled => {
                let text = std::mem::take(&mut relay.text);
                let _ = tx.send(done(id, DoneReason::Cancel, text, None)).await;
                return;
            }
            Next::Broken(cause) => {
                let message = format!("control-plane stream broke: {cause}");
                let _ = tx.send(error(id, message)).await;
                return;
            }
        };
        for line in pending {
            match relay.line(&line) {
                Step::Skip => {}
                Step::Emit(ev) => {
                    if tx.send(ev).await.is_err() {
                        return;
                    }
                }
                Step::Last(ev) => {
                    let _ = tx.send(ev).await;
                    return;
                }
            }
        }
        if finished {
            let message = "control-plane stream ended before the job finished".to_string();
            let _ = tx.send(error(id, message)).await;
            return;
        }
    }
}

/// What one line of the job stream asks of the relay.
#[derive(Debug, PartialEq)]
enum Step {
    Skip,
    Emit(ChatEvent),
    /// The turn's last event.
    Last(ChatEvent),
}

/// One SSE frame, read up to its blank line.
#[derive(Debug, Default)]
struct Frame {
    event: String,
    data: String,
}

/// The relay's state: the frame being read, the answer so far, and the check that a retry on
/// another node repeats what was already sent.
struct Relay {
    id: String,
    frame: Frame,
    cont: Continuity,
    text: String,
}

impl Relay {
    fn new(id: &str) -> Self {
        Relay {
            id: id.to_string(),
            frame: Frame::default(),
            cont: Continuity::default(),
            text: String::new(),
        }
    }

    /// One line; a blank line completes the frame.
    fn line(&mut self, line: &str) -> Step {
        if let Some(v) = line.strip_prefix("event:") {
            self.frame.event = v.trim().to_string();
            return Step::Skip;
        }
        if let Some(v) = line.strip_prefix("data:") {
            self.frame.data.push_str(v.trim_start());
            return Step::Skip;
        }
        if !line.is_empty() {
            return Step::Skip; // id:, comments (": ping")
        }
        let f = std::mem::take(&mut self.frame);
        let data: Value = serde_json::from_str(&f.data).unwrap_or(Value::Null);
        match f.event.as_str() {
            "meta" => Step::Emit(self.meta(&data)),
            "reset" => {
                self.cont.reset();
                Step::Skip
            }
            "token" => self.token(&data),
            "done" => Step::Last(self.done(&data)),
            "error" => {
                let message = data["message"].as_str().unwrap_or("the job failed");
                Step::Last(error(&self.id, message.to_string()))
            }
            _ => Step::Skip,
        }
    }

    fn meta(&self, data: &Value) -> ChatEvent {
        let provider = data["provider_name"]
            .as_str()
            .or(data["provider_node_id"].as_str())
            .unwrap_or("?");
        ChatEvent::Meta {
            id: self.id.clone(),
            backend: format!("remote:{provider}"),
            model: data["model"].as_str().unwrap_or("").to_string(),
            started_at: data["started_at"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(now_rfc3339),
        }
    }

    /// A token, less what a retry repeats of the answer already sent.
    fn token(&mut self, data: &Value) -> Step {
        match self.cont.token(data["text"].as_str().unwrap_or("")) {
            Ok(t) if t.is_empty() => Step::Skip,
            Ok(t) => {
                self.text.push_str(&t);
                Step::Emit(ChatEvent::Token {
                    id: self.id.clone(),
                    text: t,
                })
            }
            Err(_) => Step::Last(error(
                &self.id,
                "the node running this chat went silent and the retry on another node gave a different answer".into(),
            )),
        }
    }

    /// `done`: the server's text and times where it sends them, else what was relayed.
    fn done(&mut self, data: &Value) -> ChatEvent {
        let usage = data
            .get("usage")
            .and_then(|u| serde_json::from_value::<Usage>(u.clone()).ok());
        let text = std::mem::take(&mut self.text);
        ChatEvent::Done {
            id: self.id.clone(),
            reason: DoneReason::from_wire(data["reason"].as_str().unwrap_or("stop")),
            text: data["text"].as_str().map(str::to_string).unwrap_or(text),
            usage,
            finished_at: data["finished_at"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(now_rfc3339),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds SSE text through the relay as the stream would (frames end at a blank line).
    fn steps(relay: &mut Relay, sse: &str) -> Vec<Step> {
        sse.split('\n')
            .map(|l| relay.line(l))
            .filter(|s| *s != Step::Skip)
            .collect()
    }

    fn token(text: &str) -> Step {
        Step::Emit(ChatEvent::Token {
            id: "c1".into(),
            text: text.into(),
        })
    }

    #[test]
    fn meta_names_the_provider_and_keeps_the_servers_start() {
        let mut r = Relay::new("c1");
        let s = steps(
            &mut r,
            ": ping\nid: 1\nevent: meta\ndata: {\"provider_node_id\":\"n7\",\"model\":\"m\",\ndata: \"started_at\":\"T0\"}\n\n",
        );
        assert_eq!(
            s,
            [Step::Emit(ChatEvent::Meta {
                id: "c1".into(),
                backend: "remote:n7".into(),
                model: "m".into(),
                started_at: "T0".into(),
            })]
        );
    }

    #[test]
    fn tokens_then_done_with_what_was_relayed() {
        let mut r = Relay::new("c1");
        let s = steps(
            &mut r,
            "event: token\ndata: {\"text\":\"He\"}\n\nevent: token\ndata: {\"text\":\"\"}\n\nevent: token\ndata: {\"text\":\"llo\"}\n\nevent: done\ndata: {\"reason\":\"length\",\"finished_at\":\"T1\",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n",
        );
        assert_eq!(
            s,
            [
                token("He"),
                token("llo"),
                Step::Last(ChatEvent::Done {
                    id: "c1".into(),
                    reason: DoneReason::Length,
                    text: "Hello".into(),
                    usage: Some(Usage {
                        prompt_tokens: 3,
                        completion_tokens: 2
                    }),
                    finished_at: "T1".into(),
                }),
            ]
        );
    }

    #[test]
    fn a_retry_that_repeats_the_answer_sends_only_what_is_new() {
        let mut r = Relay::new("c1");
        let s = steps(
            &mut r,
            "event: token\ndata: {\"text\":\"ab\"}\n\nevent: reset\ndata: {}\n\nevent: token\ndata: {\"text\":\"abc\"}\n\n",
        );
        assert_eq!(s, [token("ab"), token("c")]);
    }

    #[test]
    fn a_retry_that_diverges_ends_the_turn_with_an_error() {
        let mut r = Relay::new("c1");
        let s = steps(
            &mut r,
            "event: token\ndata: {\"text\":\"ab\"}\n\nevent: reset\n\nevent: token\ndata: {\"text\":\"x\"}\n\n",
        );
        assert_eq!(s.len(), 2);
        assert!(
            matches!(&s[1], Step::Last(ChatEvent::Error { message, .. }) if message.contains("different answer")),
            "{s:?}"
        );
    }

    #[test]
    fn an_error_frame_ends_the_turn_with_its_message_or_a_default() {
        let mut r = Relay::new("c1");
        assert_eq!(
            steps(&mut r, "event: error\ndata: {\"message\":\"no node\"}\n\n"),
            [Step::Last(error("c1", "no node".into()))]
        );
        assert_eq!(
            steps(&mut Relay::new("c1"), "event: error\ndata: oops\n\n"),
            [Step::Last(error("c1", "the job failed".into()))]
        );
    }

    #[test]
    fn unknown_frames_are_skipped() {
        let mut r = Relay::new("c1");
        assert!(steps(&mut r, "event: progress\ndata: {}\n\ndata: {}\n\n").is_empty());
    }

    async fn run(chunks: &[&str], cancel: CancellationToken) -> Vec<ChatEvent> {
        let items: Vec<reqwest::Result<bytes::Bytes>> = chunks
            .iter()
            .map(|c| Ok(bytes::Bytes::from(c.to_string())))
            .collect();
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        relay(futures::stream::iter(items), "c1", &cancel, &tx).await;
        drop(tx);
        let mut out = Vec::new();
        while let Some(e) = rx.recv().await {
            out.push(e);
        }
        out
    }

    #[tokio::test]
    async fn frames_cut_anywhere_and_a_stream_without_done_is_an_error() {
        let events = run(
            &[
                "event: tok",
                "en\ndata: {\"text\":\"hi\"}\n",
                "\nevent: done\ndata: {",
            ],
            CancellationToken::new(),
        )
        .await;
        assert_eq!(
            events,
            [
                ChatEvent::Token {
                    id: "c1".into(),
                    text: "hi".into()
                },
                error(
                    "c1",
                    "control-plane stream ended before the job finished".into()
                ),
            ]
        );
    }

    #[tokio::test]
    async fn a_cancel_ends_with_cancel() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let pending = futures::stream::pending::<reqwest::Result<bytes::Bytes>>();
        relay(pending, "c1", &cancel, &tx).await;
        assert!(matches!(
            rx.recv().await,
            Some(ChatEvent::Done {
                reason: DoneReason::Cancel,
                ..
            })
        ));
    }
}
