//! The c0mpute peer-to-peer substrate (reference infernet-protocol §8.4): the protocol ids,
//! gossip topics and messages a c0mpute peer speaks, and the rules for trusting them, as
//! pure code. The node's libp2p driver only moves bytes.
pub mod auction;
pub mod peers;
pub mod receipt;
pub mod spec;
pub mod wire;

pub use peers::{PeerEntry, PeerTable, Refused};
pub use wire::*;
