//! First-run wizard: the steps of `infernet setup` as screens (backend and model, containers,
//! chain, identity, review). It produces `Answers`; the bridge writes the config from them.
use crate::input::{Edit, Input};
use crate::intent::{DetectedBackend, Intent};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub use crate::answers::{Answers, BackendAnswer, ChainAnswer, ContainerAnswer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Welcome,
    Backend,
    Containers,
    Chain,
    Identity,
    Review,
}

pub const STEPS: [Step; 6] = [
    Step::Welcome,
    Step::Backend,
    Step::Containers,
    Step::Chain,
    Step::Identity,
    Step::Review,
];

impl Step {
    pub fn title(self) -> &'static str {
        match self {
            Step::Welcome => "Welcome",
            Step::Backend => "LLM backend and model",
            Step::Containers => "Workflow containers",
            Step::Chain => "Chain",
            Step::Identity => "Identity and REST API",
            Step::Review => "Review and start",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub label: &'static str,
    pub hint: &'static str,
    pub input: Input,
    pub secret: bool,
}

fn field(label: &'static str, hint: &'static str, value: &str) -> Field {
    Field {
        label,
        hint,
        input: Input::new(value),
        secret: false,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WizardState {
    pub step: usize,
    /// Backend choices: detected servers, then "enter manually", then "none".
    pub detected: Option<Vec<DetectedBackend>>,
    pub choice: usize,
    pub backend: Vec<Field>,
    pub containers: Vec<Field>,
    pub chain_enabled: bool,
    pub chain: Vec<Field>,
    pub identity: Vec<Field>,
    pub make_identity: bool,
    /// Focused field on the current step (0 = the step's list or toggle where it has one).
    pub focus: usize,
    pub error: Option<String>,
    /// Where the config will be written.
    pub config_path: String,
    /// Set while the bridge writes the config and starts the node.
    pub busy: bool,
}

impl WizardState {
    pub fn new(config_path: &str, node_name: &str) -> Self {
        let mut key = field(
            "wallet key",
            "hex private key of the node's account (kept in the OS keyring)",
            "",
        );
        key.secret = true;
        WizardState {
            step: 0,
            detected: None,
            choice: 0,
            backend: vec![
                field("kind", "ollama, vllm, sglang, llamacpp, max or openai", ""),
                field("url", "where the server listens", ""),
                field(
                    "model",
                    "the model jobs and chat use (blank: the server's default)",
                    "",
                ),
            ],
            containers: vec![field(
                "containers",
                "id=image@port, comma separated (blank: none; add more later in config.json)",
                "",
            )],
            chain_enabled: false,
            chain: vec![
                field(
                    "rpc url",
                    "the chain's JSON-RPC endpoint",
                    "http://127.0.0.1:8545",
                ),
                field("registry", "address of the Infernet Registry contract", ""),
                key,
            ],
            identity: vec![
                field(
                    "node name",
                    "shown in the TUI header and to peers",
                    node_name,
                ),
                field("REST port", "Ritual clients call the node here", "4000"),
            ],
            make_identity: true,
            focus: 0,
            error: None,
            config_path: config_path.to_string(),
            busy: false,
        }
    }

    pub fn current(&self) -> Step {
        STEPS[self.step.min(STEPS.len() - 1)]
    }

    /// Entries of the backend list: detected servers, manual, none.
    pub fn choices(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .detected
            .iter()
            .flatten()
            .map(|d| {
                let n = d.models.len();
                format!(
                    "{} at {} ({n} model{})",
                    d.kind,
                    d.url,
                    if n == 1 { "" } else { "s" }
                )
            })
            .collect();
        v.push("enter a server by hand".into());
        v.push("no LLM backend for now".into());
        v
    }

    fn fields_mut(&mut self) -> Option<&mut Vec<Field>> {
        match self.current() {
            Step::Backend => Some(&mut self.backend),
            Step::Containers => Some(&mut self.containers),
            Step::Chain => Some(&mut self.chain),
            Step::Identity => Some(&mut self.identity),
            _ => None,
        }
    }

    /// Steps with a list or toggle have it at focus 0; fields follow.
    fn has_selector(&self) -> bool {
        matches!(self.current(), Step::Backend | Step::Chain | Step::Identity)
    }

    fn focus_count(&self) -> usize {
        let n = match self.current() {
            Step::Backend => self.backend.len(),
            Step::Containers => self.containers.len(),
            // The chain fields are hidden (and skipped) while the chain is off.
            Step::Chain if self.chain_enabled => self.chain.len(),
            Step::Chain => 0,
            Step::Identity => self.identity.len(),
            _ => 0,
        };
        n + usize::from(self.has_selector())
    }

    fn apply_choice(&mut self) {
        let detected = self.detected.clone().unwrap_or_default();
        if let Some(d) = detected.get(self.choice) {
            self.backend[0].input = Input::new(&d.kind);
            self.backend[1].input = Input::new(&d.url);
            self.backend[2].input = Input::new(d.models.first().map(String::as_str).unwrap_or(""));
        } else if self.choice == detected.len() + 1 {
            for f in &mut self.backend {
                f.input.clear();
            }
        }
    }

    fn no_backend(&self) -> bool {
        self.choice == self.detected.as_ref().map_or(0, Vec::len) + 1
    }

    pub fn key(&mut self, key: &KeyEvent) -> Option<Intent> {
        if self.busy {
            return None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            return Some(Intent::Quit);
        }
        let selector_focused = self.has_selector() && self.focus == 0;
        // On the backend list, ↑/↓ choose a server; everywhere else they move between fields.
        if selector_focused && self.current() == Step::Backend {
            match key.code {
                KeyCode::Up => {
                    self.choice = self.choice.saturating_sub(1);
                    self.apply_choice();
                    return None;
                }
                KeyCode::Down => {
                    self.choice = (self.choice + 1).min(self.choices().len() - 1);
                    self.apply_choice();
                    return None;
                }
                _ => {}
            }
        }
        let n = self.focus_count();
        match key.code {
            KeyCode::Enter => return self.next(),
            KeyCode::Esc => self.back(),
            KeyCode::Tab | KeyCode::Down if n > 0 => self.focus = (self.focus + 1) % n,
            KeyCode::BackTab | KeyCode::Up if n > 0 => self.focus = (self.focus + n - 1) % n,
            KeyCode::Char(' ') if selector_focused => match self.current() {
                Step::Chain => self.chain_enabled = !self.chain_enabled,
                Step::Identity => self.make_identity = !self.make_identity,
                _ => {}
            },
            _ if selector_focused => {}
            _ => {
                let idx = self.focus - usize::from(self.has_selector());
                if let Some(f) = self.fields_mut().and_then(|f| f.get_mut(idx)) {
                    let _: Edit = f.input.handle(key);
                }
            }
        }
        None
    }

    fn back(&mut self) {
        self.error = None;
        self.step = self.step.saturating_sub(1);
        self.focus = 0;
    }

    fn next(&mut self) -> Option<Intent> {
        if let Err(e) = self.check_step() {
            self.error = Some(e);
            return None;
        }
        self.error = None;
        if self.current() == Step::Review {
            return match self.answers() {
                Ok(a) => {
                    self.busy = true;
                    Some(Intent::FinishWizard(Box::new(a)))
                }
                Err(e) => {
                    self.error = Some(e);
                    None
                }
            };
        }
        self.step += 1;
        self.focus = 0;
        (self.current() == Step::Backend && self.detected.is_none())
            .then_some(Intent::DetectBackends)
    }

    pub fn set_detected(&mut self, d: Vec<DetectedBackend>) {
        self.detected = Some(d);
        self.choice = 0;
        self.apply_choice();
    }

    fn check_step(&self) -> Result<(), String> {
        match self.current() {
            Step::Backend => self.backend_answer().map(|_| ()),
            Step::Containers => parse_containers(&self.containers[0].input.text).map(|_| ()),
            Step::Chain => self.chain_answer().map(|_| ()),
            Step::Identity => self.port().map(|_| ()),
            _ => Ok(()),
        }
    }

    fn port(&self) -> Result<u16, String> {
        let t = self.identity[1].input.text.trim();
        t.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("REST port: '{t}' is not a port (1-65535)"))
    }

    fn backend_answer(&self) -> Result<Option<BackendAnswer>, String> {
        if self.no_backend() {
            return Ok(None);
        }
        let kind = self.backend[0].input.text.trim().to_lowercase();
        let url = self.backend[1].input.text.trim().to_string();
        const KINDS: [&str; 6] = ["ollama", "vllm", "sglang", "llamacpp", "max", "openai"];
        if !KINDS.contains(&kind.as_str()) {
            return Err(format!("kind: '{kind}' is not one of {}", KINDS.join(", ")));
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("url: '{url}' must start with http:// or https://"));
        }
        let model = self.backend[2].input.text.trim();
        Ok(Some(BackendAnswer {
            kind,
            url,
            model: (!model.is_empty()).then(|| model.to_string()),
        }))
    }

    fn chain_answer(&self) -> Result<Option<ChainAnswer>, String> {
        if !self.chain_enabled {
            return Ok(None);
        }
        let rpc = self.chain[0].input.text.trim().to_string();
        let registry = self.chain[1].input.text.trim().to_string();
        let key = self.chain[2].input.text.trim().to_string();
        if !(rpc.starts_with("http://") || rpc.starts_with("https://") || rpc.starts_with("ws")) {
            return Err(format!(
                "rpc url: '{rpc}' must be an http(s):// or ws(s):// URL"
            ));
        }
        let hex = |s: &str, n: usize| {
            s.strip_prefix("0x")
                .is_some_and(|h| h.len() == n && h.bytes().all(|b| b.is_ascii_hexdigit()))
        };
        if !hex(&registry, 40) {
            return Err(format!(
                "registry: '{registry}' is not an address (0x + 40 hex digits)"
            ));
        }
        let k = if key.starts_with("0x") {
            key.clone()
        } else {
            format!("0x{key}")
        };
        if !hex(&k, 64) {
            return Err("wallet key: expected 64 hex digits (the key itself is not shown)".into());
        }
        Ok(Some(ChainAnswer {
            rpc_url: rpc,
            registry_address: registry,
            private_key: k,
        }))
    }

    pub fn answers(&self) -> Result<Answers, String> {
        Ok(Answers {
            backend: self.backend_answer()?,
            containers: parse_containers(&self.containers[0].input.text)?,
            chain: self.chain_answer()?,
            node_name: self.identity[0].input.text.trim().to_string(),
            port: self.port()?,
            identity: self.make_identity,
        })
    }

    /// The review lines (secrets hidden).
    pub fn summary(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self.backend_answer() {
            Ok(Some(b)) => out.push(format!(
                "backend     {} at {} · model {}",
                b.kind,
                b.url,
                b.model.as_deref().unwrap_or("(server default)")
            )),
            Ok(None) => out.push("backend     none".into()),
            Err(e) => out.push(format!("backend     ✗ {e}")),
        }
        match parse_containers(&self.containers[0].input.text) {
            Ok(c) if c.is_empty() => out.push("containers  none".into()),
            Ok(c) => {
                for (i, c) in c.iter().enumerate() {
                    let head = if i == 0 { "containers" } else { "" };
                    out.push(format!(
                        "{head:<11} {} = {} on port {}",
                        c.id, c.image, c.port
                    ));
                }
            }
            Err(e) => out.push(format!("containers  ✗ {e}")),
        }
        match self.chain_answer() {
            Ok(Some(c)) => out.push(format!(
                "chain       {} · registry {} · key to the OS keyring (or a 0600 file)",
                c.rpc_url, c.registry_address
            )),
            Ok(None) => out.push("chain       off (off-chain jobs only)".into()),
            Err(e) => out.push(format!("chain       ✗ {e}")),
        }
        out.push(format!(
            "node        '{}' · REST on port {} · identity key {}",
            self.identity[0].input.text.trim(),
            self.identity[1].input.text.trim(),
            if self.make_identity {
                "created if missing"
            } else {
                "not created"
            }
        ));
        out.push(format!("config      {}", self.config_path));
        out
    }
}

/// `id=image@port, …`
pub fn parse_containers(text: &str) -> Result<Vec<ContainerAnswer>, String> {
    let mut out: Vec<ContainerAnswer> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("containers: '{part}' is not id=image@port");
        let (id, rest) = part.split_once('=').ok_or_else(bad)?;
        let (image, port) = rest.rsplit_once('@').ok_or_else(bad)?;
        let port: u16 = port
            .trim()
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(bad)?;
        let (id, image) = (id.trim(), image.trim());
        if id.is_empty() || image.is_empty() {
            return Err(bad());
        }
        if out.iter().any(|c| c.id == id) {
            return Err(format!("containers: id '{id}' is used twice"));
        }
        out.push(ContainerAnswer {
            id: id.into(),
            image: image.into(),
            port,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(w: &mut WizardState, code: KeyCode) -> Option<Intent> {
        w.key(&KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn typ(w: &mut WizardState, s: &str) {
        for c in s.chars() {
            press(w, KeyCode::Char(c));
        }
    }

    #[test]
    fn walks_every_step_and_produces_answers() {
        let mut w = WizardState::new("/tmp/c.json", "box");
        assert_eq!(press(&mut w, KeyCode::Enter), Some(Intent::DetectBackends));
        w.set_detected(vec![DetectedBackend {
            kind: "llamacpp".into(),
            url: "http://127.0.0.1:8080".into(),
            models: vec!["smol".into()],
        }]);
        assert_eq!(press(&mut w, KeyCode::Enter), None);
        assert_eq!(w.current(), Step::Containers);
        typ(&mut w, "echo=infernet-echo:test@3000, bad");
        press(&mut w, KeyCode::Enter);
        assert!(
            w.error
                .as_deref()
                .unwrap()
                .contains("'bad' is not id=image@port")
        );
        for _ in 0..5 {
            press(&mut w, KeyCode::Backspace);
        }
        press(&mut w, KeyCode::Enter);
        assert_eq!(w.current(), Step::Chain);
        press(&mut w, KeyCode::Char(' '));
        press(&mut w, KeyCode::Tab);
        press(&mut w, KeyCode::Tab);
        typ(&mut w, "0x0000000000000000000000000000000000000001");
        press(&mut w, KeyCode::Tab);
        typ(&mut w, "12");
        press(&mut w, KeyCode::Enter);
        assert!(w.error.as_deref().unwrap().contains("wallet key"));
        assert!(
            !w.error.as_deref().unwrap().contains("12"),
            "the key must not be echoed"
        );
        press(&mut w, KeyCode::Char(' ')); // not on the toggle: types a space
        press(&mut w, KeyCode::Up);
        press(&mut w, KeyCode::Up);
        press(&mut w, KeyCode::Up);
        press(&mut w, KeyCode::Char(' ')); // chain off again
        press(&mut w, KeyCode::Enter);
        assert_eq!(w.current(), Step::Identity);
        press(&mut w, KeyCode::Enter);
        assert_eq!(w.current(), Step::Review);
        let Some(Intent::FinishWizard(a)) = press(&mut w, KeyCode::Enter) else {
            panic!("no finish: {:?}", w.error)
        };
        assert_eq!(a.backend.unwrap().model.as_deref(), Some("smol"));
        assert_eq!(a.containers[0].image, "infernet-echo:test");
        assert_eq!(a.chain, None);
        assert_eq!((a.node_name.as_str(), a.port), ("box", 4000));
        assert!(w.busy);
    }

    #[test]
    fn arrows_choose_on_the_backend_list_even_with_nothing_detected() {
        let mut w = WizardState::new("/tmp/c.json", "box");
        press(&mut w, KeyCode::Enter);
        w.set_detected(vec![]);
        press(&mut w, KeyCode::Down);
        assert_eq!(w.choice, 1);
        press(&mut w, KeyCode::Enter);
        assert_eq!(w.current(), Step::Containers, "{:?}", w.error);
    }

    #[test]
    fn chain_key_is_hidden_in_debug() {
        let c = ChainAnswer {
            rpc_url: "http://x".into(),
            registry_address: "0x0".into(),
            private_key: "0xsecret".into(),
        };
        assert!(!format!("{c:?}").contains("secret"));
    }
}
