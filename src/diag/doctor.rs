//! `infernet doctor`: independent checks of everything the node depends on, each with what is
//! wrong and the exact fix. A failed check never stops the others.
use crate::backend::Backends;
use crate::config::{self, Config, Overrides, Source};
use crate::daemon::{Paths, ipc};
use crate::identity::{Location, Secrets};
use serde::Serialize;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    Skip,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn check(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        status,
        // Details quote errors, and errors quote URLs with their credentials.
        detail: crate::config::scrub::scrub(&detail.into()).into_owned(),
        fix: None,
    }
}

impl Check {
    fn fix(mut self, f: impl Into<String>) -> Self {
        // Fixes quote the configured URLs too.
        self.fix = Some(crate::config::scrub::scrub(&f.into()).into_owned());
        self
    }
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub skip_e2e: bool,
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

/// Runs every check.
pub async fn run(flag: Option<&Path>, opts: &Options) -> Vec<Check> {
    let mut out = Vec::new();
    let loaded = config::load(flag, &Overrides::default());
    let cfg = match &loaded {
        Ok(l) => {
            out.push(config_check(l, flag));
            Some(l.config.clone())
        }
        Err(e) => {
            out.push(
                check("config", Status::Fail, e.to_string())
                    .fix("correct the file; `infernet config check` shows the effective settings"),
            );
            None
        }
    };
    let paths = Paths::from_env().ok();
    out.push(identity_check(paths.as_ref()));
    let daemon = match &paths {
        Some(p) if p.sock.exists() => {
            ipc::call(&p.sock, "status", Value::Null, Duration::from_secs(3))
                .await
                .ok()
        }
        _ => None,
    };
    if let Some(cfg) = &cfg {
        out.push(docker_check(cfg).await);
        out.extend(container_checks(cfg, daemon.as_ref()).await);
        out.extend(backend_checks(cfg).await);
        out.push(chain_check(cfg).await);
    } else {
        for name in ["docker", "containers", "backends", "chain"] {
            out.push(check(
                name,
                Status::Skip,
                "not checked: the config does not load",
            ));
        }
    }
    out.push(match &cfg {
        Some(c) => control_plane_check(c, daemon.as_ref()).await,
        None => check(
            "control plane",
            Status::Skip,
            "not checked: the config does not load",
        ),
    });
    out.push(match &daemon {
        Some(s) => check(
            "daemon",
            Status::Ok,
            format!(
                "running (pid {}, REST {}, config {})",
                s["pid"],
                s["rest"].as_str().unwrap_or("?"),
                s["config"].as_str().unwrap_or("?")
            ),
        ),
        None => check("daemon", Status::Warn, "not running")
            .fix("infernet start (or `infernet service install --enable` to run it under systemd)"),
    });
    let e2e_checks = if opts.skip_e2e {
        vec![check(
            "end-to-end job",
            Status::Skip,
            "skipped (--skip-e2e)",
        )]
    } else {
        match (&daemon, &cfg) {
            (Some(s), Some(c)) => e2e(s, c).await,
            _ => vec![check(
                "end-to-end job",
                Status::Skip,
                "needs a running node: `infernet start`, then `infernet doctor` again",
            )],
        }
    };
    out.extend(e2e_checks);
    out
}

fn config_check(l: &config::Loaded, flag: Option<&Path>) -> Check {
    let _ = flag;
    let mut c = match &l.source {
        Source::File(p) => {
            let mut c = check("config", Status::Ok, format!("{} is valid", p.display()));
            if let Some(w) = secret_readable(p, &l.config) {
                c = check("config", Status::Warn, w).fix(format!("chmod 600 {}", p.display()));
            }
            c
        }
        Source::Defaults { searched } => check(
            "config",
            Status::Warn,
            format!(
                "no config file (looked at {}); the node runs on built-in defaults: REST on 127.0.0.1 only, no containers, the embedded engine on the default model as backend 'llm' (unless INFERNET_DEFAULT_MODEL=off)",
                searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            ),
        )
        .fix("infernet setup (or `infernet tui` for the wizard)"),
    };
    if !l.warnings.is_empty() && c.status == Status::Ok {
        c.status = Status::Warn;
        c.detail = format!("{}; {}", c.detail, l.warnings.join("; "));
    }
    c
}

/// A config file holding a secret inline should not be readable by others.
fn secret_readable(p: &Path, cfg: &Config) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(p).ok()?.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return None;
    }
    let text = std::fs::read_to_string(p).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let inline = v
        .pointer("/chain/wallet/private_key")
        .is_some_and(|k| k.as_str().is_some_and(|s| !s.is_empty()))
        || v.pointer("/docker/password")
            .is_some_and(|k| k.as_str().is_some_and(|s| !s.is_empty()))
        || cfg
            .backends
            .iter()
            .any(|b| !b.api_key.expose().is_empty() && text.contains(b.api_key.expose()));
    inline.then(|| {
        format!(
            "{} holds a secret and is readable by others (mode {mode:o}); or move the secret to the keyring with `infernet secret set`",
            p.display()
        )
    })
}

