//! The control-plane agent's lifecycle on the node: registration, heartbeats, job polling and
//! cancellation, decided from what the control plane answered.
