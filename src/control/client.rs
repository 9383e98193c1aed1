//! Signed calls to a control plane's node tier (`X-Infernet-Auth` v1, all POST + JSON), with
//! the bodies of `infernet_core::wire`.
use super::auth;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum CpError {
    /// Nothing answered (or the answer was cut): worth retrying later.
    #[error("control plane unreachable at {url}: {cause}")]
    Unreachable { url: String, cause: String },
    /// The server answered with an error status and its message.
    #[error("control plane refused {path}: HTTP {status}: {message}")]
    Status {
        path: String,
        status: u16,
        message: String,
    },
    #[error("{0}")]
    Local(String),
}

impl CpError {
    /// Transport errors, 5xx and 429 are worth retrying; other 4xx are final.
    pub fn retryable(&self) -> bool {
        match self {
            CpError::Unreachable { .. } => true,
            CpError::Status { status, .. } => *status >= 500 || *status == 429,
            CpError::Local(_) => false,
        }
    }
    pub fn status(&self) -> Option<u16> {
        match self {
            CpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The node's signing key; never printed.
#[derive(Clone)]
pub struct NodeKey([u8; 32]);

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeKey(<redacted>)")
    }
}

impl NodeKey {
    pub fn from_secret(s: &crate::config::Secret) -> Result<Self, String> {
        let signer = crate::identity::node_key::parse_key(s.expose())?;
        let bytes: [u8; 32] = signer.to_bytes().into();
        Ok(Self(bytes))
    }

    /// The node identity from the secret store of `dir` (the config directory).
    pub fn load(dir: &std::path::Path) -> Result<Self, String> {
        let secrets = crate::identity::Secrets::new(dir);
        match secrets.get(crate::identity::node_key::NODE_IDENTITY) {
            Ok(Some((s, _))) => Self::from_secret(&s),
            Ok(None) => Err("no node identity: run `infernet init` first".into()),
            Err(e) => Err(format!("cannot read the node identity: {e}")),
        }
    }

    pub fn public_key(&self) -> String {
        auth::public_key(&self.0).unwrap_or_default()
    }

    /// The secret's bytes, for deriving this node's libp2p identity from the same key (one
    /// key is the node everywhere). Never print them.
    pub(crate) fn secret_bytes(&self) -> [u8; 32] {
        self.0
    }
}

/// A node's signed client for one control plane served by one or more replicas (or one URL
/// in front of a load balancer). Calls go to the replica that answered last; one that does
/// not answer (or answers 502/503/504) hands the call to the next in turn, and the node
/// stays there: every node-tier call is safe to repeat (event batches are numbered,
/// `complete` and heartbeats are idempotent, a lost claim's lease runs out).
#[derive(Debug, Clone)]
pub struct CpClient {
    bases: Arc<[String]>,
    current: Arc<AtomicUsize>,
    http: reqwest::Client,
    key: NodeKey,
}

/// Whether a call that failed with `e` is worth sending to another replica now.
fn try_another(e: &CpError) -> bool {
    match e {
        CpError::Unreachable { .. } => true,
        CpError::Status { status, .. } => matches!(status, 502..=504),
        CpError::Local(_) => false,
    }
}

use crate::clock::now_s;

fn cause(e: &reqwest::Error) -> String {
    crate::backend::cause_of(e)
}

impl CpClient {
    pub fn new(base: &str, key: NodeKey) -> Self {
        Self::replicas(&[base.to_string()], key)
    }

    /// A client for the replicas at `bases` (in the order tried; at least one).
    pub fn replicas(bases: &[String], key: NodeKey) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        let mut list: Vec<String> = Vec::with_capacity(bases.len().max(1));
        for b in bases {
            let b = b.trim_end_matches('/').to_string();
            if !b.is_empty() && !list.contains(&b) {
                list.push(b);
            }
        }
        if list.is_empty() {
            list.push(String::new());
        }
        Self {
            bases: list.into(),
            current: Arc::new(AtomicUsize::new(0)),
            http,
            key,
        }
    }

    /// The replica calls go to now.
    pub fn base(&self) -> &str {
        let i = self.current.load(Ordering::Relaxed) % self.bases.len();
        &self.bases[i]
    }

    /// Every replica, in the order tried.
    pub fn bases(&self) -> &[String] {
        &self.bases
    }

