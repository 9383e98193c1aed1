//! Chained containers: container i's JSON output is container i+1's `data`.
use serde_json::{Value, json};

/// Ritual's `JobLocation`: where a job's input comes from and its output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobLocation {
    Onchain = 0,
    Offchain = 1,
    Stream = 2,
}

/// What a chain produced: intermediate results (all but the last) and the final one.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainOutcome {
    pub intermediate: Vec<Value>,
    pub result: Value,
    pub ok: bool,
}

pub fn output_result(container: &str, output: Value) -> Value {
    json!({"container": container, "output": output})
}

pub fn error_result(container: &str, error: &str) -> Value {
    // A backend may echo its key back in an error text; results are stored and served.
    json!({"container": container, "error": crate::config::scrub::scrub(error)})
}

/// The body of one hop (reference §4). Streams omit `requires_proof`, as Ritual does.
pub fn hop_body(
    source: JobLocation,
    destination: JobLocation,
    data: Value,
    requires_proof: bool,
) -> Value {
    if destination == JobLocation::Stream {
        json!({"source": source as u8, "destination": destination as u8, "data": data})
    } else {
        json!({"source": source as u8, "destination": destination as u8, "data": data,
               "requires_proof": requires_proof})
    }
}
