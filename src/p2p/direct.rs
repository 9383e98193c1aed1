//! The worker-to-buyer stream of one job, a direct libp2p stream under our own protocol id:
//! a first line `{"job_id": …}`, then one chat event a line (the JSON `infernet chat --json`
//! prints: `meta`, `token`, `done`, `error`). The worker closes it after `done`/`error`; a
//! stream that ends before either means the worker is gone.
use crate::backend::ChatEvent;
use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use libp2p::{Stream, StreamProtocol};
use serde::{Deserialize, Serialize};

pub const CHAT_PROTOCOL: StreamProtocol = StreamProtocol::new("/infernet/c0mpute/chat/1.0.0");

/// The most a stream may carry (a runaway or hostile worker is cut off).
const MAX_STREAM_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    job_id: String,
}

/// The worker's end.
pub struct Writer {
    stream: Stream,
}

impl Writer {
    pub async fn open(mut stream: Stream, job_id: &str) -> std::io::Result<Self> {
        let header = Header {
            job_id: job_id.to_string(),
        };
        line(&mut stream, &header).await?;
        Ok(Self { stream })
    }

    pub async fn event(&mut self, ev: &ChatEvent) -> std::io::Result<()> {
        line(&mut self.stream, ev).await
    }

    pub async fn close(mut self) -> std::io::Result<()> {
        self.stream.close().await
    }
}

async fn line<T: Serialize>(stream: &mut Stream, v: &T) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(v).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    stream.write_all(&bytes).await?;
    stream.flush().await
}

/// The buyer's end: the header first (to route the stream to its job), then events.
pub struct Reader {
    lines: futures::io::Lines<BufReader<futures::io::Take<Stream>>>,
}

impl Reader {
    /// Reads the header; `Err` for a stream that does not start with one.
    pub async fn open(stream: Stream) -> Result<(String, Self), String> {
        use futures::StreamExt;
        let mut lines = BufReader::new(stream.take(MAX_STREAM_BYTES)).lines();
        let first = lines
            .next()
            .await
            .ok_or("the stream closed before its header")?
            .map_err(|e| e.to_string())?;
        let h: Header =
            serde_json::from_str(&first).map_err(|e| format!("not a job stream header: {e}"))?;
        Ok((h.job_id, Self { lines }))
    }

    /// The next event; `None` when the stream ended (or broke); `Some(Err)` for a line that
    /// is not an event.
    pub async fn next(&mut self) -> Option<Result<ChatEvent, String>> {
        use futures::StreamExt;
        let l = match self.lines.next().await? {
            Ok(l) => l,
            Err(_) => return None,
        };
        Some(serde_json::from_str(&l).map_err(|e| format!("not a chat event: {e}")))
    }
}
