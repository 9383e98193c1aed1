//! Themes: purpose-named colour slots loaded from TOML (`themes/*.toml`, embedded at build
//! time; user themes from `<config dir>/themes/<name>.toml`). Panels ask for a `Slot`
//! (`BorderFocused`), never for a raw colour. Colours are reduced to what the terminal shows:
//! true colour, 256 or 16 colours, or none at all under `NO_COLOR`.
use ratatui::style::{Color as TermColor, Modifier, Style};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

macro_rules! slots {
    ($($variant:ident => $name:literal: $doc:literal,)*) => {
        /// Every slot a theme must define.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub enum Slot { $($variant,)* }
        pub const SLOTS: &[(Slot, &str, &str)] = &[$((Slot::$variant, $name, $doc),)*];
    };
}

slots! {
    Background => "background": "screen background",
    Text => "text": "normal text",
    TextDim => "text_dim": "secondary text: ages, hints, units",
    Border => "border": "panel borders",
    BorderFocused => "border_focused": "border of the focused panel",
    Title => "title": "panel titles and the header",
    StatusOk => "status_ok": "healthy, succeeded, ready",
    StatusWarn => "status_warn": "degraded, skipped, waiting",
    StatusError => "status_error": "failed, unreachable",
    StatusRunning => "status_running": "in progress",
    GpuCool => "gpu_cool": "GPU/CPU load below 50 %",
    GpuWarm => "gpu_warm": "GPU/CPU load 50-85 %",
    GpuHot => "gpu_hot": "GPU/CPU load above 85 %",
    SelectionBg => "selection_bg": "selected row background",
    SelectionFg => "selection_fg": "selected row text",
    KeyHint => "key_hint": "keys in the footer and help",
    ChatUser => "chat_user": "the operator's chat messages",
    ChatAssistant => "chat_assistant": "the model's chat messages",
}

const NAMED: &[&str] = &[
    "reset",
    "black",
    "red",
    "green",
    "yellow",
    "blue",
    "magenta",
    "cyan",
    "gray",
    "darkgray",
    "lightred",
    "lightgreen",
    "lightyellow",
    "lightblue",
    "lightmagenta",
    "lightcyan",
    "white",
];

/// Built-in themes, embedded from `themes/`.
pub const BUILTIN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("ansi16", include_str!("../../themes/ansi16.toml")),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Color {
    Named(String),
    Rgb(u8, u8, u8),
}

/// What the terminal can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    TrueColor,
    Ansi256,
    Ansi16,
    /// `NO_COLOR`: no colours at all; emphasis by bold/reverse only.
    None,
}

impl Depth {
    /// From the environment: `NO_COLOR` (any value) wins, then `COLORTERM`, then `TERM`.
    pub fn detect(env: &dyn Fn(&str) -> Option<String>) -> Depth {
        if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return Depth::None;
        }
        let colorterm = env("COLORTERM").unwrap_or_default();
        if colorterm == "truecolor" || colorterm == "24bit" {
            return Depth::TrueColor;
        }
        let term = env("TERM").unwrap_or_default();
        if term.contains("256") {
            Depth::Ansi256
        } else {
            Depth::Ansi16
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    pub name: String,
    pub slots: BTreeMap<Slot, Color>,
    pub depth: Depth,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThemeError {
    Toml(String),
    MissingSlot(String),
    UnknownSlot(String),
    BadColor { slot: String, value: String },
    Unknown { name: String, known: Vec<String> },
    Read { path: String, error: String },
}

impl std::fmt::Display for ThemeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ThemeError::Toml(e) => write!(f, "theme is not valid TOML: {e}"),
            ThemeError::MissingSlot(s) => write!(f, "theme lacks slot '{s}'"),
            ThemeError::UnknownSlot(s) => write!(
                f,
                "theme has unknown slot '{s}' (see `infernet tui --print-theme-slots`)"
            ),
            ThemeError::BadColor { slot, value } => write!(
                f,
                "slot '{slot}': '{value}' is not a colour (a name such as 'lightcyan', or '#rrggbb')"
            ),
            ThemeError::Unknown { name, known } => write!(
                f,
                "no theme '{name}' (built in or user themes: {})",
                known.join(", ")
            ),
            ThemeError::Read { path, error } => write!(f, "cannot read theme '{path}': {error}"),
        }
    }
}

