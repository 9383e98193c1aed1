//! The control-plane operator's HTTP calls (admissions, keys): the admin token from
//! `INFERNET_ADMIN_TOKEN`, one request, the server's error said plainly.
use clap::Args;
use std::process::ExitCode;
use std::time::Duration;

/// Where the operator's calls go; the token is the server's INFERNET_ADMIN_TOKEN.
#[derive(Debug, Args)]
pub struct OperatorArgs {
    /// The control plane's URL
    #[arg(long, default_value = "http://127.0.0.1:4010", env = "INFERNET_CP_URL")]
    pub url: String,
    /// Print the server's answer as JSON
    #[arg(long)]
    pub json: bool,
}

/// One admin call; the answer's JSON, or the exit code after saying why not.
pub fn call(
    op: &OperatorArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<serde_json::Value, ExitCode> {
    let Some(token) = std::env::var("INFERNET_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
    else {
        eprintln!(
            "error: set INFERNET_ADMIN_TOKEN to the control plane's admin token (the one it was started with)"
        );
        return Err(ExitCode::from(2));
    };
    let rt = super::runtime(Some(1))?;
    let url = format!("{}{path}", op.url.trim_end_matches('/'));
    rt.block_on(async move {
        let mut req = reqwest::Client::new()
            .request(method, &url)
            .bearer_auth(token)
            .timeout(Duration::from_secs(15));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| {
            eprintln!("error: no answer from {}: {e}", op.url);
            ExitCode::FAILURE
        })?;
        let status = resp.status();
        let v: serde_json::Value = resp.json().await.unwrap_or_default();
        if !status.is_success() {
            eprintln!(
                "error: {} answered {status}: {}",
                op.url,
                v["error"].as_str().unwrap_or("(no reason given)")
            );
            return Err(ExitCode::FAILURE);
        }
        Ok(v)
    })
}
