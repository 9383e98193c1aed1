//! The one driver for line-based LLM streams: splits a byte stream into lines (SSE `data:`
//! lines, NDJSON objects) across chunk borders, and turns each format's parsed lines into
//! chat events.
use super::openai::done;
use super::{ChatEvent, DoneReason, Usage};
#[derive(Debug, Default)]
pub struct Lines {
    buf: Vec<u8>,
}

impl Lines {
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=pos).collect();
            let s = String::from_utf8_lossy(&line)
                .trim_end_matches(['\n', '\r'])
                .to_string();
            out.push(s);
        }
        out
    }

    /// What is left once the stream ended without a final newline.
    pub fn finish(&mut self) -> Option<String> {
        let rest = String::from_utf8_lossy(&std::mem::take(&mut self.buf))
            .trim()
            .to_string();
        (!rest.is_empty()).then_some(rest)
    }
}

/// What reading a streamed answer produced next.
pub enum Next {
    /// Complete lines; `finished` when the stream ended with them.
    Lines {
        lines: Vec<String>,
        finished: bool,
    },
    Cancelled,
    Broken(String),
}

/// Reads the next chunk of a streamed answer into lines, or notices a cancel. Dropping the
/// stream after `Cancelled` closes the connection, which stops the server's generation.
pub async fn next_lines<S>(
    stream: &mut S,
    lines: &mut Lines,
    cancel: &tokio_util::sync::CancellationToken,
) -> Next
where
    S: futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin,
{
    use futures::StreamExt;
    let chunk = tokio::select! {
        c = stream.next() => c,
        _ = cancel.cancelled() => return Next::Cancelled,
    };
    match chunk {
        Some(Ok(b)) => Next::Lines {
            lines: lines.push(&b),
            finished: false,
        },
        Some(Err(e)) => Next::Broken(super::cause(&e)),
        None => Next::Lines {
            lines: lines.finish().into_iter().collect(),
            finished: true,
        },
    }
}

/// What one line of a streamed chat answer says, whatever the wire format (Ollama NDJSON,
/// OpenAI SSE): each format's `parse_line` maps to this, and `drive` does the rest once.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// Nothing for the client (keep-alives, comments, unparseable lines).
    Skip,
    Chunk {
        model: Option<String>,
        text: Option<String>,
        finish: Option<DoneReason>,
        usage: Option<Usage>,
    },
    /// The end marker; what it leaves out comes from the chunks before it.
    End {
        model: Option<String>,
        reason: Option<DoneReason>,
        usage: Option<Usage>,
    },
    Error(String),
}

/// Who is streaming, for the events and error texts.
pub struct Source<'a> {
    pub id: &'a str,
    pub backend: &'a str,
    /// "ollama", "vllm", …: prefixes errors.
    pub kind: &'a str,
    /// The model asked for, when the stream does not name one.
    pub model: &'a str,
}

