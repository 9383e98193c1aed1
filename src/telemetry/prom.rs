//! The Prometheus text exposition format (version 0.0.4), written by hand: every series the
//! node and the control plane expose is computed at scrape time from state they already keep,
//! so what is needed is an encoder, not a registry. Names and label values are escaped as the
//! format requires; a family's samples are written together under one HELP and TYPE.
use std::fmt::Write;

/// The media type Prometheus asks for and accepts.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of the latency histograms: 5 ms to 10 min.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A histogram's state: cumulative-on-write bucket counts over [`LATENCY_BUCKETS`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Per bucket (not cumulative); the last slot counts what exceeds every bound.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    pub fn observe(&mut self, v: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; LATENCY_BUCKETS.len() + 1];
        }
        let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
        let i = LATENCY_BUCKETS
            .iter()
            .position(|b| v <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.sum += v;
        self.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }
}

/// Builds one exposition text.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

/// Label pairs of one sample.
pub type Labels<'a> = &'a [(&'a str, &'a str)];

impl Exposition {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a family: its HELP and TYPE lines. Samples follow with [`Exposition::sample`].
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Self {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
        self
    }

    pub fn sample(&mut self, name: &str, labels: Labels<'_>, value: f64) -> &mut Self {
        self.out.push_str(name);
        write_labels(&mut self.out, labels, None);
        let _ = writeln!(self.out, " {}", number(value));
        self
    }

    /// A family with one unlabelled sample.
    pub fn single(&mut self, name: &str, kind: Kind, help: &str, value: f64) -> &mut Self {
        self.family(name, kind, help).sample(name, &[], value)
    }

    /// One histogram series (its `_bucket`, `_sum` and `_count` lines).
    pub fn histogram(&mut self, name: &str, labels: Labels<'_>, h: &Histogram) -> &mut Self {
        let mut cumulative = 0u64;
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += h.counts.get(i).copied().unwrap_or(0);
            self.out.push_str(name);
            self.out.push_str("_bucket");
            write_labels(&mut self.out, labels, Some(&number(*bound)));
            let _ = writeln!(self.out, " {cumulative}");
        }
        self.out.push_str(name);
        self.out.push_str("_bucket");
        write_labels(&mut self.out, labels, Some("+Inf"));
        let _ = writeln!(self.out, " {}", h.count);
        for (suffix, v) in [("_sum", number(h.sum)), ("_count", h.count.to_string())] {
            self.out.push_str(name);
            self.out.push_str(suffix);
            write_labels(&mut self.out, labels, None);
            let _ = writeln!(self.out, " {v}");
        }
        self
    }

    pub fn finish(self) -> String {
        self.out
    }
}

fn write_labels(out: &mut String, labels: Labels<'_>, le: Option<&str>) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    let pairs = labels.iter().copied().chain(le.map(|v| ("le", v)));
    for (k, v) in pairs {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(k);
        out.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
}

/// A sample value as the format writes it (`NaN`, `+Inf`, `-Inf`, integers without `.0`).
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_samples_and_escaping() {
        let mut e = Exposition::new();
        e.family(
            "infernet_jobs_total",
            Kind::Counter,
            "Jobs finished.\nBy status.",
        )
        .sample(
            "infernet_jobs_total",
            &[("status", "success"), ("container", "a\"b\\c\nd")],
            3.0,
        );
        e.single("infernet_up", Kind::Gauge, "Always 1.", 1.0);
        e.single("x_ratio", Kind::Gauge, "A ratio.", 0.25);
        e.single("x_nan", Kind::Gauge, "Not a number.", f64::NAN);
        assert_eq!(
            e.finish(),
            "# HELP infernet_jobs_total Jobs finished.\\nBy status.\n\
             # TYPE infernet_jobs_total counter\n\
             infernet_jobs_total{status=\"success\",container=\"a\\\"b\\\\c\\nd\"} 3\n\
             # HELP infernet_up Always 1.\n# TYPE infernet_up gauge\ninfernet_up 1\n\
             # HELP x_ratio A ratio.\n# TYPE x_ratio gauge\nx_ratio 0.25\n\
             # HELP x_nan Not a number.\n# TYPE x_nan gauge\nx_nan NaN\n"
        );
    }

    #[test]
    fn a_histogram_is_cumulative_with_sum_and_count() {
        let mut h = Histogram::default();
        for v in [0.001, 0.2, 0.2, 7.0, 10_000.0, f64::NAN] {
            h.observe(v);
        }
        let mut e = Exposition::new();
        e.family("lat_seconds", Kind::Histogram, "Latency.")
            .histogram("lat_seconds", &[("container", "echo")], &h);
        let text = e.finish();
        let line = |le: &str| {
            let want = format!("lat_seconds_bucket{{container=\"echo\",le=\"{le}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(&want))
                .map(|v| v.to_string())
                .unwrap_or_else(|| panic!("no bucket {le} in {text}"))
        };
        // NaN counts as 0: in the first bucket with the 1 ms one.
        assert_eq!(line("0.005"), "2");
        assert_eq!(line("0.1"), "2");
        assert_eq!(line("0.25"), "4");
        assert_eq!(line("10"), "5");
        assert_eq!(line("600"), "5");
        assert_eq!(line("+Inf"), "6");
        assert!(
            text.contains("lat_seconds_count{container=\"echo\"} 6\n"),
            "{text}"
        );
        assert!(
            text.contains("lat_seconds_sum{container=\"echo\"} 10007.401"),
            "{text}"
        );
        assert_eq!(h.count(), 6);
    }
}
