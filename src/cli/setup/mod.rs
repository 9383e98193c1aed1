//! `infernet setup`: the guided, idempotent bootstrap, as a list of steps (`STEPS`): hardware,
//! Docker, LLM backend and model (by fit, pulled with a progress bar), chain settings (wallet
//! key to the keyring), workflow containers, config, firewall, identity, daemon. Each step reads
//! and adds to one `Ctx`; the config step writes the collected `SetupAnswers` through
//! `infernet::setup::apply`, the same function the TUI wizard uses. Re-running updates what
//! changed and keeps every other key of the config file. Without a terminal (or with `--yes`)
//! it takes the defaults and lists the answers it could still be given as flags.
mod ask;
mod backend;
mod chain;
mod finish;
mod fit;
mod write;

use ask::{Ask, Cancelled};
use clap::Args;
use infernet::backend::BackendKind;
use infernet::backend::detect::Probe;
use infernet::config::{self, Config, Secret, Source};
use infernet::setup::SetupAnswers;
use infernet::system::Memory;
use serde_json::{Value, json};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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

/// What a step leaves for the next.
enum Flow {
    Next,
    /// Stop here with this exit status (an error was printed).
    Stop(ExitCode),
}

/// Everything the steps share: the inputs, what they found, and the answers collected so far.
struct Ctx<'a> {
    flag: Option<&'a Path>,
    path: &'a Path,
    args: &'a SetupArgs,
    ask: Ask,
    /// From `--wallet-key-stdin`.
    wallet_key: Option<Secret>,
    /// Answers the operator could still give as flags (printed at the end without a terminal).
    needs: Vec<String>,
    /// The config file as JSON (other keys are kept) and as loaded, when it loads.
    current: Value,
    existing: Option<Config>,
    secrets_dir: PathBuf,
    http: reqwest::Client,
    mem: Memory,
    /// Backends that answered on this machine.
    found: Vec<Probe>,
    /// The backend chosen: (kind, url), or None for none.
    chosen: Option<(BackendKind, String)>,
    answers: SetupAnswers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Hardware,
    Docker,
    Backend,
    Model,
    Chain,
    Containers,
    Config,
    Firewall,
    Identity,
    Daemon,
}

/// The steps, in order.
const STEPS: [Step; 10] = [
    Step::Hardware,
    Step::Docker,
    Step::Backend,
    Step::Model,
    Step::Chain,
    Step::Containers,
    Step::Config,
    Step::Firewall,
    Step::Identity,
    Step::Daemon,
];

impl Step {
    fn title(self) -> &'static str {
        match self {
            Step::Hardware => "Hardware",
            Step::Docker => "Docker engine (runs the workflow containers)",
            Step::Backend => "LLM backend",
            Step::Model => "Model",
            Step::Chain => "Chain (on-chain subscriptions through the Infernet Coordinator)",
            Step::Containers => "Workflow containers",
            Step::Config => "Config",
            Step::Firewall => "Firewall",
            Step::Identity => "Node identity",
            Step::Daemon => "Background node",
        }
    }

    async fn run(self, c: &mut Ctx<'_>) -> Result<Flow, Cancelled> {
        match self {
            Step::Hardware => Ok(backend::hardware(c)),
            Step::Docker => Ok(backend::docker().await),
            Step::Backend => backend::choose(c).await,
            Step::Model => backend::model(c).await,
            Step::Chain => chain::chain(c).await,
            Step::Containers => write::containers(c),
            Step::Config => write::config(c),
            Step::Firewall => Ok(finish::firewall(c)),
            Step::Identity => Ok(finish::identity(c).await),
            Step::Daemon => Ok(finish::daemon(c).await),
        }
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
    let ctx = Ctx {
        flag,
        path: &path,
        args: &args,
        ask: Ask { interactive },
        wallet_key,
        needs: Vec::new(),
        current: raw(&path),
        existing: config::load(Some(&path), &Default::default())
            .ok()
            .map(|l| l.config),
        secrets_dir: config::config_dir(&env).unwrap_or_else(|| PathBuf::from(".")),
        http: reqwest::Client::new(),
        mem: Memory {
            ram_bytes: 0,
            vram_bytes: None,
        },
        found: Vec::new(),
        chosen: None,
        answers: SetupAnswers::default(),
    };
    match rt.block_on(setup(ctx)) {
        Ok(code) => code,
        Err(Cancelled) => {
            eprintln!("\nsetup cancelled; the config was not changed");
            ExitCode::from(130)
        }
    }
}

async fn setup(mut c: Ctx<'_>) -> Result<ExitCode, Cancelled> {
    outln!("infernet setup — writing {}", c.path.display());
    if !c.ask.interactive {
        outln!(
            "(non-interactive: taking defaults; flags change them, see `infernet setup --help`)"
        );
    }
    for (i, step) in STEPS.iter().enumerate() {
        outln!("\n[{}/{}] {}", i + 1, STEPS.len(), step.title());
        if let Flow::Stop(code) = step.run(&mut c).await? {
            return Ok(code);
        }
    }
    outln!(
        "\nDone. Next: `infernet tui` (dashboard), `infernet chat \"hello\"`, `infernet doctor`."
    );
    if !c.ask.interactive && !c.needs.is_empty() {
        print_needs(&c.needs);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_needs(needs: &[String]) {
    outln!("\nAnswers you can still give (as flags, since this ran without prompts):");
    for n in needs {
        outln!("  {n}");
    }
}
