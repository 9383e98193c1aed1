//! The `infernet.inference` workload's spec (what an offer carries inline and what
//! `infernet run` reads): a chat request, the same fields as the node's chat. Its hash in an
//! offer (`spec_hash`) is blake3 of these bytes as sent; the worker checks it.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpecMessage {
    pub role: String,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferenceSpec {
    /// The model to run; absent: the worker's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub messages: Vec<SpecMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
}

impl InferenceSpec {
    /// Read from an offer's `spec_inline` or a spec file: at least one message, each with
    /// a known role.
    pub fn parse(v: &serde_json::Value) -> Result<Self, String> {
        let s: InferenceSpec = serde_json::from_value(v.clone())
            .map_err(|e| format!("not an infernet.inference spec: {e}"))?;
        if s.messages.is_empty() {
            return Err("the spec has no messages".into());
        }
        if let Some(m) = s
            .messages
            .iter()
            .find(|m| !matches!(m.role.as_str(), "system" | "user" | "assistant"))
        {
            return Err(format!("unknown message role '{}'", m.role));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_spec_reads_and_bad_ones_say_why() {
        let s = InferenceSpec::parse(
            &json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
                                             "max_tokens": 8}),
        )
        .unwrap();
        assert_eq!((s.model.as_deref(), s.max_tokens), (Some("m"), Some(8)));
        assert_eq!(
            InferenceSpec::parse(&json!({"messages": []})).unwrap_err(),
            "the spec has no messages"
        );
        assert!(
            InferenceSpec::parse(&json!({"messages": [{"role": "tool", "content": "x"}]}))
                .unwrap_err()
                .contains("unknown message role 'tool'")
        );
        assert!(
            InferenceSpec::parse(&json!({"prompt": "x"}))
                .unwrap_err()
                .contains("not an")
        );
    }
}
