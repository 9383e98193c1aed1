//! `infernet receipt verify FILE|ID`: checks a job receipt's signature against the key the
//! control plane publishes (`/.well-known/did.json`, or a saved copy with `--did`, which
//! needs no network).
use clap::{Args, Subcommand};
use infernet::control::receipt;
use infernet_core::wire::receipt::Receipt;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum ReceiptCommand {
    /// Check a receipt: a file, or a receipt or job id fetched from the control plane
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A receipt file (JSON), or a receipt id or job id
    pub target: String,
    /// The control plane (default: control_plane.url in the config)
    #[arg(long)]
    pub url: Option<String>,
    /// The control plane's DID document, saved (offline check)
    #[arg(long, value_name = "FILE")]
    pub did: Option<PathBuf>,
    /// Print the receipt as JSON after the check
    #[arg(long)]
    pub json: bool,
}

pub fn run(flag: Option<&Path>, cmd: ReceiptCommand) -> ExitCode {
    let ReceiptCommand::Verify(a) = cmd;
    let url = a.url.clone().or_else(|| {
        let env = |k: &str| std::env::var(k).ok();
        infernet::config::load_with(flag, &Default::default(), &env)
            .ok()
            .map(|l| l.config.control_plane.url)
            .filter(|u| !u.is_empty())
    });
    let rt = match super::runtime(Some(1)) {
        Ok(r) => r,
        Err(c) => return c,
    };
    rt.block_on(async move {
        match verify(&a, url.as_deref()).await {
            Ok(r) => {
                if a.json {
                    outln!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
                } else {
                    outln!(
                        "valid: receipt {} for job {} ({}), signed by {}\n  agent {}\n  artifact {}",
                        r.receipt_id, r.task_id, r.outcome, r.platform_did, r.agent_did, r.artifact_hash
                    );
                }
                ExitCode::SUCCESS
            }
            Err(Failure::Invalid(why)) => {
                eprintln!("invalid: {why}");
                ExitCode::FAILURE
            }
            Err(Failure::Usage(why)) => {
                eprintln!("error: {why}");
                ExitCode::from(2)
            }
        }
    })
}

enum Failure {
    /// The receipt does not check out.
    Invalid(String),
    /// It could not be checked (no such file or id, no control plane, a bad DID document).
    Usage(String),
}

async fn fetch(url: &str) -> Result<Value, Failure> {
    let r = reqwest::get(url)
        .await
        .map_err(|e| Failure::Usage(format!("{url}: {e}")))?;
    let status = r.status();
    let v: Value = r
        .json()
        .await
        .map_err(|e| Failure::Usage(format!("{url}: answered without JSON: {e}")))?;
    if !status.is_success() {
        let why = v["error"].as_str().unwrap_or("no reason given").to_string();
        return Err(Failure::Usage(format!("{url}: {status}: {why}")));
    }
    Ok(v)
}

fn read_json(p: &Path) -> Result<Value, Failure> {
    let text = std::fs::read_to_string(p)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", p.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Failure::Usage(format!("{} is not JSON: {e}", p.display())))
}

async fn verify(a: &VerifyArgs, url: Option<&str>) -> Result<Receipt, Failure> {
    let base = || {
        url.map(|u| u.trim_end_matches('/').to_string())
            .ok_or_else(|| {
                Failure::Usage("no control plane: pass --url (or set control_plane.url)".into())
            })
    };
    let path = Path::new(&a.target);
    let raw = if path.exists() {
        read_json(path)?
    } else {
        fetch(&format!("{}/api/v1/receipts/{}", base()?, a.target)).await?
    };
    let r: Receipt =
        serde_json::from_value(raw).map_err(|e| Failure::Invalid(format!("not a receipt: {e}")))?;
    let method = r
        .proof
        .as_ref()
        .map(|p| p.verification_method.clone())
        .ok_or_else(|| Failure::Invalid("the receipt has no proof".into()))?;
    let doc = match &a.did {
        Some(p) => read_json(p)?,
        None => fetch(&format!("{}/.well-known/did.json", base()?)).await?,
    };
    if doc["id"].as_str() != Some(r.platform_did.as_str()) {
        return Err(Failure::Invalid(format!(
            "the receipt names platform {} but the DID document is {}",
            r.platform_did,
            doc["id"].as_str().unwrap_or("(no id)")
        )));
    }
    let key = receipt::key_in(&doc, &method).map_err(|e| Failure::Usage(e.to_string()))?;
    receipt::verify(&r, &key).map_err(|e| Failure::Invalid(e.to_string()))?;
    Ok(r)
}
