//! infernet-ui: the terminal UI's view model and themes. It depends on serde only (never on
//! the engine's chain, Docker or store crates); the ratatui app lands with the TUI.
pub mod theme;
