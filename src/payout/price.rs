//! What a job earns: the node's advertised price (USD per 1,000 tokens, as the reference's
//! ads quote it) times the job's tokens, in exact decimal arithmetic (no float rounding in a
//! ledger).
use serde_json::{Value, json};

/// A non-negative decimal: `digits / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    digits: u128,
    scale: u32,
}

impl Decimal {
    /// Reads `12`, `0.10`, `1e-4`, `"0.10"` (a quoted JSON string); `None` for anything
    /// else (negative, not a number, too large).
    pub fn parse(s: &str) -> Option<Decimal> {
        let s = s.trim().trim_matches('"').trim();
        let (mantissa, exp) = match s.find(['e', 'E']) {
            Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
            None => (s, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty() && frac.is_empty()
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let mut digits: u128 = format!("{int}{frac}").parse().ok()?;
        let mut scale = i64::try_from(frac.len()).ok()? - i64::from(exp);
        while scale < 0 {
            digits = digits.checked_mul(10)?;
            scale += 1;
        }
        Some(Decimal {
            digits,
            scale: u32::try_from(scale).ok().filter(|&s| s <= 36)?,
        })
    }

    /// `self × n / 1000`, exactly.
    pub fn per_thousand(self, n: u64) -> Option<Decimal> {
        Some(Decimal {
            digits: self.digits.checked_mul(u128::from(n))?,
            scale: self.scale + 3,
        })
    }

    /// `self + other`, exactly.
    pub fn checked_add(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(other.scale);
        let up = |d: Decimal| {
            10u128
                .checked_pow(scale - d.scale)
                .and_then(|f| d.digits.checked_mul(f))
        };
        Some(Decimal {
            digits: up(self)?.checked_add(up(other)?)?,
            scale,
        })
    }

    /// The exact sum of decimal texts; `None` when one does not read or the sum overflows.
    pub fn sum<'a>(amounts: impl IntoIterator<Item = &'a str>) -> Option<Decimal> {
        amounts.into_iter().try_fold(
            Decimal {
                digits: 0,
                scale: 0,
            },
            |acc, a| acc.checked_add(Decimal::parse(a)?),
        )
    }

    pub fn is_zero(self) -> bool {
        self.digits == 0
    }
}

impl std::fmt::Display for Decimal {
    /// Plain decimal, no trailing zeros: `0.0037`, `12`, `0`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = format!("{:0>width$}", self.digits, width = self.scale as usize + 1);
        let (int, frac) = s.split_at(s.len() - self.scale as usize);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            f.write_str(int)
        } else {
            write!(f, "{int}.{frac}")
        }
    }
}

/// The tokens a job used, as its `done` event and token events tell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tokens {
    /// The backend's usage: prompt + completion.
    Usage { prompt: u64, completion: u64 },
    /// No usage reported: the token events streamed, counted as completion tokens (the
    /// prompt is not counted).
    Streamed(u64),
}

impl Tokens {
    /// The tokens a job is priced for.
    pub fn count(self) -> i64 {
        let n = match self {
            Tokens::Usage { prompt, completion } => prompt.saturating_add(completion),
            Tokens::Streamed(n) => n,
        };
        i64::try_from(n).unwrap_or(i64::MAX)
    }
}

/// A priced job: the USD it earns and why (stored as the ledger row's `metadata`).
#[derive(Debug, Clone, PartialEq)]
pub struct Priced {
    pub amount_usd: String,
    pub metadata: Value,
}

