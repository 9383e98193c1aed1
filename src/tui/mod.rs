//! `infernet tui`: runs `infernet-ui` on this terminal, with the node hosted in-process (through
//! `infernet::view`) or attached to a daemon over its socket; the setup wizard's answers become a
//! config here.
mod attach;
mod drive;
mod expose;
mod fleet;
pub mod setup;

pub use drive::{Options, run};