fn identity_check(paths: Option<&Paths>) -> Check {
    let Some(p) = paths else {
        return check(
            "identity",
            Status::Fail,
            "cannot find the config directory (set HOME)",
        );
    };
    match crate::identity::node_key::load(&Secrets::new(&p.dir)) {
        Ok(Some(id)) => {
            let mut c = check(
                "identity",
                Status::Ok,
                format!("{} ({})", id.public_key, id.location),
            );
            if matches!(id.location, Location::File { .. }) {
                c.status = Status::Warn;
                c = c.fix("install and unlock a Secret Service keyring (e.g. gnome-keyring) to keep keys out of files");
            }
            c
        }
        Ok(None) => check("identity", Status::Warn, "no node identity yet").fix("infernet init"),
        Err(e) => check("identity", Status::Fail, e).fix("infernet init --force creates a new one"),
    }
}

const DOCKER_FIX: &str = "start the engine: sudo systemctl start docker (install it: sudo apt-get install docker.io); let your user reach it: sudo usermod -aG docker $USER, then log in again";

async fn docker_check(cfg: &Config) -> Check {
    if !cfg.manage_containers || cfg.containers.is_empty() {
        return check(
            "docker",
            Status::Skip,
            "no managed containers (manage_containers is false or none configured)",
        );
    }
    let host = env("DOCKER_HOST").unwrap_or_else(|| "unix:///var/run/docker.sock".into());
    let docker = match bollard::Docker::connect_with_local_defaults() {
        Ok(d) => d,
        Err(e) => {
            return check(
                "docker",
                Status::Fail,
                format!("cannot use the Docker engine at {host}: {e}"),
            )
            .fix(DOCKER_FIX);
        }
    };
    match tokio::time::timeout(Duration::from_secs(5), docker.version()).await {
        Ok(Ok(v)) => check(
            "docker",
            Status::Ok,
            format!("Docker {} answers at {host}", v.version.unwrap_or_default()),
        ),
        Ok(Err(e)) => check(
            "docker",
            Status::Fail,
            format!("the Docker engine at {host} does not answer: {e}"),
        )
        .fix(DOCKER_FIX),
        Err(_) => check(
            "docker",
            Status::Fail,
            format!("the Docker engine at {host} did not answer within 5 s"),
        )
        .fix(DOCKER_FIX),
    }
}

async fn container_checks(cfg: &Config, daemon: Option<&Value>) -> Vec<Check> {
    let mut out = Vec::new();
    let docker = bollard::Docker::connect_with_local_defaults().ok();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap_or_default();
    for c in &cfg.containers {
        let name = format!("container {}", c.id);
        let live = daemon.and_then(|d| {
            d["containers"]
                .as_array()?
                .iter()
                .find(|x| x["id"] == c.id.as_str())
                .cloned()
        });
        if let Some(l) = live {
            let state = l["state"].as_str().unwrap_or("?");
            let reason = l["reason"].as_str().unwrap_or("");
            out.push(match state {
                "ready" => check(
                    &name,
                    Status::Ok,
                    format!("ready in the running node ({})", c.image),
                ),
                "starting" | "pulling" => check(&name, Status::Warn, format!("{state} {reason}")),
                _ => check(&name, Status::Fail, format!("{state}: {reason}")).fix(
                    "`infernet logs` shows why; restart it from the TUI (Containers panel, r)",
                ),
            });
            continue;
        }
        if cfg.manage_containers && !c.external {
            let Some(d) = &docker else {
                out.push(check(&name, Status::Skip, "Docker is not reachable"));
                continue;
            };
            out.push(
                match tokio::time::timeout(Duration::from_secs(5), d.inspect_image(&c.image)).await
                {
                    Ok(Ok(_)) => check(&name, Status::Ok, format!("image {} is present", c.image)),
                    Ok(Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    })) => check(
                        &name,
                        Status::Warn,
                        format!(
                            "image {} is not pulled yet; the node pulls it when it starts",
                            c.image
                        ),
                    )
                    .fix(format!("docker pull {} (or build it)", c.image)),
                    Ok(Err(e)) => check(
                        &name,
                        Status::Fail,
                        format!("cannot inspect image {}: {e}", c.image),
                    ),
                    Err(_) => check(&name, Status::Fail, "Docker did not answer within 5 s"),
                },
            );
        } else {
            let base = crate::compute::container::endpoint_base(c, cfg.manage_containers);
            out.push(match http.get(&base).send().await {
                Ok(r) => check(
                    &name,
                    Status::Ok,
                    format!("{base} answers (HTTP {})", r.status().as_u16()),
                ),
                Err(e) => check(&name, Status::Fail, format!("{base} does not answer: {e}"))
                    .fix("start that service, or correct its url/port in config.json"),
            });
        }
    }
    out
}