    /// Sends `send` to the current replica and, while it fails in a way another replica
    /// might not, to each other one in turn (once each); the first that answers becomes
    /// current. The last failure is returned when none answered.
    async fn on_replicas<R, F, Fut>(&self, send: F) -> Result<R, CpError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<R, CpError>>,
    {
        let n = self.bases.len();
        let start = self.current.load(Ordering::Relaxed) % n;
        let mut last = None;
        for k in 0..n {
            let i = (start + k) % n;
            match send(self.bases[i].clone()).await {
                Err(e) if try_another(&e) && k + 1 < n => {
                    tracing::warn!(error = %e, next = %self.bases[(i + 1) % n], "control plane replica did not answer; trying the next");
                    last = Some(e);
                }
                other => {
                    if k > 0 {
                        // Stay where an answer came from (unless another call moved on).
                        let _ = self.current.compare_exchange(
                            start,
                            i,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        );
                    }
                    return other;
                }
            }
        }
        Err(last.unwrap_or_else(|| CpError::Local("no control plane URL".into())))
    }

    pub fn public_key(&self) -> String {
        self.key.public_key()
    }

    /// A signed POST of `body`; reads the answer's `data` (of `{"data": …}`, or the whole
    /// answer) as `R`. The signature covers exactly the bytes sent.
    pub async fn call<B, R>(&self, path: &str, body: &B, timeout: Duration) -> Result<R, CpError>
    where
        B: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        self.call_as(path, body, None, timeout).await
    }

    /// [`CpClient::call`] with an account's bearer token too (the user tier's pubkey link).
    pub async fn call_as<B, R>(
        &self,
        path: &str,
        body: &B,
        bearer: Option<&crate::config::Secret>,
        timeout: Duration,
    ) -> Result<R, CpError>
    where
        B: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let bytes = serde_json::to_vec(body).map_err(|e| CpError::Local(e.to_string()))?;
        self.on_replicas(|base| {
            let bytes = bytes.clone();
            async move {
                // Signed per attempt: each carries a fresh nonce.
                let header = auth::sign(&self.key.0, "POST", path, &bytes, now_s())
                    .map_err(CpError::Local)?;
                let mut req = self
                    .http
                    .post(format!("{base}{path}"))
                    .header(auth::HEADER, header)
                    .header("content-type", "application/json");
                if let Some(b) = bearer {
                    req = req.bearer_auth(b.expose());
                }
                let resp = req
                    .timeout(timeout)
                    .body(bytes)
                    .send()
                    .await
                    .map_err(|e| unreachable(&base, &e))?;
                read(resp, path, &base).await
            }
        })
        .await
    }

    /// A dashboard login link for this node's key, valid for `ttl_s`.
    pub fn login_link(&self, ttl_s: i64) -> Result<String, CpError> {
        let l = auth::LoginLink::sign(&self.key.0, now_s() + ttl_s).map_err(CpError::Local)?;
        Ok(format!("{}/dashboard/login?{}", self.base(), l.query()))
    }

    /// [`CpClient::call`] for an answer read as free-form JSON.
    pub async fn post<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<Value, CpError> {
        self.call(path, body, timeout).await
    }

    /// An unsigned GET (public endpoints); reads the answer like [`CpClient::call`].
    pub async fn get<R: DeserializeOwned>(
        &self,
        path: &str,
        timeout: Duration,
    ) -> Result<R, CpError> {
        self.on_replicas(|base| async move {
            let resp = self
                .http
                .get(format!("{base}{path}"))
                .timeout(timeout)
                .send()
                .await
                .map_err(|e| unreachable(&base, &e))?;
            read(resp, path, &base).await
        })
        .await
    }
}

fn unreachable(base: &str, e: &reqwest::Error) -> CpError {
    CpError::Unreachable {
        url: base.to_string(),
        cause: cause(e),
    }
}

async fn read<R: DeserializeOwned>(
    resp: reqwest::Response,
    path: &str,
    base: &str,
) -> Result<R, CpError> {
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| CpError::Unreachable {
        url: base.to_string(),
        cause: cause(&e),
    })?;
    if !status.is_success() {
        return Err(CpError::Status {
            path: path.to_string(),
            status: status.as_u16(),
            message: crate::backend::error_text(&body),
        });
    }
    let refused = |what: &str, e: serde_json::Error| CpError::Status {
        path: path.to_string(),
        status: status.as_u16(),
        message: format!("{what}: {e}"),
    };
    let v: Value = serde_json::from_slice(&body).map_err(|e| refused("answer is not JSON", e))?;
    // Node-tier answers are `{"data": …}`; public ones are the body itself.
    let data = match v {
        Value::Object(mut o) if o.contains_key("data") => o.remove("data").unwrap_or_default(),
        v => v,
    };
    serde_json::from_value(data).map_err(|e| refused("unexpected answer", e))
}
