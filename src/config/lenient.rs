//! Lax scalar parsing, as Ritual's pydantic config accepts it: `"port": "3000"` is a port,
//! `"manage_containers": "true"` is a bool. Large integers (uint256) keep every digit.
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::fmt;
use std::str::FromStr;

/// The textual form of any JSON scalar, numbers kept exact.
struct ScalarText;

impl<'de> Visitor<'de> for ScalarText {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number, a boolean or a string")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.trim().to_string())
    }
    // serde_json's arbitrary-precision numbers arrive as a one-entry map.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
        let _key: Option<String> = map.next_key()?;
        map.next_value::<String>()
    }
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(ScalarText)
}

fn parsed<'de, D, T>(d: D, what: &str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
{
    let s = text(d)?;
    s.parse::<T>()
        .map_err(|_| de::Error::custom(format!("expected {what}, found '{s}'")))
}

pub fn u16<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    parsed(d, "an integer from 0 to 65535")
}

pub fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    parsed(d, "a non-negative integer below 2^32")
}

pub fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    parsed(d, "a non-negative integer")
}

pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v: f64 = parsed(d, "a number")?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(de::Error::custom(format!(
            "expected a non-negative number, found '{v}'"
        )))
    }
}

pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let s = text(d)?;
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(de::Error::custom(format!(
            "expected true or false, found '{s}'"
        ))),
    }
}

/// A uint256 kept as its decimal digits.
pub fn uint256<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = text(d)?;
    parse_uint256(&s).map_err(de::Error::custom)
}

pub fn uint256_map<'de, D>(d: D) -> Result<std::collections::BTreeMap<String, String>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(serde::Deserialize)]
    struct U(#[serde(deserialize_with = "uint256")] String);
    let m: std::collections::BTreeMap<String, U> = serde::Deserialize::deserialize(d)?;
    Ok(m.into_iter().map(|(k, U(v))| (k, v)).collect())
}

const U256_MAX: &str =
    "115792089237316195423570985008687907853269984665640564039457584007913129639935";

/// Checks a decimal uint256 and returns it without leading zeros.
pub fn parse_uint256(s: &str) -> Result<String, String> {
    let digits = s.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "expected a non-negative integer (uint256), found '{s}'"
        ));
    }
    let trimmed = digits.trim_start_matches('0');
    let canon = if trimmed.is_empty() { "0" } else { trimmed };
    if canon.len() > U256_MAX.len() || (canon.len() == U256_MAX.len() && canon > U256_MAX) {
        return Err(format!("expected an integer below 2^256, found '{s}'"));
    }
    Ok(canon.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint256_bounds() {
        assert_eq!(parse_uint256("007").as_deref(), Ok("7"));
        assert_eq!(parse_uint256(U256_MAX).as_deref(), Ok(U256_MAX));
        assert!(parse_uint256(&format!("{U256_MAX}0")).is_err());
        assert!(
            parse_uint256(
                "115792089237316195423570985008687907853269984665640564039457584007913129639936"
            )
            .is_err()
        );
        assert!(parse_uint256("-1").is_err());
        assert!(parse_uint256("1e18").is_err());
    }
}
