//! Diagnostics for operators: `doctor` (checks with fixes) and `debug` (a redacted bundle for
//! bug reports).
pub mod bundle;
pub mod doctor;
