//! `infernet setup`: the guided, idempotent bootstrap. Hardware, Docker, LLM backend and model
//! (by fit, pulled with a progress bar), chain settings (wallet key to the keyring), workflow
//! containers, config, firewall, identity, daemon. Re-running updates what changed and keeps
//! every other key of the config file. Without a terminal (or with `--yes`) it takes the
//! defaults and lists the answers it could still be given as flags.
use super::node::{StartArgs, start_background};
use clap::Args;
use infernet::backend::{self, BackendKind, ChatBackend};
use infernet::config::{self, BackendConfig, Secret, Source};
use infernet::daemon::{Paths, ipc};
use infernet::identity::Secrets;
use infernet::identity::node_key;
use infernet::system::gpu;
use infernet::system::{Memory, gb};
use serde_json::{Value, json};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Take every default without asking (also INFERNET_NONINTERACTIVE=1, and whenever stdin
    /// is not a terminal)
    #[arg(long, short = 'y', visible_alias = "confirm")]
    pub yes: bool,
    /// The model to serve (pulled when the backend can)
    #[arg(long)]
    pub model: Option<String>,
    /// LLM backend: ollama, vllm, sglang, llamacpp, max, openai, embedded, or none
    #[arg(long)]
    pub backend: Option<String>,
    /// The backend's URL (default: where it was detected, else its usual port)
    #[arg(long, value_name = "URL")]
    pub backend_url: Option<String>,
    /// Do not download a model
    #[arg(long)]
    pub skip_pull: bool,
    /// Do not print firewall commands
    #[arg(long)]
    pub no_firewall: bool,
    /// Do not start (or restart) the background node at the end
    #[arg(long, visible_alias = "no-start")]
    pub skip_daemon: bool,
    /// Do not create the node identity
    #[arg(long)]
    pub skip_identity: bool,
    /// REST API port (server.port)
    #[arg(long)]
    pub port: Option<u16>,
    /// Node name shown in the dashboard (ui.node_name)
    #[arg(long)]
    pub name: Option<String>,
    /// Serve on-chain subscriptions through this RPC URL
    #[arg(long, value_name = "URL")]
    pub rpc_url: Option<String>,
    /// The Infernet Registry contract on that chain
    #[arg(long, value_name = "ADDRESS")]
    pub registry: Option<String>,
    /// Read the chain wallet's private key from stdin (stored in the keyring)
    #[arg(long)]
    pub wallet_key_stdin: bool,
    /// Turn the chain side off
    #[arg(long, conflicts_with_all = ["rpc_url", "registry"])]
    pub no_chain: bool,
    /// Join this control plane (control_plane.url): the node registers, heartbeats and takes
    /// chat jobs for the models it serves; `none` leaves it off
    #[arg(long, value_name = "URL")]
    pub control_plane: Option<String>,
    /// A workflow container to run: ID,IMAGE,PORT (repeatable; replaces the entry with that id)
    #[arg(long = "container", value_name = "ID,IMAGE,PORT")]
    pub containers: Vec<String>,
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

struct Cancelled;

/// Asks on a terminal; answers with the default otherwise.
struct Ask {
    interactive: bool,
}

impl Ask {
    fn map<T>(r: Result<T, inquire::InquireError>) -> Result<T, Cancelled> {
        r.map_err(|_| Cancelled)
    }

    fn select(&self, msg: &str, options: Vec<String>, default: usize) -> Result<usize, Cancelled> {
        if !self.interactive || options.len() < 2 {
            return Ok(default.min(options.len().saturating_sub(1)));
        }
        let chosen = Self::map(
            inquire::Select::new(msg, options.clone())
                .with_starting_cursor(default)
                .prompt(),
        )?;
        Ok(options.iter().position(|o| *o == chosen).unwrap_or(default))
    }

    fn confirm(&self, msg: &str, default: bool) -> Result<bool, Cancelled> {
        if !self.interactive {
            return Ok(default);
        }
        Self::map(inquire::Confirm::new(msg).with_default(default).prompt())
    }

    fn text(&self, msg: &str, default: &str) -> Result<String, Cancelled> {
        if !self.interactive {
            return Ok(default.to_string());
        }
        Self::map(inquire::Text::new(msg).with_default(default).prompt())
    }

    fn password(&self, msg: &str) -> Result<Option<String>, Cancelled> {
        if !self.interactive {
            return Ok(None);
        }
        Self::map(inquire::Password::new(msg).without_confirmation().prompt()).map(Some)
    }
}

struct Steps {
    n: usize,
    total: usize,
}

impl Steps {
    fn next(&mut self, title: &str) {
        self.n += 1;
        println!("\n[{}/{}] {title}", self.n, self.total);
    }
}

/// Where setup writes: the located config file, else the user config dir.
fn target(flag: Option<&Path>) -> Result<PathBuf, String> {
    match config::locate(flag, &env).map_err(|e| e.to_string())? {
        Source::File(p) => Ok(p),
        Source::Defaults { .. } => config::config_dir(&env)
            .map(|d| d.join("config.json"))
            .ok_or_else(|| "cannot find the config directory: set HOME or XDG_CONFIG_HOME".into()),
    }
}

fn raw(path: &Path) -> Value {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| json!({}))
}