impl std::error::Error for ThemeError {}

#[derive(Deserialize)]
struct Raw {
    name: String,
    slots: BTreeMap<String, String>,
}

fn parse_color(v: &str) -> Option<Color> {
    let lower = v.trim().to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix('#') {
        if hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let p = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
            return Some(Color::Rgb(p(0)?, p(2)?, p(4)?));
        }
        return None;
    }
    NAMED
        .contains(&lower.as_str())
        .then_some(Color::Named(lower))
}

fn named(n: &str) -> TermColor {
    match n {
        "black" => TermColor::Black,
        "red" => TermColor::Red,
        "green" => TermColor::Green,
        "yellow" => TermColor::Yellow,
        "blue" => TermColor::Blue,
        "magenta" => TermColor::Magenta,
        "cyan" => TermColor::Cyan,
        "gray" => TermColor::Gray,
        "darkgray" => TermColor::DarkGray,
        "lightred" => TermColor::LightRed,
        "lightgreen" => TermColor::LightGreen,
        "lightyellow" => TermColor::LightYellow,
        "lightblue" => TermColor::LightBlue,
        "lightmagenta" => TermColor::LightMagenta,
        "lightcyan" => TermColor::LightCyan,
        "white" => TermColor::White,
        _ => TermColor::Reset,
    }
}

/// The xterm 256-colour index closest to an RGB value (6x6x6 cube or grey ramp).
fn to_256(r: u8, g: u8, b: u8) -> u8 {
    let cube = |v: u8| -> u8 {
        if v < 48 {
            0
        } else if v < 115 {
            1
        } else {
            (v - 35) / 40
        }
    };
    let (cr, cg, cb) = (cube(r), cube(g), cube(b));
    let level = |c: u8| if c == 0 { 0 } else { 55 + 40 * c as i32 };
    let cube_dist = (level(cr) - r as i32).pow(2)
        + (level(cg) - g as i32).pow(2)
        + (level(cb) - b as i32).pow(2);
    let avg = (r as i32 + g as i32 + b as i32) / 3;
    let grey = ((avg - 8).max(0) / 10).min(23);
    let gv = 8 + 10 * grey;
    let grey_dist = (gv - r as i32).pow(2) + (gv - g as i32).pow(2) + (gv - b as i32).pow(2);
    if grey_dist < cube_dist {
        232 + grey as u8
    } else {
        16 + 36 * cr + 6 * cg + cb
    }
}

/// The nearest of the 16 ANSI colours (by brightness and dominant channels).
fn to_16(r: u8, g: u8, b: u8) -> TermColor {
    let max = r.max(g).max(b);
    let bright = max > 170;
    let on = |v: u8| max > 0 && v as u16 * 2 > max as u16;
    match (on(r), on(g), on(b), bright) {
        _ if max < 60 => TermColor::Black,
        (true, true, true, true) => TermColor::White,
        (true, true, true, false) => TermColor::DarkGray,
        (true, false, false, b) => [TermColor::Red, TermColor::LightRed][b as usize],
        (false, true, false, b) => [TermColor::Green, TermColor::LightGreen][b as usize],
        (false, false, true, b) => [TermColor::Blue, TermColor::LightBlue][b as usize],
        (true, true, false, b) => [TermColor::Yellow, TermColor::LightYellow][b as usize],
        (true, false, true, b) => [TermColor::Magenta, TermColor::LightMagenta][b as usize],
        (false, true, true, b) => [TermColor::Cyan, TermColor::LightCyan][b as usize],
        _ => TermColor::Gray,
    }
}

impl Theme {
    pub fn from_toml(text: &str) -> Result<Theme, ThemeError> {
        let raw: Raw = toml::from_str(text).map_err(|e| ThemeError::Toml(e.to_string()))?;
        for k in raw.slots.keys() {
            if !SLOTS.iter().any(|(_, n, _)| n == k) {
                return Err(ThemeError::UnknownSlot(k.clone()));
            }
        }
        let mut slots = BTreeMap::new();
        for (slot, name, _) in SLOTS {
            let v = raw
                .slots
                .get(*name)
                .ok_or_else(|| ThemeError::MissingSlot((*name).to_string()))?;
            let c = parse_color(v).ok_or_else(|| ThemeError::BadColor {
                slot: (*name).to_string(),
                value: v.clone(),
            })?;
            slots.insert(*slot, c);
        }
        Ok(Theme {
            name: raw.name,
            slots,
            depth: Depth::TrueColor,
        })
    }

