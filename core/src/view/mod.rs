//! The view model and the UI's vocabulary, as plain serde data: the engine side builds them,
//! the daemon sends them over its socket, the terminal UI (infernet-ui) draws them. Kept here
//! so neither side depends on the other.
pub mod answers;
pub mod fleet;
pub mod intent;
pub mod model;
pub mod why;
