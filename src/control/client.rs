//! Signed calls to a control plane's node tier (`X-Infernet-Auth` v1, all POST + JSON), with
//! the bodies of `infernet_core::wire`.
use super::auth;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
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
}

#[derive(Debug, Clone)]
pub struct CpClient {
    base: String,
    http: reqwest::Client,
    key: NodeKey,
}

use crate::clock::now_s;

fn cause(e: &reqwest::Error) -> String {
    crate::backend::cause_of(e)
}

impl CpClient {
    pub fn new(base: &str, key: NodeKey) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            base: base.trim_end_matches('/').to_string(),
            http,
            key,
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> CpError {
        CpError::Unreachable {
            url: self.base.clone(),
            cause: cause(e),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
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
        let header =
            auth::sign(&self.key.0, "POST", path, &bytes, now_s()).map_err(CpError::Local)?;
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
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
            .map_err(|e| self.unreachable(&e))?;
        read(resp, path, &self.base).await
    }

    /// A dashboard login link for this node's key, valid for `ttl_s`.
    pub fn login_link(&self, ttl_s: i64) -> Result<String, CpError> {
        let l = auth::LoginLink::sign(&self.key.0, now_s() + ttl_s).map_err(CpError::Local)?;
        Ok(format!("{}/dashboard/login?{}", self.base, l.query()))
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
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        read(resp, path, &self.base).await
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
