//! infernet: the engine library behind the `infernet` binary.
pub mod api;
pub mod backend;
pub mod chain;
pub mod clock;
pub mod compute;
pub mod config;
pub mod control;
pub mod daemon;
pub mod diag;
pub mod engine;
#[doc(hidden)]
pub mod fuzzing;
pub mod guardian;
pub mod identity;
pub mod jobs;
pub mod listener;
pub mod logging;
pub mod p2p;
pub mod payout;
pub mod retry;
pub mod setup;
pub mod store;
pub mod supervise;
pub mod system;
pub mod telemetry;
pub mod view;
