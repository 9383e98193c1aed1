//! Secrets never leave the process: a node whose RPC URL carries credentials
//! (`http://user:PASS@host/v2/KEY`, the shape of hosted RPC endpoints) and whose RPC is down
//! reports the failure everywhere, and no output surface shows the password or the key:
//! `/info` (unauthenticated), `status --json`, `config check --json`, `debug`, `doctor --json`,
//! the node's JSON log and its stderr.
mod common;

use common::*;
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;

const PASSWORD: &str = "Pa55w0rdSecret";
const PATH_KEY: &str = "0123456789abcdefKEYKEY";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_credentials_show_on_no_output_surface() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let port = free_port();
    let dead = free_port();
    let rpc = format!("http://operator:{PASSWORD}@127.0.0.1:{dead}/v2/{PATH_KEY}");
    let cfg_path = h.join("infernet/config.json");
    std::fs::create_dir_all(cfg_path.parent().unwrap()).unwrap();
    let cfg = json!({
        "server": {"port": port, "bind": "127.0.0.1"},
        "log": {"path": h.join("node.log")},
        "store": {"path": h.join("node.db")},
        "chain": {
            "enabled": true,
            "rpc_url": rpc,
            "registry_address": "0x663F3ad617193148711d28f5334eE4Ed07016602",
            "wallet": {"private_key": format!("0x{}", "59".repeat(32))}
        }
    });
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let stderr = std::fs::File::create(h.join("node.stderr")).unwrap();
    let mut node = infernet_cmd(h)
        .args(["start", "--foreground"])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let c = http();
    // The RPC failure is reported (so its text, which quotes the URL, is out there).
    let info: Value = eventually(
        "/info to report the RPC failure",
        Duration::from_secs(60),
        || {
            let (c, u) = (c.clone(), format!("{base}/info"));
            async move {
                let v: Value = c.get(u).send().await.ok()?.json().await.ok()?;
                let st = &v["chain"]["status"];
                (st["error"].is_string() || st["rpc"]["last_error"].is_string()).then_some(v)
            }
        },
    )
    .await;

    let run = |args: &[&str]| {
        let out = infernet_cmd(h).args(args).output().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let debug_file = h.join("debug.md");
    let mut surfaces = vec![
        ("/info", info.to_string()),
        ("status --json", run(&["status", "--json"])),
        ("config check --json", run(&["config", "check", "--json"])),
        ("doctor --json", run(&["doctor", "--json", "--skip-e2e"])),
        ("debug", run(&["debug", "-o", debug_file.to_str().unwrap()])),
    ];
    surfaces.push((
        "debug bundle",
        std::fs::read_to_string(&debug_file).unwrap_or_default(),
    ));
    // SAFETY: signalling our own child; the logs are complete once it has exited.
    unsafe { libc::kill(node.id() as i32, libc::SIGTERM) };
    node.wait().unwrap();
    surfaces.push((
        "node.log",
        std::fs::read_to_string(h.join("node.log")).unwrap(),
    ));
    surfaces.push((
        "node stderr",
        std::fs::read_to_string(h.join("node.stderr")).unwrap(),
    ));
    for (name, text) in &surfaces {
        assert!(!text.is_empty(), "{name} is empty");
        assert!(
            !text.contains(PASSWORD),
            "{name} shows the password:\n{text}"
        );
        assert!(
            !text.contains(PATH_KEY),
            "{name} shows the path key:\n{text}"
        );
    }
    // The URL is still recognisable where it is shown, with its secrets hidden.
    let config = &surfaces[2].1;
    assert!(
        config.contains(&format!(
            "http://operator:<redacted>@127.0.0.1:{dead}/<redacted>"
        )),
        "{config}"
    );
    let log = &surfaces[surfaces.len() - 2].1;
    assert!(log.contains("RPC endpoint failing"), "{log}");
}