/// Reads a streamed chat answer to its end: `Meta` at the first piece, a `Token` per text,
/// then `Done` (with the usage and finish reason seen), or `Error`. A stream that ends without
/// its end marker ends like a stop; a cancel closes the connection (the server stops
/// generating) and ends with `Cancel`. Returns early when the consumer is gone.
pub async fn drive<S>(
    mut stream: S,
    src: Source<'_>,
    parse: impl Fn(&str) -> Piece,
    cancel: &tokio_util::sync::CancellationToken,
    tx: &tokio::sync::mpsc::Sender<ChatEvent>,
) where
    S: futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin,
{
    let id = src.id.to_string();
    let mut lines = Lines::default();
    let mut text = String::new();
    let mut reason = DoneReason::Stop;
    let mut usage: Option<Usage> = None;
    let mut started = false;
    loop {
        let (pending, finished) = match next_lines(&mut stream, &mut lines, cancel).await {
            Next::Lines { lines, finished } => (lines, finished),
            Next::Cancelled => {
                drop(stream); // closes the connection: the server stops generating
                let _ = tx.send(done(&id, DoneReason::Cancel, text, usage)).await;
                return;
            }
            Next::Broken(cause) => {
                let message = format!("{} stream broke: {cause}", src.kind);
                let _ = tx.send(ChatEvent::Error { id, message }).await;
                return;
            }
        };
        for line in pending {
            let piece = parse(&line);
            let named = match &piece {
                Piece::Chunk { model, .. } | Piece::End { model, .. } => Some(model),
                Piece::Skip | Piece::Error(_) => None,
            };
            if let (false, Some(named)) = (started, named) {
                started = true;
                let meta = ChatEvent::Meta {
                    id: id.clone(),
                    backend: src.backend.to_string(),
                    model: named
                        .clone()
                        .filter(|m| !m.is_empty())
                        .unwrap_or_else(|| src.model.to_string()),
                    started_at: super::now_rfc3339(),
                };
                if tx.send(meta).await.is_err() {
                    return;
                }
            }
            match piece {
                Piece::Skip => {}
                Piece::Chunk {
                    text: t,
                    finish,
                    usage: u,
                    ..
                } => {
                    if u.is_some() {
                        usage = u;
                    }
                    if let Some(r) = finish {
                        reason = r;
                    }
                    if let Some(t) = t.filter(|t| !t.is_empty()) {
                        text.push_str(&t);
                        let token = ChatEvent::Token {
                            id: id.clone(),
                            text: t,
                        };
                        if tx.send(token).await.is_err() {
                            return; // consumer gone: dropping the response cancels upstream
                        }
                    }
                }
                Piece::End {
                    reason: r,
                    usage: u,
                    ..
                } => {
                    let _ = tx
                        .send(done(&id, r.unwrap_or(reason), text, u.or(usage)))
                        .await;
                    return;
                }
                Piece::Error(e) => {
                    let message = format!("{}: {e}", src.kind);
                    let _ = tx.send(ChatEvent::Error { id, message }).await;
                    return;
                }
            }
        }
        if finished {
            let _ = tx.send(done(&id, reason, text, usage)).await;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Lines;

    #[test]
    fn lines_cross_chunk_borders_and_utf8() {
        let mut l = Lines::default();
        assert!(l.push(b"data: {\"a\"").is_empty());
        assert_eq!(
            l.push(b":1}\r\n\r\ndata: \xc3"),
            vec!["data: {\"a\":1}", ""]
        );
        assert_eq!(l.push(b"\xa9\n"), vec!["data: é"]);
        assert!(l.push(b"tail").is_empty());
        assert_eq!(l.finish().as_deref(), Some("tail"));
    }

    use super::{ChatEvent, DoneReason, Piece, Source, Usage, drive};
    use tokio_util::sync::CancellationToken;

    /// Drives `chunks` (as they would arrive) through the Piece parser `parse`.
    async fn run(
        chunks: &[&str],
        parse: fn(&str) -> Piece,
        cancel: CancellationToken,
    ) -> Vec<ChatEvent> {
        let items: Vec<reqwest::Result<bytes::Bytes>> = chunks
            .iter()
            .map(|c| Ok(bytes::Bytes::from(c.to_string())))
            .collect();
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let src = Source {
            id: "c1",
            backend: "b1",
            kind: "vllm",
            model: "asked",
        };
        drive(futures::stream::iter(items), src, parse, &cancel, &tx).await;
        drop(tx);
        let mut out = Vec::new();
        while let Some(e) = rx.recv().await {
            out.push(e);
        }
        out
    }

    fn kinds(events: &[ChatEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                ChatEvent::Meta { model, .. } => format!("meta:{model}"),
                ChatEvent::Token { text, .. } => format!("token:{text}"),
                ChatEvent::Done {
                    reason,
                    text,
                    usage,
                    ..
                } => format!("done:{reason:?}:{text}:{usage:?}"),
                ChatEvent::Error { message, .. } => format!("error:{message}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn an_openai_stream_cut_anywhere_gives_meta_tokens_then_done() {
        let events = run(
            &[
                ": ping\n\ndata: {\"model\":\"m\",\"choices\":[{\"delta\":{\"content\":\"He\"}}]}\n",
                "\ndata: {\"choices\":[{\"delta\":{\"content\":\"llo\"},\"finish_reason\":\"length\"}]}\n\nda",
                "ta: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n",
            ],
            crate::backend::openai::piece,
            CancellationToken::new(),
        )
        .await;
        let usage = Some(Usage {
            prompt_tokens: 3,
            completion_tokens: 2,
        });
        assert_eq!(
            kinds(&events),
            [
                "meta:m".to_string(),
                "token:He".into(),
                "token:llo".into(),
                format!("done:{:?}:Hello:{usage:?}", DoneReason::Length),
            ]
        );
    }

    #[tokio::test]
    async fn an_ollama_stream_ends_with_its_done_line() {
        let events = run(
            &[
                "{\"model\":\"\",\"message\":{\"content\":\"a\"},\"done\":false}\n",
                "{\"model\":\"q\",\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":1,\"eval_count\":1}\n",
            ],
            crate::backend::ollama::piece,
            CancellationToken::new(),
        )
        .await;
        let k = kinds(&events);
        assert_eq!(
            k[0], "meta:asked",
            "an empty model name falls back to the one asked"
        );
        assert_eq!(k[1], "token:a");
        assert!(k[2].starts_with("done:Stop:a:Some"), "{k:?}");
    }

    #[tokio::test]
    async fn a_stream_without_its_end_marker_ends_like_a_stop_and_errors_are_named() {
        let k = kinds(
            &run(
                &["data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}"],
                crate::backend::openai::piece,
                CancellationToken::new(),
            )
            .await,
        );
        assert_eq!(k.last().map(String::as_str), Some("done:Stop:x:None"));
        let k = kinds(
            &run(
                &["data: {\"error\":{\"message\":\"out of memory\"}}\n"],
                crate::backend::openai::piece,
                CancellationToken::new(),
            )
            .await,
        );
        assert_eq!(k, ["error:vllm: out of memory"]);
    }

    #[tokio::test]
    async fn a_cancel_ends_with_cancel_and_what_was_said() {
        // A server that sends nothing more: only the cancel can end the stream.
        let stream = futures::stream::pending::<reqwest::Result<bytes::Bytes>>();
        let cancel = CancellationToken::new();
        cancel.cancel();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let src = Source {
            id: "c1",
            backend: "b1",
            kind: "vllm",
            model: "asked",
        };
        drive(stream, src, crate::backend::openai::piece, &cancel, &tx).await;
        drop(tx);
        let mut events = Vec::new();
        while let Some(e) = rx.recv().await {
            events.push(e);
        }
        assert_eq!(
            kinds(&events),
            [format!("done:{:?}::None", DoneReason::Cancel)]
        );
    }
}
