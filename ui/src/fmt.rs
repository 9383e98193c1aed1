//! Small formatting helpers shared by panels: ages, durations, sizes, short ids.

/// "4s", "3m", "2h", "5d": compact ages for tables.
pub fn age(ms: i64) -> String {
    let s = (ms.max(0) / 1000) as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// "850ms", "12.3s", "4m05s", "2h10m".
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    if s < 60 {
        return format!("{:.1}s", ms as f64 / 1000.0);
    }
    if s < 3600 {
        return format!("{}m{:02}s", s / 60, s % 60);
    }
    format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
}

/// Binary sizes: "512 B", "1.5 KiB", "7.8 GiB".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The first `n` characters (ids, addresses), with an ellipsis when cut.
pub fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// 0x1234…abcd for addresses and hashes.
pub fn addr(s: &str) -> String {
    if s.len() > 12 && s.is_ascii() {
        format!("{}…{}", &s[..6], &s[s.len() - 4..])
    } else {
        s.to_string()
    }
}

/// "every 60s ×3" for recurring subscriptions, "once" for one-shot ones.
pub fn schedule(period: u32, frequency: u32) -> String {
    if frequency <= 1 && period == 0 {
        "once".into()
    } else if period == 0 {
        format!("×{frequency}")
    } else {
        let p = if period.is_multiple_of(3600) {
            format!("{}h", period / 3600)
        } else if period.is_multiple_of(60) {
            format!("{}m", period / 60)
        } else if period < 60 {
            format!("{period}s")
        } else {
            duration(period as i64 * 1000)
        };
        format!("every {p} ×{frequency}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(age(59_999), "59s");
        assert_eq!(age(3_600_000), "1h");
        assert_eq!(duration(850), "850ms");
        assert_eq!(duration(12_345), "12.3s");
        assert_eq!(duration(245_000), "4m05s");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(short("abcdefgh", 4), "abc…");
        assert_eq!(addr("0x1234567890abcdef1234"), "0x1234…1234");
        assert_eq!(schedule(0, 1), "once");
        assert_eq!(schedule(60, 3), "every 1m ×3");
        assert_eq!(schedule(5, 2), "every 5s ×2");
    }
}