/// Prices a job at `price` (as the node registered it) for `tokens`. No price, an
/// unreadable one, or no tokens at all gives 0, with the reason in the metadata.
pub fn price_job(price: Option<&str>, tokens: Tokens) -> Priced {
    let (count, mut metadata) = match tokens {
        Tokens::Usage { prompt, completion } => (
            prompt.saturating_add(completion),
            json!({"tokens_source": "usage", "prompt_tokens": prompt, "completion_tokens": completion}),
        ),
        Tokens::Streamed(n) => (
            n,
            json!({"tokens_source": "token_events", "completion_tokens": n,
                   "note": "the node reported no usage: completion tokens counted from its token events, prompt tokens not counted"}),
        ),
    };
    metadata["tokens"] = json!(count);
    metadata["pricing"] = json!("usd_per_1k_tokens");
    metadata["price"] = json!(price);
    let zero = |why: &str, mut m: Value| {
        m["unpriced"] = json!(why);
        Priced {
            amount_usd: "0".into(),
            metadata: m,
        }
    };
    let Some(p) = price else {
        return zero("the node advertised no price", metadata);
    };
    let Some(d) = Decimal::parse(p) else {
        return zero("the node's price is not a non-negative number", metadata);
    };
    if count == 0 {
        return zero("no token count: no usage and no token events", metadata);
    }
    match d.per_thousand(count) {
        Some(usd) => Priced {
            amount_usd: usd.to_string(),
            metadata,
        },
        None => zero("price × tokens is out of range", metadata),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_add_exactly() {
        let sum = Decimal::sum(["0.1", "0.2", "12", "0.0037"]).unwrap();
        assert_eq!(sum.to_string(), "12.3037");
        assert_eq!(Decimal::sum([]).unwrap().to_string(), "0");
        assert!(Decimal::sum(["0.1", "x"]).is_none());
    }

    #[test]
    fn decimals_parse_exactly() {
        let s = |x: &str| Decimal::parse(x).map(|d| d.to_string());
        assert_eq!(s("0.10").as_deref(), Some("0.1"));
        assert_eq!(s("\"0.25\"").as_deref(), Some("0.25"));
        assert_eq!(s("12").as_deref(), Some("12"));
        assert_eq!(s("1e-4").as_deref(), Some("0.0001"));
        assert_eq!(s("1.5E2").as_deref(), Some("150"));
        assert_eq!(s(".5").as_deref(), Some("0.5"));
        assert_eq!(s("0").as_deref(), Some("0"));
        for bad in ["-1", "abc", "", ".", "1.2.3", "null", "1e-40", "NaN"] {
            assert_eq!(s(bad), None, "{bad}");
        }
    }

    #[test]
    fn usage_prices_prompt_and_completion() {
        let p = price_job(
            Some("0.10"),
            Tokens::Usage {
                prompt: 12,
                completion: 25,
            },
        );
        assert_eq!(p.amount_usd, "0.0037");
        assert_eq!(p.metadata["tokens"], 37);
        assert_eq!(p.metadata["tokens_source"], "usage");
        assert_eq!(p.metadata["price"], "0.10");
        assert!(p.metadata.get("unpriced").is_none());
        // Large counts stay exact.
        let p = price_job(
            Some("0.333"),
            Tokens::Usage {
                prompt: 1_000_000,
                completion: 7,
            },
        );
        assert_eq!(p.amount_usd, "333.002331");
    }

    #[test]
    fn streamed_tokens_count_as_completion() {
        let p = price_job(Some("2"), Tokens::Streamed(15));
        assert_eq!(p.amount_usd, "0.03");
        assert_eq!(p.metadata["tokens_source"], "token_events");
        assert!(p.metadata["note"].as_str().unwrap().contains("no usage"));
    }

    #[test]
    fn unpriced_jobs_are_zero_with_the_reason() {
        let p = price_job(None, Tokens::Streamed(15));
        assert_eq!(p.amount_usd, "0");
        assert_eq!(p.metadata["unpriced"], "the node advertised no price");
        let p = price_job(Some("\"cheap\""), Tokens::Streamed(15));
        assert_eq!(p.amount_usd, "0");
        assert!(
            p.metadata["unpriced"]
                .as_str()
                .unwrap()
                .contains("not a non-negative number")
        );
        let p = price_job(Some("0.1"), Tokens::Streamed(0));
        assert_eq!(p.amount_usd, "0");
        assert!(
            p.metadata["unpriced"]
                .as_str()
                .unwrap()
                .contains("no token count")
        );
    }
}
