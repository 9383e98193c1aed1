//! Calling a workflow container: `POST <base>/service_output` (reference ritual-node §4).
use bytes::Bytes;
use futures::Stream;
use serde_json::Value;
use std::time::Duration;

/// Where and how to reach one container.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub base_url: String,
    bearer: String,
    pub timeout: Duration,
}

impl Endpoint {
    pub fn new(id: &str, base_url: &str, bearer: &str, timeout: Duration) -> Self {
        Self {
            id: id.to_string(),
            base_url: base_url.trim_end_matches('/').to_string(),
            bearer: bearer.to_string(),
            timeout,
        }
    }
}

/// Base URL of a container: its `url` when unmanaged and given, else the published port on
/// this host (`host.docker.internal` when the node itself runs in Docker, `RUNTIME=docker`).
pub fn endpoint_base(spec: &crate::config::ContainerConfig, managed: bool) -> String {
    if !managed && !spec.url.is_empty() {
        return spec.url.trim_end_matches('/').to_string();
    }
    if std::env::var("RUNTIME").is_ok_and(|r| r == "docker") {
        return format!("http://host.docker.internal:{}", spec.port);
    }
    let host = match spec.host_ip.parse::<std::net::IpAddr>() {
        Ok(ip) if ip.is_unspecified() && ip.is_ipv6() => "[::1]".to_string(),
        Ok(ip) if ip.is_unspecified() => "127.0.0.1".to_string(),
        Ok(std::net::IpAddr::V6(v6)) => format!("[{v6}]"),
        Ok(ip) => ip.to_string(),
        Err(_) => "127.0.0.1".to_string(),
    };
    format!("http://{host}:{}", spec.port)
}

/// A failed container call, with a reason an operator can act on.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("{reason}")]
pub struct ContainerError {
    pub container: String,
    pub reason: String,
}

const SNIPPET: usize = 512;

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let s = s.trim();
    if s.len() <= SNIPPET {
        return s.to_string();
    }
    let mut end = SNIPPET;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

/// The innermost cause of a reqwest error ("Connection refused (os error 111)").
fn root_cause(e: &reqwest::Error) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// One pooled HTTP client for every container call.
#[derive(Debug, Clone)]
pub struct HttpContainers {
    client: reqwest::Client,
}

impl Default for HttpContainers {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpContainers {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self { client }
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn request(&self, ep: &Endpoint, body: &Value) -> reqwest::RequestBuilder {
        let url = format!("{}/service_output", ep.base_url);
        let mut req = self.client.post(url).json(body);
        if !ep.bearer.is_empty() {
            req = req.bearer_auth(&ep.bearer);
        }
        req
    }

    fn transport_error(
        &self,
        ep: &Endpoint,
        e: &reqwest::Error,
        timeout: Duration,
    ) -> ContainerError {
        let reason = if e.is_timeout() {
            format!(
                "container '{}' did not answer within {} s",
                ep.id,
                timeout.as_secs_f64()
            )
        } else if e.is_connect() {
            format!(
                "container '{}' is unreachable at {}: {}",
                ep.id,
                ep.base_url,
                root_cause(e)
            )
        } else {
            format!("container '{}' request failed: {}", ep.id, root_cause(e))
        };
        ContainerError {
            container: ep.id.clone(),
            reason,
        }
    }

    /// A normal call: the reply must be 2xx and JSON.
    pub async fn call(&self, ep: &Endpoint, body: &Value) -> Result<Value, ContainerError> {
        let resp = self
            .request(ep, body)
            .timeout(ep.timeout)
            .send()
            .await
            .map_err(|e| self.transport_error(ep, &e, ep.timeout))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| self.transport_error(ep, &e, ep.timeout))?;
        let err = |reason: String| ContainerError {
            container: ep.id.clone(),
            reason,
        };
        if !status.is_success() {
            return Err(err(format!(
                "container '{}' answered HTTP {}: {}",
                ep.id,
                status.as_u16(),
                snippet(&bytes)
            )));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            err(format!(
                "container '{}' replied with non-JSON ({e}): {}",
                ep.id,
                snippet(&bytes)
            ))
        })
    }

    /// A streaming call: returns the reply's bytes as they arrive; `idle` bounds the silence
    /// before the first byte and between chunks, with no overall cap.
    pub async fn call_stream(
        &self,
        ep: &Endpoint,
        body: &Value,
        idle: Duration,
    ) -> Result<impl Stream<Item = Result<Bytes, ContainerError>> + Send + 'static, ContainerError>
    {
        let resp = tokio::time::timeout(idle, self.request(ep, body).send())
            .await
            .map_err(|_| ContainerError {
                container: ep.id.clone(),
                reason: format!(
                    "container '{}' did not answer within {} s",
                    ep.id,
                    idle.as_secs_f64()
                ),
            })?
            .map_err(|e| self.transport_error(ep, &e, idle))?;
        let status = resp.status();
        if !status.is_success() {
            let bytes = resp.bytes().await.unwrap_or_default();
            return Err(ContainerError {
                container: ep.id.clone(),
                reason: format!(
                    "container '{}' answered HTTP {}: {}",
                    ep.id,
                    status.as_u16(),
                    snippet(&bytes)
                ),
            });
        }
        // Each chunk is awaited under the idle timeout; no task or channel in between.
        let inner = Box::pin(resp.bytes_stream());
        let state = Some((inner, ep.id.clone()));
        Ok(futures::stream::unfold(state, move |state| async move {
            use futures::StreamExt;
            let (mut inner, id) = state?;
            match tokio::time::timeout(idle, inner.next()).await {
                Ok(None) => None,
                Ok(Some(Ok(b))) => Some((Ok(b), Some((inner, id)))),
                Ok(Some(Err(e))) => {
                    let reason = format!("container '{id}' stream broke: {}", root_cause(&e));
                    Some((
                        Err(ContainerError {
                            container: id,
                            reason,
                        }),
                        None,
                    ))
                }
                Err(_) => {
                    let reason = format!(
                        "container '{id}' stream was idle for {} s",
                        idle.as_secs_f64()
                    );
                    Some((
                        Err(ContainerError {
                            container: id,
                            reason,
                        }),
                        None,
                    ))
                }
            }
        }))
    }
}
