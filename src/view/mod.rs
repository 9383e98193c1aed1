//! The one module that maps engine state to the view model (`infernet_core::view`): `Host`
//! builds `Model` from the engine, the store, the host/GPU sampler and the log ring, and carries
//! out the UI's intents through the engine's commands. `infernet tui` hosts it in-process; the
//! daemon hosts it for TUIs attached over its socket. Nothing here draws or owns a terminal.
mod host;
mod map;
mod recorder;
pub(crate) mod tasks;

pub use host::{Host, Session};
pub use recorder::Recorder;
