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

/// An HTTPS-capable client for downloads. Fails (instead of panicking) when TLS cannot be set
/// up, e.g. with no CA certificates on the machine.
pub fn client() -> Result<tls_reqwest::Client, String> {
    tls_reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        // A server that stalls mid-body is cut and the download resumed.
        .read_timeout(Duration::from_secs(60))
        .user_agent(concat!("infernet/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            format!(
                "cannot set up HTTPS: {} (is the ca-certificates package installed?)",
                cause(&e)
            )
        })
}

/// A URL as it may be shown: no `user:password@`, no query (tokens live there).
pub fn display_url(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or(url);
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = host.rsplit('@').next().unwrap_or(host);
            if path.is_empty() {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{host}/{path}")
            }
        }
        None => url.to_string(),
    }
}

/// Why a download failed, and whether trying again later may help.
#[derive(Debug, Clone, PartialEq)]
pub struct Failed {
    pub message: String,
    pub retry: bool,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// One download: where from, with an optional bearer token.
pub struct Download<'a> {
    pub http: &'a tls_reqwest::Client,
    pub url: &'a str,
    pub bearer: Option<&'a str>,
    /// What to do about HTTP 401/403 (e.g. "set HF_TOKEN …").
    pub auth_hint: &'a str,
}

impl Download<'_> {
    /// Downloads into `dest` (through `dest.part`), resuming what is there, retrying cuts.
    /// `progress(done, total)` is called as bytes arrive. The `.part` file is kept on failure,
    /// so the next attempt resumes it.
    pub async fn to(
        &self,
        dest: &Path,
        mut progress: impl FnMut(u64, Option<u64>),
    ) -> Result<(), Failed> {
        let part = PathBuf::from(format!("{}.part", dest.display()));
        if let Some(dir) = dest.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(|e| Failed {
                message: format!("cannot create '{}': {e}", dir.display()),
                retry: false,
            })?;
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.once(&part, &mut progress).await {
                Ok(()) => break,
                Err((msg, retry)) if retry && attempt < RETRIES => {
                    tracing::warn!(url = %display_url(self.url), attempt, error = %msg, "download interrupted; resuming");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
                Err((message, retry)) => return Err(Failed { message, retry }),
            }
        }
        tokio::fs::rename(&part, dest).await.map_err(|e| Failed {
            message: format!("cannot move the download into place: {e}"),
            retry: false,
        })
    }

    fn get(&self) -> tls_reqwest::RequestBuilder {
        let r = self.http.get(self.url);
        match self.bearer {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// One request from where the `.part` file ends. Err((message, worth retrying)).
    async fn once(
        &self,
        part: &Path,
        progress: &mut impl FnMut(u64, Option<u64>),
    ) -> Result<(), (String, bool)> {
        let url = display_url(self.url);
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
            .map_err(|e| (format!("cannot reach {url}: {}", cause(&e)), true))?;
        let status = r.status().as_u16();
        let (mut done, append) = match status {
            206 => (have, true),
            200 => (0, false),
            416 => return Ok(()), // already complete
            404 => {
                return Err((format!("{url} not found (HTTP 404)"), false));
            }
            401 | 403 => {
                return Err((
                    format!("{url} answered HTTP {status}: {}", self.auth_hint),
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

#[cfg(test)]
mod tests {
    use super::display_url;

    #[test]
    fn shown_urls_carry_no_credentials() {
        assert_eq!(
            display_url("https://user:pw@host.example/a/b.whl?token=x#f"),
            "https://host.example/a/b.whl"
        );
        assert_eq!(display_url("http://127.0.0.1:9"), "http://127.0.0.1:9");
        assert_eq!(display_url("http://h/p"), "http://h/p");
    }
}
