//! Resumable file downloads over HTTP(S): `<dest>.part` plus HTTP Range, retried when the
//! connection is cut. Used for model files (`hf:` pulls and the built-in default model).
//!
//! It uses the reqwest that alloy brings in with rustls (aws-lc-rs, the system's CA store):
//! model hosts are HTTPS, and our own reqwest is built without TLS for local traffic.
use super::cause;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

pub use alloy::transports::http::reqwest as tls_reqwest;

const RETRIES: u32 = 5;

/// An HTTPS-capable client for downloads.
pub fn client() -> tls_reqwest::Client {
    tls_reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .user_agent(concat!("infernet/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// One download: where from, with an optional bearer token.
pub struct Download<'a> {
    pub http: &'a tls_reqwest::Client,
    pub url: &'a str,
    pub bearer: Option<&'a str>,
}

impl Download<'_> {
    /// Downloads into `dest` (through `dest.part`), resuming what is there, retrying cuts.
    /// `progress(done, total)` is called as bytes arrive.
    pub async fn to(
        &self,
        dest: &Path,
        mut progress: impl FnMut(u64, Option<u64>),
    ) -> Result<(), String> {
        let part = PathBuf::from(format!("{}.part", dest.display()));
        if let Some(dir) = dest.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| format!("cannot create '{}': {e}", dir.display()))?;
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.once(&part, &mut progress).await {
                Ok(()) => break,
                Err((msg, retry)) if retry && attempt < RETRIES => {
                    tracing::warn!(url = %self.url, attempt, error = %msg, "download interrupted; resuming");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
                Err((msg, _)) => {
                    return Err(format!(
                        "{msg}; the partial file is kept: run the same command again to resume"
                    ));
                }
            }
        }
        tokio::fs::rename(&part, dest)
            .await
            .map_err(|e| format!("cannot move the download into place: {e}"))
    }

    fn get(&self) -> tls_reqwest::RequestBuilder {
        let r = self.http.get(self.url);
        match self.bearer {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    fn host(&self) -> &str {
        let rest = self.url.split("://").nth(1).unwrap_or(self.url);
        rest.split('/').next().unwrap_or(rest)
    }

    /// One request from where the `.part` file ends. Err((message, worth retrying)).
    async fn once(
        &self,
        part: &Path,
        progress: &mut impl FnMut(u64, Option<u64>),
    ) -> Result<(), (String, bool)> {
        let url = self.url;
        let have = tokio::fs::metadata(part)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        let mut req = self.get();
        if have > 0 {
            req = req.header("range", format!("bytes={have}-"));
        }
        let mut r = req
            .send()
            .await
            .map_err(|e| (format!("cannot reach {}: {}", self.host(), cause(&e)), true))?;
        let status = r.status().as_u16();
        let (mut done, append) = match status {
            206 => (have, true),
            200 => (0, false),
            416 => return Ok(()), // already complete
            404 => {
                return Err((
                    format!("{url} not found (HTTP 404): check the repository and file name"),
                    false,
                ));
            }
            401 | 403 => {
                return Err((
                    format!(
                        "{url} answered HTTP {status}: set HF_TOKEN for gated or private repositories"
                    ),
                    false,
                ));
            }
            s => return Err((format!("{url} answered HTTP {s}"), s >= 500)),
        };
        let total = r.content_length().map(|n| n + done);
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(part)
            .await
            .map_err(|e| (format!("cannot write '{}': {e}", part.display()), false))?;
        progress(done, total);
        loop {
            let chunk = r.chunk().await.map_err(|e| {
                (
                    format!(
                        "download of {url} was cut after {done} bytes: {}",
                        cause(&e)
                    ),
                    true,
                )
            })?;
            let Some(chunk) = chunk else { break };
            f.write_all(&chunk)
                .await
                .map_err(|e| (format!("cannot write '{}': {e}", part.display()), false))?;
            done += chunk.len() as u64;
            progress(done, total);
        }
        f.flush()
            .await
            .map_err(|e| (format!("cannot write '{}': {e}", part.display()), false))?;
        if total.is_some_and(|t| done < t) {
            return Err((
                format!("download of {url} ended early at {done} bytes"),
                true,
            ));
        }
        Ok(())
    }
}
