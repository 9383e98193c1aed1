//! Client API keys (operator endpoints, ours) and the user tier's pubkey links (reference
//! §5.3). Keys are shown once at creation and stored as a SHA-256 hash.
use serde::{Deserialize, Serialize};

/// What every key we issue starts with: a bearer without it is not ours (an SDK's
/// placeholder) and the request is anonymous.
pub const KEY_PREFIX: &str = "ifn_";

/// `POST /api/v1/user/keys` (admin).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KeyCreate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Requests per hour; none: the control plane's default for keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_hour: Option<u32>,
}

/// A key as the operator sees it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyRow {
    pub id: String,
    pub name: Option<String>,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub per_hour: u32,
    /// Chat requests admitted with it.
    pub requests: u64,
    /// Tokens of its completed jobs (as the ledger priced them).
    pub tokens: u64,
    /// RFC 3339.
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// `POST /api/v1/user/keys`'s answer: the key itself, shown this once, and its row.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KeyCreated {
    pub key: String,
    pub row: KeyRow,
}

/// `POST /api/v1/user/pubkey/link`: signed by the node key, with the account's bearer when
/// there is one (none: a new account is made and its token returned once).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LinkBody {
    #[serde(default)]
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A `pubkey_links` row; `created` says whether this call made it. `token` is the new
/// account's bearer, only in the answer that made the account.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LinkRow {
    pub id: String,
    pub user_id: String,
    pub pubkey: String,
    pub role: String,
    pub label: Option<String>,
    pub created: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl LinkBody {
    /// The role, checked (provider when none is sent); the label, bounded.
    pub fn check(&self) -> Result<(String, Option<String>), super::WireError> {
        let role = match self.role.trim() {
            "" => "provider",
            r @ ("provider" | "aggregator" | "client") => r,
            other => {
                return Err(super::WireError::Value(format!(
                    "role '{other}' is not one of provider, aggregator, client"
                )));
            }
        };
        let label = self
            .label
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty());
        if let Some(l) = label
            && l.chars().count() > 80
        {
            return Err(super::WireError::Value(
                "label is longer than 80 characters".into(),
            ));
        }
        Ok((role.to_string(), label.map(|l| super::clean_text(l, 80))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_body_checks_role_and_label() {
        let b = LinkBody::default();
        assert_eq!(b.check().unwrap(), ("provider".into(), None));
        let b = LinkBody {
            role: "client".into(),
            label: Some(" rig 1 ".into()),
        };
        assert_eq!(b.check().unwrap(), ("client".into(), Some("rig 1".into())));
        let e = LinkBody {
            role: "admin".into(),
            label: None,
        }
        .check()
        .unwrap_err();
        assert!(e.message().contains("'admin'"), "{e:?}");
        let long = LinkBody {
            role: String::new(),
            label: Some("x".repeat(81)),
        };
        assert!(long.check().is_err());
    }

    #[test]
    fn a_created_key_carries_the_row_and_the_secret() {
        let c = KeyCreated {
            row: KeyRow {
                id: "key_1".into(),
                per_hour: 60,
                ..Default::default()
            },
            key: "ifn_x".into(),
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["row"]["id"], "key_1");
        assert_eq!(v["key"], "ifn_x");
        let back: KeyCreated = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }
}
