//! Telemetry: `/metrics` in the Prometheus text format on the node and the control plane
//! (computed at scrape time from state both already keep), and an opt-in push of the same
//! text to `telemetry.push_url`. Ritual's `forward_stats` stays off: nothing leaves the box
//! unless the operator names where.
pub mod node;
pub mod prom;
pub mod push;
