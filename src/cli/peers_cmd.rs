//! `infernet peers [--json]`: the running node's c0mpute peer table (its `/api/p2p/peers`).
use super::daemon_cmd;
use serde_json::Value;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct PeersArgs {
    /// The node's answer as JSON
    #[arg(long)]
    pub json: bool,
}

/// The running node's REST address (`127.0.0.1:4000`), from the daemon itself.
pub(super) async fn daemon_rest() -> Result<String, String> {
    let paths = infernet::daemon::Paths::from_env().map_err(|e| e.to_string())?;
    let not_running = || "the node is not running: start it with `infernet start`".to_string();
    if !paths.sock.exists() {
        return Err(not_running());
    }
    let v = infernet::daemon::ipc::call(&paths.sock, "status", Value::Null, Duration::from_secs(3))
        .await
        .map_err(|e| match e {
            infernet::daemon::ipc::ClientError::Unreachable { .. } => not_running(),
            e => e.to_string(),
        })?;
    v["rest"]
        .as_str()
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .ok_or_else(|| "the node did not say where its REST API is".to_string())
}

pub fn run(args: PeersArgs) -> ExitCode {
    let (_, status) = match daemon_cmd::ask("status") {
        Ok(x) => x,
        Err(c) => return c,
    };
    let Some(status) = status else {
        eprintln!("infernet daemon: not running (start it with `infernet start`)");
        return ExitCode::from(3);
    };
    let rest = status["rest"].as_str().unwrap_or_default().to_string();
    let url = format!("http://{rest}/api/p2p/peers");
    let got = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            rt.block_on(async {
                let r = reqwest::Client::new()
                    .get(&url)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await
                    .map_err(|e| format!("{url}: {}", infernet::backend::cause_of(&e)))?;
                let code = r.status();
                let v: Value = r.json().await.map_err(|e| format!("{url}: {e}"))?;
                Ok::<_, String>((code, v))
            })
        });
    let (code, v) = match got {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !code.is_success() {
        eprintln!(
            "error: {}",
            v["error"].as_str().unwrap_or("the node refused")
        );
        return ExitCode::FAILURE;
    }
    if args.json {
        outln!("{v}");
        return ExitCode::SUCCESS;
    }
    if v["enabled"] == false {
        eprintln!(
            "{}",
            v["reason"].as_str().unwrap_or("p2p is off on this node")
        );
        return ExitCode::FAILURE;
    }
    print_table(&v);
    ExitCode::SUCCESS
}

fn print_table(v: &Value) {
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_string();
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    outln!("peer id     {}", s(v, "peer_id"));
    for a in list(&v["listen"]) {
        outln!("listening   {a}");
    }
    outln!(
        "connected   {} peer(s); ads sent {}, taken {}, refused {}",
        list(&v["connected"]).len(),
        v["ads_sent"],
        v["ads_taken"],
        v["refused"]
    );
    let peers = v["peers"].as_array().cloned().unwrap_or_default();
    if peers.is_empty() {
        outln!("no peers heard from yet");
        return;
    }
    let now = infernet::clock::now_ms();
    outln!(
        "\n{:<20} {:<8} {:>8} {:>9}  MODELS",
        "PEER",
        "GPU",
        "LAST AD",
        "BIDS W/L"
    );
    for p in peers {
        let id = s(&p, "peer_id");
        let short = if id.len() > 18 {
            format!("…{}", &id[id.len() - 17..])
        } else {
            id
        };
        let age = (now - p["ad_received_ms"].as_i64().unwrap_or(now)).max(0) / 1000;
        outln!(
            "{:<20} {:<8} {:>7}s {:>4}/{:<4}  {}",
            short,
            p["gpu"].as_str().unwrap_or("-"),
            age,
            p["bids_won"],
            p["bids_lost"],
            list(&p["models"]).join(", ")
        );
    }
}
