//! The control plane's job lease: pending, assigned, running, completed or failed; renewal,
//! expiry and requeueing, decided from the job row and `now`.
