//! The control plane (reference infernet-protocol §5–§6): signed node requests first.
pub mod auth;
