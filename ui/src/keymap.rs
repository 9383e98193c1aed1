//! Keybindings are data: every action has a name, a scope and keys. The footer and the help
//! overlay are generated from this table, and `ui.keys` in config.json overrides it.
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Global,
    List,
    Jobs,
    Containers,
    Logs,
    Chat,
}

impl Scope {
    pub fn label(self) -> &'static str {
        match self {
            Scope::Global => "everywhere",
            Scope::List => "lists",
            Scope::Jobs => "jobs",
            Scope::Containers => "containers & backends",
            Scope::Logs => "logs",
            Scope::Chat => "chat",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Quit,
    Help,
    NextPanel,
    PrevPanel,
    Dashboard,
    Jobs,
    Subscriptions,
    Containers,
    Peers,
    Logs,
    Chat,
    Metrics,
    Fleet,
    Window,
    Refresh,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    Back,
    Filter,
    Grow,
    Shrink,
    Restart,
    Pull,
    Level,
    Follow,
    NewChat,
    NextChat,
    Focus,
}

/// (action, config name, scope, description, default keys)
const TABLE: &[(Action, &str, Scope, &str, &[&str])] = &[
    (
        Action::Quit,
        "quit",
        Scope::Global,
        "quit",
        &["q", "ctrl-c"],
    ),
    (Action::Help, "help", Scope::Global, "help", &["?", "f1"]),
    (
        Action::NextPanel,
        "next_panel",
        Scope::Global,
        "next panel",
        &["tab"],
    ),
    (
        Action::PrevPanel,
        "prev_panel",
        Scope::Global,
        "previous panel",
        &["backtab"],
    ),
    (
        Action::Dashboard,
        "dashboard",
        Scope::Global,
        "dashboard",
        &["1"],
    ),
    (Action::Jobs, "jobs", Scope::Global, "jobs", &["2"]),
    (
        Action::Subscriptions,
        "subscriptions",
        Scope::Global,
        "subscriptions",
        &["3"],
    ),
    (
        Action::Containers,
        "containers",
        Scope::Global,
        "containers & backends",
        &["4"],
    ),
    (Action::Peers, "peers", Scope::Global, "peers", &["5"]),
    (Action::Logs, "logs", Scope::Global, "logs", &["6"]),
    (Action::Chat, "chat", Scope::Global, "chat", &["7", "c"]),
    (
        Action::Metrics,
        "metrics",
        Scope::Global,
        "metrics (plots)",
        &["8"],
    ),
    (
        Action::Fleet,
        "fleet",
        Scope::Global,
        "fleet (--host boxes)",
        &["9"],
    ),
    (
        Action::Refresh,
        "refresh",
        Scope::Global,
        "refresh now",
        &["r"],
    ),
    (
        Action::Window,
        "window",
        Scope::Global,
        "history window 1 m / 15 m / 1 h",
        &["w"],
    ),
    (Action::Up, "up", Scope::List, "up", &["up", "k"]),
    (Action::Down, "down", Scope::List, "down", &["down", "j"]),
    (
        Action::PageUp,
        "page_up",
        Scope::List,
        "page up",
        &["pageup"],
    ),
    (
        Action::PageDown,
        "page_down",
        Scope::List,
        "page down",
        &["pagedown"],
    ),
    (Action::Top, "top", Scope::List, "first", &["home", "g"]),
    (Action::Bottom, "bottom", Scope::List, "last", &["end", "G"]),
    (Action::Open, "open", Scope::List, "open", &["enter"]),
    (
        Action::Back,
        "back",
        Scope::Global,
        "close / back",
        &["esc"],
    ),
    (Action::Filter, "filter", Scope::List, "filter", &["/"]),
    (
        Action::Grow,
        "grow",
        Scope::Global,
        "grow panel",
        &["+", "="],
    ),
    (
        Action::Shrink,
        "shrink",
        Scope::Global,
        "shrink panel",
        &["-"],
    ),
    (
        Action::Restart,
        "restart",
        Scope::Containers,
        "restart container",
        &["r"],
    ),
    (
        Action::Pull,
        "pull",
        Scope::Containers,
        "pull model",
        &["p"],
    ),
    (Action::Level, "level", Scope::Logs, "level filter", &["l"]),
    (Action::Follow, "follow", Scope::Logs, "follow", &["f"]),
    (
        Action::NewChat,
        "new_chat",
        Scope::Chat,
        "new chat",
        &["ctrl-n"],
    ),
    (
        Action::NextChat,
        "next_chat",
        Scope::Chat,
        "next chat",
        &["ctrl-o"],
    ),
    (
        Action::Focus,
        "focus_input",
        Scope::Chat,
        "type a message",
        &["i"],
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    pub fn from_event(ev: &KeyEvent) -> Key {
        // Shift is part of the character for printable keys ('G', '?').
        let mods = match ev.code {
            KeyCode::Char(_) => ev.modifiers - KeyModifiers::SHIFT,
            _ => ev.modifiers,
        };
        Key {
            code: ev.code,
            mods,
        }
    }

    pub fn parse(spec: &str) -> Option<Key> {
        let (mut mods, mut rest) = (KeyModifiers::NONE, spec);
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                mods |= KeyModifiers::CONTROL;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                mods |= KeyModifiers::ALT;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest {
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" | "shift-tab" => KeyCode::BackTab,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "space" => KeyCode::Char(' '),
            f if f.len() >= 2 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                KeyCode::F(f[1..].parse().ok()?)
            }
            c if c.chars().count() == 1 => KeyCode::Char(c.chars().next()?),
            _ => return None,
        };
        Some(Key { code, mods })
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Enter => "Enter".to_string(),
            KeyCode::Esc => "Esc".to_string(),
            KeyCode::Tab => "Tab".to_string(),
            KeyCode::BackTab => "S-Tab".to_string(),
            KeyCode::Up => "↑".to_string(),
            KeyCode::Down => "↓".to_string(),
            KeyCode::Left => "←".to_string(),
            KeyCode::Right => "→".to_string(),
            KeyCode::PageUp => "PgUp".to_string(),
            KeyCode::PageDown => "PgDn".to_string(),
            KeyCode::Home => "Home".to_string(),
            KeyCode::End => "End".to_string(),
            KeyCode::F(n) => format!("F{n}"),
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            _ => "?".to_string(),
        };
        let mut s = String::new();
        if self.mods.contains(KeyModifiers::CONTROL) {
            s.push_str("C-");
        }
        if self.mods.contains(KeyModifiers::ALT) {
            s.push_str("M-");
        }
        s + &base
    }
}

