//! The on-chain side: bindings, client, deployment, subscription sync, scheduling and delivery.
pub mod abi;
pub mod anvil;
pub mod client;
pub mod containers;
pub mod delegated;
pub mod deploy;
pub mod eip712;
pub mod encode;
pub mod errors;
pub mod payments;
pub mod registration;
pub mod subscription;

pub use client::{Addresses, ChainClient, ChainError};
pub use subscription::Subscription;
pub mod head;
pub mod msg;
pub mod node;
pub mod scheduler;
pub mod signer;
pub mod sync;
pub mod view;
pub mod worker;

pub use view::{ChainSnapshot, ChainStatus};
