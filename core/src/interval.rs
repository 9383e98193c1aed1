//! The interval scheduler's decisions: when each tracked subscription's next interval is due,
//! what follows a delivery outcome (confirm, skip, retry with backoff, give up) and when a
//! subscription is finished.
