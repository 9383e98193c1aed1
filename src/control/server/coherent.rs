//! What a reader that has not opted in to `reset` frames (the Infernet Protocol's own clients)
//! sees when a job is re-run on another node: one coherent text. The new attempt is forwarded
//! only past what the reader already has, when it matches; when it differs, the stream ends
//! with an `error` those clients understand. Opted-in readers (`?reset=1`: our relay and TUI)
//! get every frame as stored.
use super::store::StoredEvent;
use infernet_core::continuity::Continuity;
use serde_json::Value;

/// What to do with one stored event.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Pass {
    Send(StoredEvent),
    Skip,
    /// The retry's text differs from what the reader has: end with this error.
    Diverged(String),
}

pub(super) const DIVERGED: &str = "the node running this job went silent and the retry's output differs from what was already sent; send the request again";

#[derive(Debug, Default)]
pub(super) struct Coherent {
    cont: Continuity,
    meta_sent: bool,
    /// The attempt the last event came from: a new one starts over (its `reset` frame is
    /// stored with the old attempt, and a resumed reader may not see it at all).
    attempt: Option<i64>,
}

impl Coherent {
    /// A reader resuming (`Last-Event-ID`) already has `text` of `attempt`.
    pub(super) fn resumed(attempt: i64, text: &str) -> Self {
        let mut c = Self {
            meta_sent: true,
            attempt: Some(attempt),
            ..Self::default()
        };
        // Nothing was sent before, so this cannot diverge.
        let _ = c.cont.token(text);
        c
    }

    pub(super) fn pass(&mut self, mut e: StoredEvent) -> Pass {
        if self.attempt.is_some_and(|a| a != e.attempt) {
            self.cont.reset();
        }
        self.attempt = Some(e.attempt);
        match e.kind.as_str() {
            "reset" => {
                self.cont.reset();
                Pass::Skip
            }
            // A second `meta` names the second node: these clients print the first one only.
            "meta" if self.meta_sent => Pass::Skip,
            "meta" => {
                self.meta_sent = true;
                Pass::Send(e)
            }
            "token" => {
                let text = e.data.get("text").and_then(Value::as_str).unwrap_or("");
                match self.cont.token(text) {
                    Ok(s) if s.is_empty() => Pass::Skip,
                    Ok(s) => {
                        if let Some(o) = e.data.as_object_mut() {
                            o.insert("text".into(), Value::String(s));
                        }
                        Pass::Send(e)
                    }
                    Err(_) => Pass::Diverged(DIVERGED.into()),
                }
            }
            _ => Pass::Send(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(id: i64, attempt: i64, kind: &str, data: Value) -> StoredEvent {
        StoredEvent {
            id,
            attempt,
            kind: kind.into(),
            data,
        }
    }

    fn texts(out: &[Pass]) -> String {
        out.iter()
            .filter_map(|p| match p {
                Pass::Send(e) if e.kind == "token" => e.data["text"].as_str().map(String::from),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_matching_retry_continues_after_what_was_sent() {
        let mut c = Coherent::default();
        let out: Vec<Pass> = vec![
            ev(1, 1, "meta", json!({"node": "a"})),
            ev(2, 1, "token", json!({"text": "The cap"})),
            ev(3, 1, "reset", json!({})),
            ev(4, 2, "meta", json!({"node": "b"})),
            ev(5, 2, "token", json!({"text": "The ca"})),
            ev(6, 2, "token", json!({"text": "pital is"})),
            ev(7, 2, "done", json!({"text": "The capital is"})),
        ]
        .into_iter()
        .map(|e| c.pass(e))
        .collect();
        assert_eq!(texts(&out), "The capital is");
        // The reset and the second node's meta are not shown.
        assert_eq!(out[2], Pass::Skip);
        assert_eq!(out[3], Pass::Skip);
        assert!(matches!(&out[6], Pass::Send(e) if e.kind == "done"));
    }

    #[test]
    fn a_different_retry_ends_the_stream_with_an_error() {
        let mut c = Coherent::default();
        c.pass(ev(1, 1, "token", json!({"text": "Paris"})));
        c.pass(ev(2, 2, "reset", json!({})));
        assert_eq!(
            c.pass(ev(3, 2, "token", json!({"text": "Lyon"}))),
            Pass::Diverged(DIVERGED.into())
        );
    }

    #[test]
    fn a_resumed_reader_gets_only_what_it_lacks() {
        // It had "Hello" of attempt 1; attempt 1 goes on.
        let mut c = Coherent::resumed(1, "Hello");
        let out = [c.pass(ev(5, 1, "token", json!({"text": " there"})))];
        assert_eq!(texts(&out), " there");
        // It had "Hello" of attempt 1; the replay is attempt 2's events, without the reset
        // (stored with attempt 1): the new attempt still starts over.
        let mut c = Coherent::resumed(1, "Hello");
        assert_eq!(c.pass(ev(9, 2, "meta", json!({}))), Pass::Skip);
        let out = [c.pass(ev(10, 2, "token", json!({"text": "Hello world"})))];
        assert_eq!(texts(&out), " world");
    }
}