/// Inserts or updates the list entry with this id, keeping its other keys.
fn upsert(list: &mut Vec<Value>, entry: Value) {
    let id = entry["id"].clone();
    match list.iter_mut().find(|e| e["id"] == id) {
        Some(e) => {
            if let (Some(e), Some(new)) = (e.as_object_mut(), entry.as_object()) {
                for (k, v) in new {
                    e.insert(k.clone(), v.clone());
                }
            }
        }
        None => list.push(entry),
    }
}

fn parse_container(s: &str) -> Result<Value, String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    match parts.as_slice() {
        [id, image, port] if !id.is_empty() && !image.is_empty() => {
            let port: u16 = port
                .parse()
                .map_err(|_| format!("--container {s}: PORT must be a number"))?;
            Ok(json!({"id": id, "image": image, "port": port}))
        }
        _ => Err(format!(
            "--container {s}: expected ID,IMAGE,PORT (e.g. echo,infernet-echo:latest,3000)"
        )),
    }
}

pub fn run(flag: Option<&Path>, args: SetupArgs) -> ExitCode {
    let nonint_env =
        env("INFERNET_NONINTERACTIVE").is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
    let interactive =
        !args.yes && !nonint_env && std::io::stdin().is_terminal() && !args.wallet_key_stdin;
    let path = match target(flag) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // A file we cannot read is the operator's to fix: never overwrite it.
    if path.exists()
        && let Err(e) = config::load(Some(&path), &Default::default())
    {
        eprintln!(
            "error: {e}\nsetup keeps your file as it is; fix it (or move it away) and run setup again"
        );
        return ExitCode::from(2);
    }
    let wallet_key = if args.wallet_key_stdin {
        let mut v = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut v) {
            eprintln!("error: cannot read the wallet key from stdin: {e}");
            return ExitCode::from(2);
        }
        Some(Secret::new(v.trim().to_string()))
    } else {
        None
    };
    let rt = match super::runtime(Some(2)) {
        Ok(r) => r,
        Err(c) => return c,
    };
    match rt.block_on(setup(flag, &path, &args, Ask { interactive }, wallet_key)) {
        Ok(code) => code,
        Err(Cancelled) => {
            eprintln!("\nsetup cancelled; the config was not changed");
            ExitCode::from(130)
        }
    }
}

