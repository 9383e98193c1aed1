//! The node's one clock: wall time as Unix seconds or milliseconds, and RFC 3339 text (UTC,
//! milliseconds, `Z`) through the `time` crate. A system clock before 1970 reads as 0.
use time::OffsetDateTime;
use time::macros::format_description;

fn since_epoch() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    since_epoch().as_millis() as i64
}

/// Unix time in seconds.
pub fn now_s() -> i64 {
    since_epoch().as_secs() as i64
}

/// `2026-12-03T23:01:34.123Z` for a Unix time in milliseconds (clamped to what a date can
/// hold).
pub fn rfc3339_ms(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(
        if ms < 0 {
            OffsetDateTime::UNIX_EPOCH
        } else {
            // The largest instant `time` holds by default (9999-12-31).
            time::PrimitiveDateTime::MAX.assume_utc()
        },
    );
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.format(&fmt)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_string())
}

/// Now, as RFC 3339.
pub fn now_rfc3339() -> String {
    rfc3339_ms(now_ms())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_has_fixed_milliseconds_and_z() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_764_802_894_123), "2025-12-03T23:01:34.123Z");
        // Leap day, and a millisecond before midnight.
        assert_eq!(rfc3339_ms(951_868_799_999), "2000-02-29T23:59:59.999Z");
        assert_eq!(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
        assert!(rfc3339_ms(i64::MAX).starts_with("9999-12-31T23:59:59"));
    }

    #[test]
    fn the_clock_moves_forward_in_step() {
        let (ms, s) = (now_ms(), now_s());
        assert!(ms / 1000 - s <= 1 && ms > 1_700_000_000_000);
    }
}