async fn backend_checks(cfg: &Config) -> Vec<Check> {
    let http = reqwest::Client::new();
    let backends = match Backends::from_config(&cfg.backends, &env, http.clone()) {
        Ok(b) => b,
        Err(e) => return vec![check("backends", Status::Fail, e.to_string())],
    };
    if backends.all().is_empty() {
        let found: Vec<String> = crate::backend::detect::detect(
            &http,
            &crate::backend::detect::default_candidates(&env),
        )
        .await
        .into_iter()
        .filter(|p| p.answered)
        .map(|p| format!("{} at {}", p.kind.name(), p.url))
        .collect();
        return vec![if found.is_empty() {
            check("backends", Status::Warn, "no LLM backend configured or running on this machine (chat and LLM jobs need one)")
                .fix("install one (e.g. Ollama) and run `infernet setup`, or use the embedded engine: `infernet model pull hf:<org>/<repo>`")
        } else {
            check(
                "backends",
                Status::Ok,
                format!("none configured; found {} (chat uses it)", found.join(", ")),
            )
        }];
    }
    let mut out = Vec::new();
    for b in backends.all() {
        let name = format!("backend {}", b.id());
        if b.default_model() == Some(crate::backend::default_model::FILE)
            && let Some(src) = crate::backend::default_model::Source::from_env(&env)
            && !src.present()
        {
            out.push(
                check(
                    &name,
                    Status::Warn,
                    format!(
                        "the default model {} is not downloaded yet (the node fetches it from {} on start and on first use)",
                        crate::backend::default_model::LABEL,
                        crate::backend::download::display_url(&src.url)
                    ),
                )
                .fix("infernet model pull default"),
            );
            continue;
        }
        out.push(
            match tokio::time::timeout(Duration::from_secs(5), b.models()).await {
                Ok(Ok(models)) => match b.default_model() {
                    Some(m) if !m.is_empty() && !models.iter().any(|x| x.name == m) => check(
                        &name,
                        Status::Fail,
                        format!(
                            "{} at {} answers but does not have the model '{m}' ({} models)",
                            b.kind().name(),
                            b.url(),
                            models.len()
                        ),
                    )
                    .fix(format!("infernet model pull {m} --backend {}", b.id())),
                    m => check(
                        &name,
                        Status::Ok,
                        format!(
                            "{} at {}: {} model{}{}",
                            b.kind().name(),
                            b.url(),
                            models.len(),
                            if models.len() == 1 { "" } else { "s" },
                            m.filter(|m| !m.is_empty())
                                .map(|m| format!(", default '{m}' present"))
                                .unwrap_or_default()
                        ),
                    ),
                },
                Ok(Err(e)) => check(
                    &name,
                    Status::Fail,
                    format!("{} at {} is not reachable: {e}", b.kind().name(), b.url()),
                )
                .fix(b.kind().start_hint()),
                Err(_) => check(
                    &name,
                    Status::Fail,
                    format!(
                        "{} at {} did not answer within 5 s",
                        b.kind().name(),
                        b.url()
                    ),
                )
                .fix(b.kind().start_hint()),
            },
        );
    }
    out
}

