//! What setup writes: the one place where an operator's setup answers (from `infernet setup`
//! or the TUI wizard) become config.json keys and stored secrets, so either can re-run over
//! the other and both write the same thing.
mod answers;

pub use answers::{
    Applied, ApplyError, BackendChoice, ChainChoice, SetupAnswers, apply, ensure_identity, upsert,
};
