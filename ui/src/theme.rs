//! Themes: purpose-named colour slots loaded from TOML (`themes/*.toml`, embedded at build
//! time). Panels ask for `border_focused`, never for a raw colour.
use serde::Deserialize;
use std::collections::BTreeMap;

/// Every slot a theme must define.
pub const SLOTS: &[&str] = &[
    "background",
    "text",
    "text_dim",
    "border",
    "border_focused",
    "title",
    "status_ok",
    "status_warn",
    "status_error",
    "status_running",
    "gpu_cool",
    "gpu_warm",
    "gpu_hot",
    "selection_bg",
    "selection_fg",
];

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
pub const BUILTIN: &[(&str, &str)] = &[("dark", include_str!("../../themes/dark.toml"))];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Color {
    Named(String),
    Rgb(u8, u8, u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    pub name: String,
    pub slots: BTreeMap<String, Color>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThemeError {
    Toml(String),
    MissingSlot(String),
    UnknownSlot(String),
    BadColor { slot: String, value: String },
}

impl std::fmt::Display for ThemeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ThemeError::Toml(e) => write!(f, "theme is not valid TOML: {e}"),
            ThemeError::MissingSlot(s) => write!(f, "theme lacks slot '{s}'"),
            ThemeError::UnknownSlot(s) => write!(f, "theme has unknown slot '{s}'"),
            ThemeError::BadColor { slot, value } => write!(
                f,
                "slot '{slot}': '{value}' is not a colour (a name such as 'lightcyan', or '#rrggbb')"
            ),
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

impl Theme {
    pub fn from_toml(text: &str) -> Result<Theme, ThemeError> {
        let raw: Raw = toml::from_str(text).map_err(|e| ThemeError::Toml(e.to_string()))?;
        for k in raw.slots.keys() {
            if !SLOTS.contains(&k.as_str()) {
                return Err(ThemeError::UnknownSlot(k.clone()));
            }
        }
        let mut slots = BTreeMap::new();
        for s in SLOTS {
            let v = raw
                .slots
                .get(*s)
                .ok_or_else(|| ThemeError::MissingSlot((*s).to_string()))?;
            let c = parse_color(v).ok_or_else(|| ThemeError::BadColor {
                slot: (*s).to_string(),
                value: v.clone(),
            })?;
            slots.insert((*s).to_string(), c);
        }
        Ok(Theme {
            name: raw.name,
            slots,
        })
    }

    pub fn builtin(name: &str) -> Option<Result<Theme, ThemeError>> {
        BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| Theme::from_toml(t))
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
        }
        assert_eq!(
            Theme::builtin("dark").unwrap().unwrap().slots["selection_bg"],
            Color::Rgb(0x26, 0x4f, 0x78)
        );
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
}
