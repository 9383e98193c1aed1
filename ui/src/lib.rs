//! infernet-ui: the terminal UI. The view model and intents (infernet-core `view`, re-exported)
//! are its whole interface to the node; `App::update` turns keys into intents, `draw::draw`
//! renders (pure), `run::run` owns the terminal. No chain, Docker or store crates here.
pub use infernet_core::view::{answers, intent, model};

pub mod app;
pub mod chat;
pub mod draw;
pub mod fmt;
pub mod input;
pub mod keymap;
pub mod list;
pub mod panels;
pub mod run;
pub mod theme;
pub mod wizard;

pub use app::{App, Msg, Panel, View};
pub use intent::{ChatUpdate, DetectedBackend, Intent, Update};
pub use model::Model;
