//! `infernet tui`: the one bridge between the engine and `infernet-ui`. It hosts the engine
//! in-process, turns snapshots, jobs, samples and logs into `ui::Model`, and carries out the
//! UI's intents (chat turns, job detail, container restart, model pull, the wizard).
mod attach;
mod drive;
mod expose;
pub mod host;
mod model;
pub mod setup;
mod tasks;

pub use drive::{Options, run};