async fn chain_check(cfg: &Config) -> Check {
    let c = &cfg.chain;
    if !c.enabled {
        return check(
            "chain",
            Status::Skip,
            "chain.enabled is false (off-chain jobs only)",
        );
    }
    let Some(url) = c.rpc_url.as_deref().filter(|u| !u.is_empty()) else {
        return check(
            "chain",
            Status::Fail,
            "chain.enabled is true but chain.rpc_url is not set",
        )
        .fix("set chain.rpc_url in config.json");
    };
    let Some(registry) = c
        .registry_address
        .as_deref()
        .and_then(|r| r.parse::<alloy::primitives::Address>().ok())
    else {
        return check(
            "chain",
            Status::Fail,
            "chain.registry_address is missing or not an address",
        )
        .fix("set chain.registry_address (0x…40 hex)");
    };
    let fix = format!(
        "check that the RPC at {url} runs and is reachable from this machine, and that chain.registry_address is the Registry on that chain"
    );
    let client = match tokio::time::timeout(
        Duration::from_secs(10),
        crate::chain::client::ChainClient::connect(url, registry),
    )
    .await
    {
        Ok(Ok(cl)) => cl,
        Ok(Err(e)) => return check("chain", Status::Fail, format!("RPC {url}: {e}")).fix(fix),
        Err(_) => {
            return check(
                "chain",
                Status::Fail,
                format!("RPC {url} did not answer within 10 s"),
            )
            .fix(fix);
        }
    };
    let mut detail = format!(
        "RPC {url} (chain {}), coordinator {}",
        client.chain_id, client.addresses.coordinator
    );
    let Some(key) = &c.wallet.private_key else {
        return check(
            "chain",
            Status::Fail,
            format!("{detail}; no wallet key to deliver with"),
        )
        .fix("infernet init --wallet-key-stdin < key.txt (stored in the keyring)");
    };
    let signer = match crate::identity::node_key::parse_key(key.expose()) {
        Ok(s) => s,
        Err(e) => {
            return check("chain", Status::Fail, format!("wallet key: {e}"))
                .fix("store a valid key: infernet init --wallet-key-stdin");
        }
    };
    use alloy::providers::Provider;
    match client.provider().get_balance(signer.address()).await {
        Ok(b) if b.is_zero() => {
            return check(
                "chain",
                Status::Warn,
                format!("{detail}; wallet {} has no ETH for gas", signer.address()),
            )
            .fix(format!("send ETH to {}", signer.address()));
        }
        Ok(b) => detail.push_str(&format!("; wallet {} holds {} wei", signer.address(), b)),
        Err(e) => return check("chain", Status::Fail, format!("{detail}; balance: {e}")),
    }
    check("chain", Status::Ok, detail)
}

/// Jobs through the running node: one on the first ready container, one on the first LLM
/// backend (that second check is left out when no backend is configured).
async fn e2e(status: &Value, cfg: &Config) -> Vec<Check> {
    let container = status["containers"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["state"] == "ready"))
        .and_then(|c| c["id"].as_str().map(str::to_string));
    let mut out = vec![match container {
        Some(id) => job(status, "end-to-end job", &id, json!({"doctor": "ping"})).await,
        None => check(
            "end-to-end job",
            Status::Skip,
            "no ready workflow container to send a job to",
        ),
    }];
    if let Some(b) = cfg.backends.first() {
        let data = json!({"messages": [{"role": "user", "content": "Say OK."}], "max_tokens": 8});
        out.push(job(status, "end-to-end LLM job", &b.id, data).await);
    }
    out
}

/// One job through the node's REST API, polled until it ends (60 s at most).
async fn job(status: &Value, name: &str, container: &str, data: Value) -> Check {
    let rest = status["rest"].as_str().unwrap_or("");
    let Ok(mut addr) = rest.parse::<std::net::SocketAddr>() else {
        return check(
            name,
            Status::Fail,
            format!("the daemon reports no REST address ({rest:?})"),
        );
    };
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            [127, 0, 0, 1].into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let t0 = Instant::now();
    let created = match http
        .post(format!("http://{addr}/api/jobs"))
        .json(&json!({"containers": [container], "data": data}))
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => r.json::<Value>().await.ok(),
        Ok(r) => {
            let code = r.status();
            let body = r.text().await.unwrap_or_default();
            return check(
                name,
                Status::Fail,
                format!("POST /api/jobs answered {code}: {body}"),
            );
        }
        Err(e) => {
            return check(
                name,
                Status::Fail,
                format!("the REST API at {addr} does not answer: {e}"),
            );
        }
    };
    let Some(id) = created
        .as_ref()
        .and_then(|v| v["id"].as_str())
        .map(str::to_string)
    else {
        return check(name, Status::Fail, "POST /api/jobs returned no job id");
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Ok(r) = http
            .get(format!("http://{addr}/api/jobs?id={id}"))
            .send()
            .await
        else {
            continue;
        };
        let Ok(v) = r.json::<Value>().await else {
            continue;
        };
        let job = &v[0];
        match job["status"].as_str() {
            Some("success") => {
                return check(
                    name,
                    Status::Ok,
                    format!(
                        "job {id} on '{container}' succeeded in {} ms",
                        t0.elapsed().as_millis()
                    ),
                );
            }
            Some("failed") => {
                return check(
                    name,
                    Status::Fail,
                    format!("job {id} on '{container}' failed: {}", job["result"]),
                )
                .fix("`infernet logs` and the Jobs panel of `infernet tui` show the details");
            }
            _ => {}
        }
    }
    check(
        name,
        Status::Fail,
        format!("job {id} on '{container}' did not finish within 60 s"),
    )
}

