//! `hf:<org>/<repo>[/<file>.gguf]` downloads from a Hugging Face compatible hub (`HF_ENDPOINT`,
//! `HF_TOKEN`), through the resumable downloader.
use super::cause;
use super::download::{self, tls_reqwest};
use std::path::{Path, PathBuf};

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
            let hidden = e.file_name().to_string_lossy().starts_with('.');
            if p.is_dir() {
                // Hidden folders hold downloads in progress.
                if !hidden {
                    stack.push(p);
                }
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
    http: Result<tls_reqwest::Client, String>,
}

impl Hub {
    pub fn new(env: &dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            endpoint: endpoint(env),
            token: env("HF_TOKEN").filter(|t| !t.is_empty()),
            http: download::client(),
        }
    }

    fn get(&self, url: &str) -> Result<tls_reqwest::RequestBuilder, String> {
        let r = self.http.as_ref().map_err(Clone::clone)?.get(url);
        Ok(match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        })
    }

    /// The file to fetch: the one named, else the repo's Q4_K_M GGUF, else its first GGUF.
    pub async fn pick_file(&self, spec: &HfSpec) -> Result<String, String> {
        if let Some(f) = &spec.file {
            return Ok(f.clone());
        }
        let url = format!("{}/api/models/{}", self.endpoint, spec.repo);
        let r = self
            .get(&url)?
            .send()
            .await
            .map_err(|e| format!("cannot reach {}: {}", self.endpoint, cause(&e)))?;
        if !r.status().is_success() {
            return Err(format!("{url} answered HTTP {}", r.status().as_u16()));
        }
        let body = r
            .bytes()
            .await
            .map_err(|e| format!("cannot read {url}: {}", cause(&e)))?;
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| format!("{url} is not JSON: {e}"))?;
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
        let r = self.http.as_ref().ok()?.head(&url).send().await.ok()?;
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
        progress: impl FnMut(u64, Option<u64>),
    ) -> Result<(), String> {
        let url = format!("{}/{}/resolve/main/{file}", self.endpoint, spec.repo);
        let http = self.http.as_ref().map_err(Clone::clone)?;
        super::download::Download {
            http,
            url: &url,
            bearer: self.token.as_deref(),
            auth_hint: "set HF_TOKEN for gated or private repositories",
        }
        .to(dest, progress)
        .await
        .map_err(|e| {
            let hint = if e.message.contains("HTTP 404") {
                ": check the repository and file name"
            } else if e.retry {
                "; the partial file is kept: run the same command again to resume"
            } else {
                ""
            };
            format!("{e}{hint}")
        })
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
