//! `hf:<org>/<repo>[/<file>.gguf]` downloads from a Hugging Face compatible hub (`HF_ENDPOINT`,
//! `HF_TOKEN`): resumable (`<file>.part` plus HTTP Range), retried when the connection is cut.
use super::cause;
use futures::StreamExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

const RETRIES: u32 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HfSpec {
    pub repo: String,
    pub file: Option<String>,
}

/// Parses `hf:org/repo` or `hf:org/repo/path/file.gguf`.
pub fn parse_spec(s: &str) -> Option<HfSpec> {
    let rest = s.strip_prefix("hf:")?;
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    if parts.len() < 2 {
        return None;
    }
    let repo = format!("{}/{}", parts[0], parts[1]);
    let file = (parts.len() > 2).then(|| parts[2..].join("/"));
    Some(HfSpec { repo, file })
}

pub fn endpoint(env: &dyn Fn(&str) -> Option<String>) -> String {
    env("HF_ENDPOINT")
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "https://huggingface.co".into())
        .trim_end_matches('/')
        .to_string()
}

/// Where downloaded GGUFs live: `$XDG_DATA_HOME/infernet/models`.
pub fn models_dir(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    crate::config::data_dir(env).join("models")
}

/// GGUF files already downloaded, with their sizes.
pub fn local_ggufs(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "gguf") {
                out.push((p.clone(), e.metadata().map(|m| m.len()).unwrap_or(0)));
            }
        }
    }
    out.sort();
    out
}

pub struct Hub {
    endpoint: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Hub {
    pub fn new(env: &dyn Fn(&str) -> Option<String>, http: reqwest::Client) -> Self {
        Self {
            endpoint: endpoint(env),
            token: env("HF_TOKEN").filter(|t| !t.is_empty()),
            http,
        }
    }

    fn get(&self, url: &str) -> reqwest::RequestBuilder {
        let r = self.http.get(url);
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// The file to fetch: the one named, else the repo's Q4_K_M GGUF, else its first GGUF.
    pub async fn pick_file(&self, spec: &HfSpec) -> Result<String, String> {
        if let Some(f) = &spec.file {
            return Ok(f.clone());
        }
        let url = format!("{}/api/models/{}", self.endpoint, spec.repo);
        let r = self
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("cannot reach {}: {}", self.endpoint, cause(&e)))?;
        if !r.status().is_success() {
            return Err(format!("{url} answered HTTP {}", r.status().as_u16()));
        }
        let v: serde_json::Value = r
            .json()
            .await
            .map_err(|e| format!("{url} is not JSON: {e}"))?;
        let files: Vec<String> = v["siblings"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s["rfilename"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let ggufs: Vec<&String> = files.iter().filter(|f| f.ends_with(".gguf")).collect();
        ggufs
            .iter()
            .find(|f| f.to_ascii_lowercase().contains("q4_k_m"))
            .or(ggufs.first())
            .map(|f| (*f).clone())
            .ok_or_else(|| {
                format!(
                    "hf:{} has no .gguf file; name one: hf:{}/<file>.gguf",
                    spec.repo, spec.repo
                )
            })
    }

    /// Size of the file on the hub (for the fit check), when the hub says.
    pub async fn size(&self, spec: &HfSpec, file: &str) -> Option<u64> {
        let url = format!("{}/{}/resolve/main/{file}", self.endpoint, spec.repo);
        let r = self.http.head(&url).send().await.ok()?;
        r.headers()
            .get("content-length")?
            .to_str()
            .ok()?
            .parse()
            .ok()
    }

    /// Downloads into `dest` (through `dest.part`), resuming what is there, retrying cuts.
    /// `progress(done, total)` is called as bytes arrive.
    pub async fn download(
        &self,
        spec: &HfSpec,
        file: &str,
        dest: &Path,
        mut progress: impl FnMut(u64, Option<u64>),
    ) -> Result<(), String> {
        let url = format!("{}/{}/resolve/main/{file}", self.endpoint, spec.repo);
        let part = PathBuf::from(format!("{}.part", dest.display()));
        if let Some(dir) = dest.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| format!("cannot create '{}': {e}", dir.display()))?;
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.fetch_once(&url, &part, &mut progress).await {
                Ok(()) => break,
                Err((msg, retry)) if retry && attempt < RETRIES => {
                    tracing::warn!(url = %url, attempt, error = %msg, "download interrupted; resuming");
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

    /// One request from where the `.part` file ends. Err((message, worth retrying)).
    async fn fetch_once(
        &self,
        url: &str,
        part: &Path,
        progress: &mut impl FnMut(u64, Option<u64>),
    ) -> Result<(), (String, bool)> {
        let have = tokio::fs::metadata(part)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        let mut req = self.get(url);
        if have > 0 {
            req = req.header("range", format!("bytes={have}-"));
        }
        let r = req.send().await.map_err(|e| {
            (
                format!("cannot reach {}: {}", self.endpoint, cause(&e)),
                true,
            )
        })?;
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
        let mut body = r.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                (
                    format!(
                        "download of {url} was cut after {done} bytes: {}",
                        cause(&e)
                    ),
                    true,
                )
            })?;
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
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(
            parse_spec("hf:org/repo"),
            Some(HfSpec {
                repo: "org/repo".into(),
                file: None
            })
        );
        assert_eq!(
            parse_spec("hf:org/repo/sub/m-Q4_K_M.gguf"),
            Some(HfSpec {
                repo: "org/repo".into(),
                file: Some("sub/m-Q4_K_M.gguf".into())
            })
        );
        assert_eq!(parse_spec("hf:org"), None);
        assert_eq!(parse_spec("llama3.2"), None);
    }
}
