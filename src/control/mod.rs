//! The control plane (reference infernet-protocol §5–§6): the signed-request envelope, the
//! node side (register, heartbeat, jobs, commands) and a self-hostable server.
pub mod agent;
pub mod auth;
pub mod batch;
pub mod client;

pub mod db;
pub mod receipt;
pub mod server;
pub mod specs;
pub mod status;
