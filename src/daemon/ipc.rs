//! The daemon's socket protocol: one JSON object per line.
//! Request `{"cmd": "...", "payload": ...}`; reply `{"ok": true, "data": ...}` or
//! `{"ok": false, "error": "..."}`. After `subscribe` the connection also carries events
//! `{"event": "model"|"update", "data": ...}` and accepts `intent` requests.
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// Longest request line the daemon reads (an intent with a long chat history fits).
pub const MAX_LINE: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub cmd: String,
    #[serde(default)]
    pub payload: Value,
}

pub fn ok_line(data: Value) -> String {
    let mut s = json!({"ok": true, "data": data}).to_string();
    s.push('\n');
    s
}

pub fn err_line(error: impl std::fmt::Display) -> String {
    let mut s = json!({"ok": false, "error": error.to_string()}).to_string();
    s.push('\n');
    s
}

pub fn event_line(event: &str, data: &impl Serialize) -> String {
    let mut s = json!({"event": event, "data": data}).to_string();
    s.push('\n');
    s
}

/// Parses one request line; the error is the reply to send (`bad-json: …`).
pub fn parse(line: &str) -> Result<Request, String> {
    serde_json::from_str::<Request>(line).map_err(|e| format!("bad-json: {e}"))
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("daemon-unreachable: no daemon answers on {path} ({reason})")]
    Unreachable { path: String, reason: String },
    #[error("daemon-timeout: no answer within {0:?}")]
    Timeout(Duration),
    #[error("write-failed: {0}")]
    WriteFailed(String),
    #[error("bad-response: {0}")]
    BadResponse(String),
    #[error("connection-closed: the daemon closed the connection without answering")]
    ConnectionClosed,
    /// The daemon answered `ok: false`.
    #[error("{0}")]
    Refused(String),
}

/// Connects within 500 ms.
pub async fn connect(sock: &Path) -> Result<UnixStream, ClientError> {
    let unreachable = |reason: String| ClientError::Unreachable {
        path: sock.display().to_string(),
        reason,
    };
    match tokio::time::timeout(Duration::from_millis(500), UnixStream::connect(sock)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable("connect timed out".into())),
    }
}

/// One request, one reply.
pub async fn call(
    sock: &Path,
    cmd: &str,
    payload: Value,
    timeout: Duration,
) -> Result<Value, ClientError> {
    let stream = connect(sock).await?;
    tokio::time::timeout(timeout, async move {
        let (r, mut w) = stream.into_split();
        let mut line = serde_json::to_string(&Request {
            cmd: cmd.into(),
            payload,
        })
        .map_err(|e| ClientError::WriteFailed(e.to_string()))?;
        line.push('\n');
        w.write_all(line.as_bytes())
            .await
            .map_err(|e| ClientError::WriteFailed(e.to_string()))?;
        let mut reader = BufReader::new(r);
        let mut reply = String::new();
        let n = reader
            .read_line(&mut reply)
            .await
            .map_err(|e| ClientError::BadResponse(e.to_string()))?;
        if n == 0 {
            return Err(ClientError::ConnectionClosed);
        }
        reply_data(&reply)
    })
    .await
    .map_err(|_| ClientError::Timeout(timeout))?
}

/// `data` of an `ok` reply, or the daemon's error.
pub fn reply_data(line: &str) -> Result<Value, ClientError> {
    let v: Value =
        serde_json::from_str(line).map_err(|e| ClientError::BadResponse(e.to_string()))?;
    match v.get("ok").and_then(Value::as_bool) {
        Some(true) => Ok(v.get("data").cloned().unwrap_or(Value::Null)),
        Some(false) => Err(ClientError::Refused(
            v.get("error")
                .and_then(Value::as_str)
                .unwrap_or("unknown error")
                .to_string(),
        )),
        None => Err(ClientError::BadResponse(format!(
            "no 'ok' field in {}",
            line.trim()
        ))),
    }
}

/// "Alive" = the socket exists and a `ping` is answered within 1 s.
pub async fn alive(sock: &Path) -> bool {
    sock.exists()
        && call(sock, "ping", Value::Null, Duration::from_secs(1))
            .await
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_the_documented_shapes() {
        assert_eq!(
            ok_line(json!({"pong": 1})),
            "{\"ok\":true,\"data\":{\"pong\":1}}\n"
        );
        assert_eq!(
            err_line("unknown-cmd: x"),
            "{\"ok\":false,\"error\":\"unknown-cmd: x\"}\n"
        );
        let r = parse(r#"{"cmd":"ping"}"#).unwrap();
        assert_eq!((r.cmd.as_str(), r.payload), ("ping", Value::Null));
        assert!(parse("{nope").unwrap_err().starts_with("bad-json: "));
        assert!(
            parse(r#"{"payload":1}"#)
                .unwrap_err()
                .contains("missing field `cmd`")
        );
        assert!(matches!(
            reply_data(r#"{"ok":false,"error":"x"}"#),
            Err(ClientError::Refused(e)) if e == "x"
        ));
        assert!(matches!(reply_data("[]"), Err(ClientError::BadResponse(_))));
    }
}