#[derive(Debug, Clone)]
pub struct Binding {
    pub action: Action,
    pub name: &'static str,
    pub scope: Scope,
    pub description: &'static str,
    pub keys: Vec<Key>,
}

#[derive(Debug, Clone)]
pub struct Keymap {
    pub bindings: Vec<Binding>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap {
            bindings: TABLE
                .iter()
                .map(|(action, name, scope, description, keys)| Binding {
                    action: *action,
                    name,
                    scope: *scope,
                    description,
                    keys: keys.iter().filter_map(|k| Key::parse(k)).collect(),
                })
                .collect(),
        }
    }
}

impl Keymap {
    /// Applies `ui.keys` overrides (action name -> key specs). Returns the keymap and one
    /// message per entry it could not use (unknown action, unparsable key).
    pub fn with_overrides(overrides: &BTreeMap<String, Vec<String>>) -> (Keymap, Vec<String>) {
        let mut map = Keymap::default();
        let mut problems = Vec::new();
        for (name, specs) in overrides {
            let Some(b) = map.bindings.iter_mut().find(|b| b.name == name) else {
                let known: Vec<&str> = TABLE.iter().map(|t| t.1).collect();
                problems.push(format!(
                    "ui.keys: unknown action '{name}' (known: {})",
                    known.join(", ")
                ));
                continue;
            };
            let mut keys = Vec::new();
            for s in specs {
                match Key::parse(s) {
                    Some(k) => keys.push(k),
                    None => problems.push(format!(
                        "ui.keys.{name}: '{s}' is not a key (examples: 'q', 'ctrl-r', 'f5', 'pagedown')"
                    )),
                }
            }
            if !keys.is_empty() {
                b.keys = keys;
            }
        }
        (map, problems)
    }

    /// The action bound to `key` among the given scopes (earlier scopes win).
    pub fn lookup(&self, key: &KeyEvent, scopes: &[Scope]) -> Option<Action> {
        let k = Key::from_event(key);
        scopes.iter().find_map(|s| {
            self.bindings
                .iter()
                .find(|b| b.scope == *s && b.keys.contains(&k))
                .map(|b| b.action)
        })
    }

    pub fn binding(&self, action: Action) -> Option<&Binding> {
        self.bindings.iter().find(|b| b.action == action)
    }

    /// "q" for the footer: the first key of an action.
    pub fn key_label(&self, action: Action) -> String {
        self.binding(action)
            .and_then(|b| b.keys.first())
            .map(Key::label)
            .unwrap_or_default()
    }

    /// All names, for the help overlay and config docs.
    pub fn names() -> impl Iterator<Item = &'static str> {
        TABLE.iter().map(|t| t.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_default_key_and_labels_it() {
        for (_, name, _, _, keys) in TABLE {
            for k in *keys {
                assert!(Key::parse(k).is_some(), "{name}: {k}");
            }
        }
        assert_eq!(Key::parse("ctrl-c").map(|k| k.label()), Some("C-c".into()));
        assert_eq!(Key::parse("f5").map(|k| k.code), Some(KeyCode::F(5)));
        assert_eq!(Key::parse("nonsense"), None);
    }

    #[test]
    fn overrides_replace_keys_and_report_problems() {
        let mut o = BTreeMap::new();
        o.insert("quit".to_string(), vec!["x".to_string()]);
        o.insert("bogus".to_string(), vec!["y".to_string()]);
        o.insert("help".to_string(), vec!["notakey".to_string()]);
        let (map, problems) = Keymap::with_overrides(&o);
        let x = KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE);
        let q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(map.lookup(&x, &[Scope::Global]), Some(Action::Quit));
        assert_eq!(map.lookup(&q, &[Scope::Global]), None);
        assert_eq!(problems.len(), 2);
        assert!(problems[0].contains("unknown action 'bogus'"));
        assert!(problems[1].contains("'notakey' is not a key"));
        // An unusable override keeps the default.
        let f1 = KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE);
        assert_eq!(map.lookup(&f1, &[Scope::Global]), Some(Action::Help));
    }

    #[test]
    fn shifted_characters_match_their_character() {
        let map = Keymap::default();
        let big_g = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(map.lookup(&big_g, &[Scope::List]), Some(Action::Bottom));
    }
}
