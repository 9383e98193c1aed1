//! Finding, reading and parsing `config.json`, then layering env and flags on top.
use super::{Config, Error, validate};
use std::path::{Path, PathBuf};

/// Where a loaded config came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    File(PathBuf),
    /// No file was found; built-in defaults, with the places searched.
    Defaults {
        searched: Vec<PathBuf>,
    },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Defaults { .. } => f.write_str("built-in defaults"),
        }
    }
}

/// A parsed, validated config with its warnings (unknown keys, ignored legacy keys, fix-ups).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub source: Source,
    pub warnings: Vec<String>,
}

/// Values given on the command line; they win over env and file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub port: Option<u16>,
    pub bind: Option<String>,
    pub store_path: Option<String>,
    pub log_path: Option<String>,
}

/// The search order of DESIGN §6: `--config`, `INFERNET_CONFIG_PATH`, `./config.json`,
/// `$XDG_CONFIG_HOME/infernet/config.json`. An explicitly named file must exist.
pub fn locate(flag: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<Source, Error> {
    if let Some(p) = flag {
        return Ok(Source::File(p.to_path_buf()));
    }
    if let Some(p) = env("INFERNET_CONFIG_PATH").filter(|p| !p.is_empty()) {
        return Ok(Source::File(PathBuf::from(p)));
    }
    let mut searched = vec![PathBuf::from("config.json")];
    if let Some(dir) = config_dir(env) {
        searched.push(dir.join("config.json"));
    }
    for p in &searched {
        if p.is_file() {
            return Ok(Source::File(p.clone()));
        }
    }
    Ok(Source::Defaults { searched })
}

/// `$XDG_CONFIG_HOME/infernet`, else `~/.config/infernet`.
pub fn config_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(x) = env("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(x).join("infernet"));
    }
    env("HOME").map(|h| PathBuf::from(h).join(".config").join("infernet"))
}

/// `$XDG_DATA_HOME/infernet`, else `~/.local/share/infernet`.
pub fn data_dir(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(x) = env("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("infernet");
    }
    match env("HOME") {
        Some(h) => PathBuf::from(h)
            .join(".local")
            .join("share")
            .join("infernet"),
        None => PathBuf::from("."),
    }
}

/// Loads with the process environment.
pub fn load(flag: Option<&Path>, overrides: &Overrides) -> Result<Loaded, Error> {
    let env = |k: &str| std::env::var(k).ok();
    load_with(flag, overrides, &env)
}

/// Loads with an injected environment (tests).
pub fn load_with(
    flag: Option<&Path>,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, Error> {
    let source = locate(flag, env)?;
    let (mut config, mut warnings) = match &source {
        Source::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::Read {
                path: path.clone(),
                source: e,
            })?;
            parse_str(&text, path)?
        }
        Source::Defaults { .. } => (builtin(env), Vec::new()),
    };
    let path = match &source {
        Source::File(p) => p.clone(),
        Source::Defaults { .. } => PathBuf::from("<built-in defaults>"),
    };
    apply_env(&mut config, env)?;
    apply_flags(&mut config, overrides);
    stored_chain_key(&mut config, env, &mut warnings);
    if config.store.path.is_empty() {
        config.store.path = data_dir(env)
            .join("infernet.db")
            .to_string_lossy()
            .into_owned();
    }
    warnings.extend(validate::validate(&mut config, &path)?);
    // From here on every log line, error text and report hides this config's secrets.
    super::scrub::register_config(&config);
    Ok(Loaded {
        config,
        source,
        warnings,
    })
}

/// The node with no config file: the REST API on loopback only (a config or `--bind` opens it
/// to the network) and, unless `INFERNET_DEFAULT_MODEL=off`, the embedded engine serving the
/// built-in default model as backend `llm`, so the first run answers chats and jobs.
fn builtin(env: &dyn Fn(&str) -> Option<String>) -> Config {
    let mut c = Config::default();
    c.server.bind = "127.0.0.1".into();
    if cfg!(feature = "embedded") && !super::default_backend::switched_off(env) {
        c.backends.push(super::default_backend::backend_config());
    }
    c
}

/// Name of the stored wallet key (`infernet secret set chain.wallet.private_key`, the wizard).
pub const CHAIN_KEY_SECRET: &str = crate::identity::node_key::CHAIN_KEY;

/// With the chain on and no key in the file or env, the wallet key comes from the secret store
/// (OS keyring, else the 0600 file in the config directory), so a config can leave it out.
fn stored_chain_key(
    config: &mut Config,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) {
    if !config.chain.enabled || config.chain.wallet.private_key.is_some() {
        return;
    }
    let Some(dir) = config_dir(env) else { return };
    match crate::identity::Secrets::new(&dir).get(CHAIN_KEY_SECRET) {
        Ok(Some((key, _))) => config.chain.wallet.private_key = Some(key),
        Ok(None) => {}
        Err(e) => warnings.push(format!(
            "cannot read '{CHAIN_KEY_SECRET}' from the secret store: {e}"
        )),
    }
}