    pub fn builtin(name: &str) -> Option<Result<Theme, ThemeError>> {
        BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| Theme::from_toml(t))
    }

    /// A user theme `<dir>/<name>.toml` wins over a built-in one of the same name.
    pub fn load(name: &str, user_dir: Option<&Path>) -> Result<Theme, ThemeError> {
        if let Some(dir) = user_dir {
            let path = dir.join(format!("{name}.toml"));
            if path.is_file() {
                let text = std::fs::read_to_string(&path).map_err(|e| ThemeError::Read {
                    path: path.display().to_string(),
                    error: e.to_string(),
                })?;
                return Theme::from_toml(&text).map_err(|e| ThemeError::Read {
                    path: path.display().to_string(),
                    error: e.to_string(),
                });
            }
        }
        match Theme::builtin(name) {
            Some(t) => t,
            None => {
                let mut known: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
                if let Some(dir) = user_dir
                    && let Ok(rd) = std::fs::read_dir(dir)
                {
                    for e in rd.flatten() {
                        let p = e.path();
                        if p.extension().is_some_and(|x| x == "toml")
                            && let Some(stem) = p.file_stem()
                        {
                            known.push(stem.to_string_lossy().into_owned());
                        }
                    }
                }
                Err(ThemeError::Unknown {
                    name: name.to_string(),
                    known,
                })
            }
        }
    }

    pub fn with_depth(mut self, depth: Depth) -> Theme {
        self.depth = depth;
        self
    }

    /// The terminal colour of a slot at this theme's depth (`Reset` under `NO_COLOR`).
    pub fn color(&self, slot: Slot) -> TermColor {
        let Some(c) = self.slots.get(&slot) else {
            return TermColor::Reset;
        };
        match (self.depth, c) {
            (Depth::None, _) => TermColor::Reset,
            (_, Color::Named(n)) => named(n),
            (Depth::TrueColor, Color::Rgb(r, g, b)) => TermColor::Rgb(*r, *g, *b),
            (Depth::Ansi256, Color::Rgb(r, g, b)) => TermColor::Indexed(to_256(*r, *g, *b)),
            (Depth::Ansi16, Color::Rgb(r, g, b)) => to_16(*r, *g, *b),
        }
    }

    /// Foreground style of a slot; without colours, emphasis slots become bold.
    pub fn fg(&self, slot: Slot) -> Style {
        let s = Style::default().fg(self.color(slot));
        if self.depth == Depth::None
            && matches!(
                slot,
                Slot::BorderFocused | Slot::Title | Slot::StatusError | Slot::KeyHint
            )
        {
            s.add_modifier(Modifier::BOLD)
        } else {
            s
        }
    }

    /// The selected row: theme colours, or reverse video when there are none.
    pub fn selection(&self) -> Style {
        if self.depth == Depth::None {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default()
                .bg(self.color(Slot::SelectionBg))
                .fg(self.color(Slot::SelectionFg))
        }
    }

    /// Load colour by percentage: cool, warm, hot.
    pub fn heat(&self, pct: f64) -> Style {
        self.fg(if pct >= 85.0 {
            Slot::GpuHot
        } else if pct >= 50.0 {
            Slot::GpuWarm
        } else {
            Slot::GpuCool
        })
    }

    /// `infernet tui --print-theme-slots`: every slot, its purpose, and the built-in values.
    pub fn slot_table() -> String {
        let themes: Vec<(&str, Option<Theme>)> = BUILTIN
            .iter()
            .map(|(n, t)| (*n, Theme::from_toml(t).ok()))
            .collect();
        let mut out = format!("{:<16} {:<40}", "slot", "purpose");
        for (n, _) in &themes {
            out.push_str(&format!(" {n:<14}"));
        }
        out.push('\n');
        for (slot, name, doc) in SLOTS {
            out.push_str(&format!("{name:<16} {doc:<40}"));
            for (_, t) in &themes {
                let v = match t.as_ref().and_then(|t| t.slots.get(slot)) {
                    Some(Color::Named(n)) => n.clone(),
                    Some(Color::Rgb(r, g, b)) => format!("#{r:02x}{g:02x}{b:02x}"),
                    None => "-".into(),
                };
                out.push_str(&format!(" {v:<14}"));
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_theme_defines_every_slot() {
        for (name, text) in BUILTIN {
            let t = Theme::from_toml(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(t.slots.len(), SLOTS.len());
            assert_eq!(&t.name, name);
        }
    }

    #[test]
    fn ansi16_theme_uses_only_named_colours() {
        let t = Theme::from_toml(include_str!("../../themes/ansi16.toml")).unwrap();
        assert!(t.slots.values().all(|c| matches!(c, Color::Named(_))));
    }

    #[test]
    fn rgb_is_reduced_to_the_terminal_depth() {
        let t = Theme::from_toml(include_str!("../../themes/dark.toml")).unwrap();
        assert_eq!(t.color(Slot::SelectionBg), TermColor::Rgb(0x26, 0x4f, 0x78));
        let t256 = t.clone().with_depth(Depth::Ansi256);
        assert!(matches!(
            t256.color(Slot::SelectionBg),
            TermColor::Indexed(_)
        ));
        let t16 = t.clone().with_depth(Depth::Ansi16);
        assert!(!matches!(
            t16.color(Slot::SelectionBg),
            TermColor::Rgb(..) | TermColor::Indexed(_)
        ));
        let none = t.with_depth(Depth::None);
        assert_eq!(none.color(Slot::StatusError), TermColor::Reset);
        assert!(none.selection().add_modifier.contains(Modifier::REVERSED));
        assert_eq!(to_256(0, 0, 0), 16);
        assert_eq!(to_256(255, 255, 255), 231);
        assert_eq!(to_256(128, 128, 128), 244);
    }

    #[test]
    fn depth_follows_no_color_colorterm_and_term() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            Depth::detect(&env(&[("NO_COLOR", "1"), ("COLORTERM", "truecolor")])),
            Depth::None
        );
        assert_eq!(
            Depth::detect(&env(&[("COLORTERM", "truecolor")])),
            Depth::TrueColor
        );
        assert_eq!(
            Depth::detect(&env(&[("TERM", "xterm-256color")])),
            Depth::Ansi256
        );
        assert_eq!(Depth::detect(&env(&[("TERM", "xterm")])), Depth::Ansi16);
    }

    #[test]
    fn bad_themes_say_what_is_wrong() {
        let base = include_str!("../../themes/dark.toml");
        let e = Theme::from_toml(&base.replace("gpu_hot = \"red\"", "gpu_hot = \"reddish\""))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "slot 'gpu_hot': 'reddish' is not a colour (a name such as 'lightcyan', or '#rrggbb')"
        );
        let e = Theme::from_toml(&base.replace("gpu_hot = \"red\"\n", "")).unwrap_err();
        assert_eq!(e, ThemeError::MissingSlot("gpu_hot".into()));
        let e = Theme::from_toml(&base.replace("gpu_hot", "gpu_lava")).unwrap_err();
        assert_eq!(e, ThemeError::UnknownSlot("gpu_lava".into()));
    }

    #[test]
    fn user_themes_win_and_unknown_names_list_what_exists() {
        let dir = std::env::temp_dir().join(format!("infernet-theme-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mine =
            include_str!("../../themes/dark.toml").replace("name = \"dark\"", "name = \"mine\"");
        std::fs::write(dir.join("mine.toml"), mine).unwrap();
        assert_eq!(Theme::load("mine", Some(&dir)).unwrap().name, "mine");
        let e = Theme::load("nope", Some(&dir)).unwrap_err().to_string();
        assert!(
            e.contains("no theme 'nope'") && e.contains("mine") && e.contains("ansi16"),
            "{e}"
        );
        std::fs::write(dir.join("broken.toml"), "name = 1").unwrap();
        let e = Theme::load("broken", Some(&dir)).unwrap_err().to_string();
        assert!(e.contains("broken.toml"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
