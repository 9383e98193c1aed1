//! The on-chain side: bindings, client, deployment, subscription sync, scheduling and delivery.
pub mod abi;
pub mod anvil;
pub mod client;
pub mod containers;
pub mod deploy;
pub mod encode;
pub mod errors;
pub mod subscription;

pub use client::{Addresses, ChainClient, ChainError};
pub use subscription::Subscription;