/// Parses config text; returns the config and the unknown/legacy-key warnings.
pub fn parse_str(text: &str, path: &Path) -> Result<(Config, Vec<String>), Error> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::Syntax {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    if !value.is_object() {
        return Err(Error::Key {
            path: path.to_path_buf(),
            key: "$".into(),
            message: format!(
                "expected a JSON object at the top level, found {}",
                kind(&value)
            ),
        });
    }
    let mut unknown = Vec::new();
    let mut on_unknown = |p: serde_ignored::Path| unknown.push(key_path(&p));
    let ignored = serde_ignored::Deserializer::new(value.clone(), &mut on_unknown);
    let config = serde_path_to_error::deserialize(ignored).map_err(|e| {
        let key = e.path().to_string();
        Error::Key {
            path: path.to_path_buf(),
            key: if key == "." { "$".into() } else { key },
            message: e.into_inner().to_string(),
        }
    });
    let mut config: Config = config?;
    if let (Some(legacy), None) = (&config.log_path, value.pointer("/log/path")) {
        config.log.path = legacy.clone();
    }
    let mut warnings: Vec<String> = unknown
        .into_iter()
        .map(|k| {
            format!(
                "config file '{}': unknown key '{k}' (ignored)",
                path.display()
            )
        })
        .collect();
    warnings.extend(legacy_warnings(&value, path));
    Ok((config, warnings))
}

/// `containers[0].colour`, the same notation as type errors use.
fn key_path(p: &serde_ignored::Path) -> String {
    use serde_ignored::Path as P;
    match p {
        P::Root => String::new(),
        P::Seq { parent, index } => format!("{}[{index}]", key_path(parent)),
        P::Map { parent, key } => {
            let head = key_path(parent);
            if head.is_empty() {
                key.clone()
            } else {
                format!("{head}.{key}")
            }
        }
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            key_path(parent)
        }
    }
}

fn legacy_warnings(v: &serde_json::Value, path: &Path) -> Vec<String> {
    let file = path.display();
    let mut out = Vec::new();
    let has = |k: &str| v.get(k).is_some();
    if has("redis") {
        out.push(format!(
            "config file '{file}': key 'redis' is accepted for compatibility and ignored: jobs are stored in SQLite ('store.path')"
        ));
    }
    if has("forward_stats") {
        out.push(format!(
            "config file '{file}': key 'forward_stats' is accepted for compatibility and ignored: infernet sends no telemetry"
        ));
    }
    if has("snapshot_sync") {
        out.push(format!(
            "config file '{file}': top-level key 'snapshot_sync' is a pre-1.0 key and is ignored: use 'chain.snapshot_sync'"
        ));
    }
    let sdk0 = v.pointer("/chain/sdk").and_then(|s| s.as_str()) == Some("0.x");
    if v.pointer("/chain/coordinator_address").is_some() && !sdk0 {
        out.push(format!(
            "config file '{file}': key 'chain.coordinator_address' is a pre-1.0 key and is ignored: use 'chain.registry_address'"
        ));
    }
    if has("log_path") {
        if v.pointer("/log/path").is_some() {
            out.push(format!(
                "config file '{file}': key 'log_path' is ignored because 'log.path' is set"
            ));
        } else {
            out.push(format!(
                "config file '{file}': key 'log_path' is the pre-1.1 name of 'log.path' and is used as such"
            ));
        }
    }
    out
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Env layer: `INFERNET_SERVER_PORT`, `INFERNET_SERVER_BIND`, `INFERNET_STORE_PATH`, `INFERNET_LOG_PATH`.
fn apply_env(c: &mut Config, env: &dyn Fn(&str) -> Option<String>) -> Result<(), Error> {
    if let Some(v) = env("INFERNET_SERVER_PORT").filter(|v| !v.is_empty()) {
        c.server.port = v.trim().parse().map_err(|_| Error::Env {
            name: "INFERNET_SERVER_PORT".into(),
            message: format!("expected an integer from 0 to 65535, found '{v}'"),
        })?;
    }
    if let Some(v) = env("INFERNET_SERVER_BIND").filter(|v| !v.is_empty()) {
        c.server.bind = v;
    }
    if let Some(v) = env("INFERNET_STORE_PATH").filter(|v| !v.is_empty()) {
        c.store.path = v;
    }
    if let Some(v) = env("INFERNET_LOG_PATH").filter(|v| !v.is_empty()) {
        c.log.path = v;
    }
    if let Some(v) = env("INFERNET_CONTROL_PLANE").filter(|v| !v.is_empty()) {
        // `a,b,c`: the first is `url`, the rest its replicas (replacing the file's).
        let mut list = v.split(',').map(|u| u.trim().to_string());
        c.control_plane.url = list.next().unwrap_or_default();
        c.control_plane.urls = list.filter(|u| !u.is_empty()).collect();
    }
    Ok(())
}

fn apply_flags(c: &mut Config, o: &Overrides) {
    if let Some(p) = o.port {
        c.server.port = p;
    }
    if let Some(b) = &o.bind {
        c.server.bind = b.clone();
    }
    if let Some(s) = &o.store_path {
        c.store.path = s.clone();
    }
    if let Some(l) = &o.log_path {
        c.log.path = l.clone();
    }
}
