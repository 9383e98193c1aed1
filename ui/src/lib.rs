//! infernet-ui: the terminal UI. A serialisable view model (`model`) and intents (`intent`)
//! are its whole interface to the node; `App::update` turns keys into intents, `draw::draw`
//! renders (pure), `run::run` owns the terminal. No chain, Docker or store crates here.
pub mod app;
pub mod chat;
pub mod draw;
pub mod fmt;
pub mod input;
pub mod intent;
pub mod keymap;
pub mod list;
pub mod model;
pub mod panels;
pub mod run;
pub mod theme;
pub mod wizard;

pub use app::{App, Msg, Panel, View};
pub use intent::{ChatUpdate, DetectedBackend, Intent, Update};
pub use model::Model;