async fn setup(
    flag: Option<&Path>,
    path: &Path,
    args: &SetupArgs,
    ask: Ask,
    wallet_key: Option<Secret>,
) -> Result<ExitCode, Cancelled> {
    let mut steps = Steps { n: 0, total: 10 };
    let mut needs: Vec<String> = Vec::new();
    let mut current = raw(path);
    let existing = config::load(Some(path), &Default::default())
        .ok()
        .map(|l| l.config);
    println!("infernet setup — writing {}", path.display());
    if !ask.interactive {
        println!(
            "(non-interactive: taking defaults; flags change them, see `infernet setup --help`)"
        );
    }

    steps.next("Hardware");
    let report = gpu::probe();
    for line in gpu::render(&report).lines() {
        println!("  {line}");
    }
    let mem = Memory {
        ram_bytes: report.host.ram_total,
        vram_bytes: {
            let v: u64 = report.gpus.iter().filter_map(|g| g.vram_total).sum();
            (v > 0).then_some(v)
        },
    };

    steps.next("Docker engine (runs the workflow containers)");
    let docker_ok = match bollard::Docker::connect_with_local_defaults() {
        Ok(d) => match tokio::time::timeout(Duration::from_secs(5), d.version()).await {
            Ok(Ok(v)) => {
                println!("  Docker {} answers", v.version.unwrap_or_default());
                true
            }
            _ => false,
        },
        Err(_) => false,
    };
    if !docker_ok {
        println!("  the Docker engine does not answer. Containers need it; LLM backends do not.");
        println!(
            "  fix: sudo apt-get install docker.io && sudo systemctl start docker && sudo usermod -aG docker $USER (then log in again)"
        );
    }

    steps.next("LLM backend");
    let http = reqwest::Client::new();
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message("probing Ollama, vLLM, SGLang, llama.cpp, MAX…");
    spinner.enable_steady_tick(Duration::from_millis(100));
    let probes = backend::detect::detect(&http, &backend::detect::default_candidates(&env)).await;
    spinner.finish_and_clear();
    let found: Vec<_> = probes.into_iter().filter(|p| p.answered).collect();
    for p in &found {
        println!("  found {} at {} ({})", p.kind.name(), p.url, p.detail);
    }
    if found.is_empty() {
        println!("  no backend answers on this machine");
    }
    let configured = existing
        .as_ref()
        .and_then(|c| c.backends.iter().find(|b| b.id == "llm").cloned());
    // (kind, url) or None for no backend.
    let chosen: Option<(BackendKind, String)> = match args.backend.as_deref() {
        Some("none") => None,
        Some(k) => {
            let Some(kind) = BackendKind::parse(k) else {
                eprintln!(
                    "error: --backend {k}: unknown kind (ollama, vllm, sglang, llamacpp, max, openai, embedded, none)"
                );
                return Ok(ExitCode::from(2));
            };
            let url = args
                .backend_url
                .clone()
                .or_else(|| found.iter().find(|p| p.kind == kind).map(|p| p.url.clone()))
                .unwrap_or_else(|| kind.default_url().to_string());
            Some((kind, url))
        }
        None => {
            let mut options: Vec<(String, Option<(BackendKind, String)>)> = Vec::new();
            if let Some(c) = &configured
                && let Some(k) = BackendKind::parse(&c.kind)
            {
                options.push((
                    format!(
                        "keep the configured {} at {}",
                        c.kind,
                        if c.url.is_empty() {
                            k.default_url()
                        } else {
                            &c.url
                        }
                    ),
                    Some((k, c.url.clone())),
                ));
            }
            for p in &found {
                if !options.iter().any(|(_, o)| {
                    o.as_ref()
                        .is_some_and(|(k, u)| *k == p.kind && (u == &p.url || u.is_empty()))
                }) {
                    options.push((
                        format!("{} at {}", p.kind.name(), p.url),
                        Some((p.kind, p.url.clone())),
                    ));
                }
            }
            if cfg!(feature = "embedded") {
                options.push((
                    "embedded llama.cpp in this process (GGUF models from Hugging Face)".into(),
                    Some((BackendKind::Embedded, String::new())),
                ));
            }
            options.push(("none (containers only)".into(), None));
            let default = if configured.is_some() || !found.is_empty() {
                0
            } else {
                options.len() - 1
            };
            let i = ask.select(
                "Which LLM backend should this node use?",
                options.iter().map(|o| o.0.clone()).collect(),
                default,
            )?;
            options.swap_remove(i).1
        }
    };
    if chosen.is_none() {
        needs.push(
            "--backend KIND [--backend-url URL] --model NAME: serve an LLM (none is configured)"
                .into(),
        );
    }

    steps.next("Model");
    let mut backend_entry: Option<Value> = None;
    if let Some((kind, url)) = &chosen {
        let cfg = BackendConfig {
            id: "llm".into(),
            kind: kind.name().into(),
            url: url.clone(),
            model: String::new(),
            ..configured.clone().unwrap_or_default()
        };
        let be: Option<Arc<dyn ChatBackend>> =
            match backend::build_backend(&cfg, &env, http.clone()) {
                Ok(b) => Some(b),
                Err(e) => {
                    println!("  cannot use this backend: {e}");
                    None
                }
            };
        let present = match &be {
            Some(b) => match tokio::time::timeout(Duration::from_secs(10), b.models()).await {
                Ok(Ok(m)) => m,
                Ok(Err(e)) => {
                    println!("  the backend does not list models: {e}");
                    Vec::new()
                }
                Err(_) => {
                    println!("  the backend did not list its models within 10 s");
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        println!(
            "  models fit up to {} on this machine ({})",
            gb(mem.fit_limit_bytes()),
            mem.rule()
        );
        let current_model = configured
            .as_ref()
            .map(|c| c.model.clone())
            .filter(|m| !m.is_empty());
        let options = super::setup_model::candidates(&present, *kind, &mem);
        let model: Option<String> = match &args.model {
            Some(m) => Some(m.clone()),
            None if options.is_empty() => {
                if ask.interactive {
                    let m = ask.text(
                        "Model name (empty: decide later):",
                        current_model.as_deref().unwrap_or(""),
                    )?;
                    (!m.is_empty()).then_some(m)
                } else {
                    current_model.clone()
                }
            }
            None => {
                let default =
                    super::setup_model::default_choice(&options, current_model.as_deref(), &mem);
                let i = ask.select(
                    "Which model should it serve?",
                    options.iter().map(|o| o.label.clone()).collect(),
                    default,
                )?;
                options.get(i).map(|o| o.name.clone())
            }
        };
        if let (Some(m), Some(b)) = (&model, &be) {
            let is_present = present.iter().any(|p| &p.name == m);
            if is_present {
                println!("  {m} is present");
            } else if args.skip_pull {
                println!(
                    "  {m} is not on the backend yet (--skip-pull): `infernet model pull {m}` later"
                );
            } else if *kind == BackendKind::Ollama {
                println!("  pulling {m}…");
                match super::model::pull_model(b.clone(), m, false).await {
                    Ok(()) => println!("  pulled {m}"),
                    Err(e) => {
                        println!("  pull failed: {e}");
                        needs.push(format!("--model NAME: '{m}' could not be pulled ({e})"));
                    }
                }
            } else {
                println!("  {m} is not listed by the backend; {}", kind.start_hint());
            }
        }
        if model.is_none() {
            needs.push("--model NAME: no model chosen".into());
        }
        let mut e = json!({"id": "llm", "kind": kind.name(), "url": url, "model": model.clone().unwrap_or_default()});
        if matches!(kind, BackendKind::Embedded) {
            e["url"] = json!("");
        }
        backend_entry = Some(e);
    } else {
        println!("  no backend: skipped");
    }

    steps.next("Chain (on-chain subscriptions through the Infernet Coordinator)");
    let chain_now = existing
        .as_ref()
        .map(|c| c.chain.clone())
        .unwrap_or_default();
    let secrets_dir = config::config_dir(&env).unwrap_or_else(|| PathBuf::from("."));
    let secrets = Secrets::new(&secrets_dir);
    let stored_wallet = node_key::wallet(&secrets).ok().flatten();
    let mut chain_entries: Vec<(&str, Value)> = Vec::new();
    let want_chain = if args.no_chain {
        false
    } else if args.rpc_url.is_some() || args.registry.is_some() {
        true
    } else {
        ask.confirm("Serve on-chain subscriptions?", chain_now.enabled)?
    };
    let mut store_key: Option<Secret> = None;
    if want_chain {
        let rpc = match &args.rpc_url {
            Some(r) => r.clone(),
            None => ask.text(
                "RPC URL:",
                chain_now
                    .rpc_url
                    .as_deref()
                    .unwrap_or("http://127.0.0.1:8545"),
            )?,
        };
        let registry = match &args.registry {
            Some(r) => r.clone(),
            None => ask.text(
                "Registry contract address:",
                chain_now.registry_address.as_deref().unwrap_or(""),
            )?,
        };
        if registry.parse::<alloy::primitives::Address>().is_err() {
            eprintln!("error: the registry address '{registry}' is not an address (0x + 40 hex)");
            if !ask.interactive {
                needs.push("--registry ADDRESS: the Infernet Registry on your chain".into());
                print_needs(&needs);
            }
            return Ok(ExitCode::from(2));
        }
        match (&wallet_key, &stored_wallet) {
            (Some(k), _) => store_key = Some(k.clone()),
            (None, Some((addr, _)))
                if !ask.confirm(&format!("Replace the stored wallet {addr}?"), false)? =>
            {
                println!("  keeping wallet {addr}");
            }
            _ => match ask
                .password("Wallet private key (hex; stored in the keyring, never in the file):")?
            {
                Some(k) => store_key = Some(Secret::new(k.trim().to_string())),
                None if chain_now.wallet.private_key.is_some() => {}
                None => {
                    eprintln!(
                        "error: the chain side needs the wallet key that pays for deliveries"
                    );
                    needs
                        .push("--wallet-key-stdin (pipe the key in): the node's wallet key".into());
                    print_needs(&needs);
                    return Ok(ExitCode::from(2));
                }
            },
        }
        if let Some(k) = &store_key
            && let Err(e) = node_key::parse_key(k)
        {
            eprintln!("error: wallet key: {e}");
            return Ok(ExitCode::from(2));
        }
        if let Ok(addr) = registry.parse() {
            match tokio::time::timeout(
                Duration::from_secs(10),
                infernet::chain::client::ChainClient::connect(&rpc, addr),
            )
            .await
            {
                Ok(Ok(c)) => println!(
                    "  chain {} answers; coordinator {}",
                    c.chain_id, c.addresses.coordinator
                ),
                Ok(Err(e)) => {
                    println!("  warning: {e} (saved anyway; `infernet doctor` checks again)")
                }
                Err(_) => println!("  warning: {rpc} did not answer within 10 s (saved anyway)"),
            }
        }
        chain_entries.push(("chain.enabled", json!(true)));
        chain_entries.push(("chain.rpc_url", json!(rpc)));
        chain_entries.push(("chain.registry_address", json!(registry)));
    } else {
        println!("  off: off-chain jobs only");
        if chain_now.enabled || current.pointer("/chain/enabled").is_some() {
            chain_entries.push(("chain.enabled", json!(false)));
        }
        if args.rpc_url.is_none() {
            needs.push(
                "--rpc-url URL --registry ADDRESS --wallet-key-stdin: serve on-chain subscriptions"
                    .into(),
            );
        }
    }

    steps.next("Workflow containers");
    let mut containers: Vec<Value> = current["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for c in &args.containers {
        match parse_container(c) {
            Ok(v) => upsert(&mut containers, v),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(2));
            }
        }
    }
    if ask.interactive {
        while ask.confirm(
            if containers.is_empty() {
                "Add a workflow container?"
            } else {
                "Add another workflow container?"
            },
            false,
        )? {
            let id = ask.text("Container id (jobs name it):", "")?;
            let image = ask.text("Docker image:", "")?;
            let port = ask.text("Port it listens on:", "3000")?;
            match parse_container(&format!("{id},{image},{port}")) {
                Ok(v) => upsert(&mut containers, v),
                Err(e) => println!("  {e}"),
            }
        }
    }
    if containers.is_empty() {
        println!("  none (add some with --container ID,IMAGE,PORT)");
    }
    for c in &containers {
        println!(
            "  {} — {} on port {}",
            c["id"].as_str().unwrap_or("?"),
            c["image"].as_str().unwrap_or("?"),
            c["port"]
        );
    }

    steps.next("Config");
    let mut entries: Vec<(&str, Value)> = chain_entries;
    let current_cp = current
        .pointer("/control_plane/url")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let cp_url = match &args.control_plane {
        Some(u) if u == "none" => Some(String::new()),
        Some(u) => Some(u.clone()),
        None if ask.interactive => {
            let u = ask.text(
                "Control plane URL (routes chat jobs to this node; empty for none)",
                &current_cp,
            )?;
            (u != current_cp).then_some(u)
        }
        None => {
            if current_cp.is_empty() {
                needs.push("--control-plane URL: join a control plane (none set)".into());
            }
            None
        }
    };
    if let Some(u) = &cp_url {
        entries.push(("control_plane.url", json!(u.trim())));
    }
    if let Some(p) = args.port {
        entries.push(("server.port", json!(p)));
    }
    if let Some(n) = &args.name {
        entries.push(("ui.node_name", json!(n)));
    }
    if !args.containers.is_empty() || current.get("containers").is_some() || !containers.is_empty()
    {
        entries.push(("containers", Value::Array(containers)));
    }
    if let Some(b) = backend_entry {
        let mut list: Vec<Value> = current["backends"].as_array().cloned().unwrap_or_default();
        upsert(&mut list, b);
        entries.push(("backends", Value::Array(list)));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("error: cannot create '{}': {e}", dir.display());
        return Ok(ExitCode::FAILURE);
    }
    let fresh = !path.exists();
    if let Err(e) = config::edit::set_keys(path, &entries) {
        eprintln!("error: {e}");
        return Ok(ExitCode::FAILURE);
    }
    if fresh {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    if let Some(k) = &store_key {
        match node_key::store_wallet(&secrets, k) {
            Ok((addr, loc)) => println!("  wallet {addr} stored in {loc}"),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    match config::load(Some(path), &Default::default()) {
        Ok(l) => {
            println!(
                "  {} {} ({} keys set; other keys kept)",
                if fresh { "wrote" } else { "updated" },
                path.display(),
                entries.len()
            );
            for w in l.warnings {
                println!("  warning: {w}");
            }
        }
        Err(e) => {
            eprintln!("error: the written config does not load: {e}");
            return Ok(ExitCode::FAILURE);
        }
    }
    current = raw(path);

    steps.next("Firewall");
    let port = args
        .port
        .or_else(|| {
            current
                .pointer("/server/port")
                .and_then(Value::as_u64)
                .map(|p| p as u16)
        })
        .unwrap_or(4000);
    if args.no_firewall {
        println!("  skipped (--no-firewall)");
    } else {
        let detected: Vec<&str> = super::firewall_cmd::TOOLS
            .iter()
            .filter(|(_, b)| super::firewall_cmd::on_path(b))
            .map(|(n, _)| *n)
            .collect();
        println!("  to reach the REST API from other machines, open TCP {port}:");
        for (tool, lines) in super::firewall_cmd::commands(port, None) {
            if detected.is_empty() || detected.contains(&tool) {
                for l in lines {
                    println!("    {l}    # {tool}");
                }
            }
        }
        println!("  (printed, not run; `infernet firewall --from CIDR` allows one network only)");
    }

    steps.next("Node identity");
    if args.skip_identity {
        println!("  skipped (--skip-identity)");
    } else {
        match node_key::ensure(&secrets, false) {
            Ok(id) => println!(
                "  {} ({} in {})",
                id.public_key,
                if id.created { "created" } else { "kept" },
                id.location
            ),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::FAILURE);
            }
        }
    }

    let cp = config::load(Some(path), &Default::default())
        .map(|l| l.config)
        .ok()
        .filter(|c| !c.control_plane.url.is_empty());
    match cp {
        None => println!("  control plane: none (`--control-plane URL` joins one)"),
        Some(c) if args.skip_identity && node_key::load(&secrets).ok().flatten().is_none() => {
            println!(
                "  control plane {}: needs the node identity (run without --skip-identity)",
                c.control_plane.url
            );
        }
        Some(c) => {
            // Always re-register: specs and served models change.
            let env = |k: &str| std::env::var(k).ok();
            let backends =
                infernet::backend::Backends::from_config(&c.backends, &env, reqwest::Client::new())
                    .unwrap_or_default();
            let name = if c.ui.node_name.is_empty() {
                sysinfo::System::host_name().unwrap_or_else(|| "infernet".into())
            } else {
                c.ui.node_name.clone()
            };
            let key = infernet::control::client::NodeKey::load(&secrets_dir);
            let r = match key {
                Ok(k) => {
                    infernet::control::agent::register_once(&c.control_plane, k, backends, &name)
                        .await
                        .map_err(|e| e.to_string())
                }
                Err(e) => Err(e),
            };
            match r {
                Ok(row) => println!(
                    "  registered with {} as {} ({} model(s) advertised)",
                    c.control_plane.url,
                    row["node_id"].as_str().unwrap_or("?"),
                    row.pointer("/specs/served_models")
                        .and_then(Value::as_array)
                        .map(|m| m.len())
                        .unwrap_or(0)
                ),
                Err(e) => println!(
                    "  warning: could not register with {} yet: {e} (the node retries on its own)",
                    c.control_plane.url
                ),
            }
        }
    }

    steps.next("Background node");
    if args.skip_daemon {
        println!("  skipped (--skip-daemon); start it with `infernet start`");
    } else {
        let Ok(paths) = Paths::from_env() else {
            eprintln!("error: cannot find the config directory");
            return Ok(ExitCode::FAILURE);
        };
        let start = StartArgs {
            foreground: false,
            port: None,
            bind: None,
            store: None,
            log_file: None,
            wait: 60,
            detached: false,
        };
        if ipc::alive(&paths.sock).await {
            println!("  restarting the running node to load the new config");
            let _ = ipc::call(&paths.sock, "shutdown", Value::Null, Duration::from_secs(5)).await;
            let until = std::time::Instant::now() + Duration::from_secs(90);
            while infernet::daemon::lock::inspect(&paths.pid)
                != infernet::daemon::lock::PidState::Absent
                && std::time::Instant::now() < until
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let code = start_background(flag.or(Some(path)), &start, &paths).await;
        if code != ExitCode::SUCCESS {
            return Ok(code);
        }
    }

    println!(
        "\nDone. Next: `infernet tui` (dashboard), `infernet chat \"hello\"`, `infernet doctor`."
    );
    if !ask.interactive && !needs.is_empty() {
        print_needs(&needs);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_needs(needs: &[String]) {
    println!("\nAnswers you can still give (as flags, since this ran without prompts):");
    for n in needs {
        println!("  {n}");
    }
}
