//! A bounded in-memory copy of the node's log events for the TUI's Logs panel (the TUI owns
//! the terminal, so nothing may go to stderr while it runs).
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

#[derive(Debug, Clone, PartialEq)]
pub struct RingLine {
    pub ts_ms: i64,
    pub level: Level,
    pub target: String,
    pub text: String,
}

/// Shared ring of the newest lines; `generation` changes on every push.
#[derive(Debug, Clone)]
pub struct LogRing {
    inner: Arc<Mutex<(VecDeque<RingLine>, u64)>>,
    cap: usize,
}

impl LogRing {
    pub fn new(cap: usize) -> Self {
        LogRing {
            inner: Arc::new(Mutex::new((VecDeque::with_capacity(cap), 0))),
            cap: cap.max(1),
        }
    }

    pub fn push(&self, line: RingLine) {
        if let Ok(mut g) = self.inner.lock() {
            if g.0.len() == self.cap {
                g.0.pop_front();
            }
            g.0.push_back(line);
            g.1 += 1;
        }
    }

    pub fn generation(&self) -> u64 {
        self.inner.lock().map(|g| g.1).unwrap_or(0)
    }

    pub fn lines(&self) -> Vec<RingLine> {
        self.inner
            .lock()
            .map(|g| g.0.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn layer(&self) -> RingLayer {
        RingLayer { ring: self.clone() }
    }
}

pub struct RingLayer {
    ring: LogRing,
}

#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for RingLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut t = Text::default();
        event.record(&mut t);
        self.ring.push(RingLine {
            ts_ms: crate::store::now_ms(),
            level: *event.metadata().level(),
            target: event.metadata().target().to_string(),
            text: crate::config::scrub::scrub(&(t.message + &t.fields)).into_owned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn keeps_the_newest_lines_with_fields() {
        let ring = LogRing::new(2);
        let sub = tracing_subscriber::registry().with(ring.layer());
        tracing::subscriber::with_default(sub, || {
            tracing::info!("one");
            tracing::warn!(job = "j1", "two");
            tracing::error!(code = 5, "three");
        });
        let lines = ring.lines();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].text, "two job=j1");
        assert_eq!(lines[1].level, Level::ERROR);
        assert_eq!(lines[1].text, "three code=5");
        assert_eq!(ring.generation(), 3);
    }
}
