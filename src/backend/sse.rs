//! Splits a byte stream into lines (SSE `data:` lines, NDJSON objects), across chunk borders.
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
}
