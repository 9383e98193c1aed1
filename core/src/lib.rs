//! infernet-core: what the node decides, without doing any IO.
//!
//! Each lifecycle is a state machine in the shape `handle(state, event, now) -> effects`: the
//! async drivers in the `infernet` crate feed it what they observed (a new head, an RPC answer,
//! a row) and execute the effects it returns (start a delivery, send a transaction, write a
//! row). Nothing here touches a socket, a file, a clock or a runtime.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod agent;
pub mod c0mpute;
pub mod chain;
pub mod continuity;
pub mod history;
pub mod interval;
pub mod lease;
pub mod ratelimit;
pub mod retry;
pub mod sync;
pub mod tx;
pub mod view;
pub mod wire;
