//! Body fields read one by one, so each keeps its own error message and the checks run in a
//! fixed order (serde alone stops at the first bad field in body order, with its own text).
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, IgnoredAny};
use serde_json::Value;

/// One field as sent: absent, present but not a `T`, or a `T`.
#[derive(Debug, Default)]
pub enum Field<T> {
    #[default]
    Absent,
    Invalid,
    Given(T),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Through `Value`, so a bad field does not fail the whole body; integers keep every
        // digit (arbitrary_precision).
        let v = Value::deserialize(d)?;
        Ok(match T::deserialize(v) {
            Ok(t) => Self::Given(t),
            Err(_) => Self::Invalid,
        })
    }
}

/// `true` when the key is there, whatever its value (null included); with `#[serde(default)]`.
pub fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d).map(|_| true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        n: Field<Value>,
        #[serde(default)]
        list: Field<Vec<String>>,
        #[serde(default, deserialize_with = "present")]
        flag: bool,
    }

    #[test]
    fn each_field_is_absent_invalid_or_given_on_its_own() {
        let b = Body::deserialize(json!({"list": [1], "flag": null})).unwrap();
        assert!(matches!(b.n, Field::Absent));
        assert!(matches!(b.list, Field::Invalid));
        assert!(b.flag);
        let b = Body::deserialize(json!({"list": ["a"]})).unwrap();
        assert!(matches!(b.list, Field::Given(ref l) if l == &["a"]));
        assert!(!b.flag);
    }

    #[test]
    fn integers_keep_every_digit() {
        let big = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        let v: Value = serde_json::from_str(&format!(r#"{{"n": {big}}}"#)).unwrap();
        let Field::Given(n) = Body::deserialize(v).unwrap().n else {
            panic!("not given")
        };
        assert_eq!(n.to_string(), big);
    }
}