/// Reachable, this node registered, its heartbeat fresh (60 s, as the reference's doctor).
async fn control_plane_check(cfg: &config::Config, daemon: Option<&Value>) -> Check {
    let name = "control plane";
    let url = crate::backend::normalise_url(&cfg.control_plane.url);
    if cfg.control_plane.url.is_empty() {
        return check(
            name,
            Status::Skip,
            "none configured (set control_plane.url to join one; this node serves REST and on-chain jobs)",
        );
    }
    let http = reqwest::Client::new();
    match http
        .get(format!("{url}/api/health"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => {
            return check(
                name,
                Status::Fail,
                format!("{url}/api/health answered HTTP {}", r.status()),
            )
            .fix("check control_plane.url");
        }
        Err(e) => {
            return check(
                name,
                Status::Fail,
                format!("{url} unreachable: {}", crate::backend::cause_of(&e)),
            )
            .fix("check control_plane.url, or start one with `infernet control-plane serve`");
        }
    }
    let dir = crate::config::config_dir(&env);
    let key = match dir.as_deref().map(crate::control::client::NodeKey::load) {
        Some(Ok(k)) => k,
        Some(Err(e)) => return check(name, Status::Fail, e).fix("infernet init"),
        None => {
            return check(name, Status::Fail, "no config directory")
                .fix("set HOME or XDG_CONFIG_HOME");
        }
    };
    let client = crate::control::client::CpClient::new(&url, key);
    let me = client
        .post(
            "/api/v1/node/me",
            &serde_json::json!({"role": cfg.control_plane.role}),
            Duration::from_secs(5),
        )
        .await;
    let row = match me {
        Ok(v) => v["row"].clone(),
        Err(e) => return check(name, Status::Fail, e.to_string()),
    };
    if row.is_null() {
        return check(
            name,
            Status::Warn,
            format!("{url} answers; this node is not registered"),
        )
        .fix("infernet start (it registers), or `infernet register`");
    }
    let age_s = (crate::store::now_ms() - row["last_seen_ms"].as_i64().unwrap_or(0)) / 1000;
    let models = row
        .pointer("/specs/served_models")
        .and_then(Value::as_array)
        .map(|m| m.len())
        .unwrap_or(0);
    let link = daemon
        .and_then(|d| d.get("controlPlane"))
        .filter(|c| !c.is_null());
    if let Some(c) = link
        && (c["state"] == "offline" || c["state"] == "error")
    {
        return check(
            name,
            Status::Fail,
            format!(
                "the node's link is {}: {}",
                c["state"].as_str().unwrap_or("?"),
                c["last_error"].as_str().unwrap_or("no error recorded")
            ),
        )
        .fix("`infernet logs` shows the heartbeat errors");
    }
    if age_s > 60 {
        return check(
            name,
            if link.is_some() {
                Status::Fail
            } else {
                Status::Warn
            },
            format!(
                "registered as {} but the last heartbeat was {age_s} s ago",
                row["node_id"].as_str().unwrap_or("?")
            ),
        )
        .fix("infernet start (the running node sends heartbeats)");
    }
    check(
        name,
        Status::Ok,
        format!(
            "{url}: registered as {} ({}), heartbeat {age_s} s ago, {models} model(s) advertised",
            row["node_id"].as_str().unwrap_or("?"),
            row["status"].as_str().unwrap_or("?")
        ),
    )
}
