//! The chain sync's decisions: the cursor over blocks and logs, when to fall back from logs to
//! reading ids, and which subscriptions to (re)read.
