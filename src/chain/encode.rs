//! How a pipeline's last output becomes `deliverCompute`'s (input, output, proof) — reference
//! ritual-node §4, so Ritual's consumers decode our deliveries unchanged.
//!
//! * All five keys `raw_input, processed_input, raw_output, processed_output, proof` (hex strings,
//!   with or without `0x`, or null) → `input = abi.encode(bytes raw_input, bytes processed_input)`,
//!   `output = abi.encode(bytes raw_output, bytes processed_output)`, `proof = bytes(proof)`.
//! * Anything else → `input = ""`, `output = abi.encode(string json)` where `json` is the compact
//!   JSON text of the output (Ritual writes a Python dict repr there, which no consumer can parse
//!   reliably; JSON is our documented choice), `proof = ""`.
use alloy::primitives::Bytes;
use alloy::sol_types::SolValue;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    pub input: Bytes,
    pub output: Bytes,
    pub proof: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("output key '{key}' is not a hex string: {reason}")]
    BadHex { key: &'static str, reason: String },
    #[error("the container reported code '{0}' (anything but \"200\" is an error)")]
    ErrorCode(String),
}

const FIVE: [&str; 5] = [
    "raw_input",
    "processed_input",
    "raw_output",
    "processed_output",
    "proof",
];

fn hex_field(
    obj: &serde_json::Map<String, Value>,
    key: &'static str,
) -> Result<Vec<u8>, EncodeError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => {
            let s = s.strip_prefix("0x").unwrap_or(s);
            alloy::hex::decode(s).map_err(|e| EncodeError::BadHex {
                key,
                reason: e.to_string(),
            })
        }
        Some(other) => Err(EncodeError::BadHex {
            key,
            reason: format!("got {other}"),
        }),
    }
}

pub fn encode_output(output: &Value) -> Result<Payload, EncodeError> {
    if let Some(obj) = output.as_object() {
        if let Some(code) = obj.get("code") {
            let code = match code {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if code != "200" {
                return Err(EncodeError::ErrorCode(code));
            }
        }
        if FIVE.iter().all(|k| obj.contains_key(*k)) {
            let ri = Bytes::from(hex_field(obj, "raw_input")?);
            let pi = Bytes::from(hex_field(obj, "processed_input")?);
            let ro = Bytes::from(hex_field(obj, "raw_output")?);
            let po = Bytes::from(hex_field(obj, "processed_output")?);
            let proof = Bytes::from(hex_field(obj, "proof")?);
            return Ok(Payload {
                input: (ri, pi).abi_encode_params().into(),
                output: (ro, po).abi_encode_params().into(),
                proof,
            });
        }
    }
    Ok(Payload {
        input: Bytes::new(),
        output: (output.to_string(),).abi_encode_params().into(),
        proof: Bytes::new(),
    })
}

/// The first container's `data` for an on-chain job: the consumer's input bytes as hex, no `0x`.
pub fn input_data(inputs: &[u8]) -> Value {
    Value::String(alloy::hex::encode(inputs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn five_key_outputs_become_abi_pairs() {
        let out = json!({"raw_input": "0x01", "processed_input": "", "raw_output": "abcd",
                         "processed_output": null, "proof": "0xbeef"});
        let p = encode_output(&out).unwrap();
        let (ri, pi) = <(Bytes, Bytes)>::abi_decode_params(&p.input).unwrap();
        assert_eq!((ri.to_vec(), pi.to_vec()), (vec![1], vec![]));
        let (ro, po) = <(Bytes, Bytes)>::abi_decode_params(&p.output).unwrap();
        assert_eq!((ro.to_vec(), po.to_vec()), (vec![0xab, 0xcd], vec![]));
        assert_eq!(p.proof.to_vec(), vec![0xbe, 0xef]);
    }

    #[test]
    fn other_outputs_become_an_abi_string_of_json() {
        let out = json!({"text": "hi", "n": 1});
        let p = encode_output(&out).unwrap();
        assert!(p.input.is_empty() && p.proof.is_empty());
        let (s,) = <(String,)>::abi_decode_params(&p.output).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&s).unwrap(), out);
    }

    #[test]
    fn bad_hex_and_error_codes_are_refused() {
        let out = json!({"raw_input": "zz", "processed_input": "", "raw_output": "",
                         "processed_output": "", "proof": ""});
        assert!(matches!(
            encode_output(&out),
            Err(EncodeError::BadHex {
                key: "raw_input",
                ..
            })
        ));
        assert_eq!(
            encode_output(&json!({"code": "500"})),
            Err(EncodeError::ErrorCode("500".into()))
        );
        assert!(encode_output(&json!({"code": "200", "x": 1})).is_ok());
    }
}
