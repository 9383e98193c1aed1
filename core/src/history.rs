//! Rolling history for the TUI's plots, kept by the engine so a TUI that attaches later sees
//! the past. Each series is three rings of fixed size (one per window: 1 min at 1 s, 15 min
//! at 15 s, 1 h at 60 s, 60 buckets each), so memory is fixed no matter how long the node
//! runs: a series holds 3 × 60 buckets of 16 bytes (2.9 KB), a latency series 3 × 60
//! histograms of 48 counters (35 KB). Nothing here reads a clock: callers pass `now` (ms).
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The windows a plot can show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Window {
    #[default]
    M1,
    M15,
    H1,
}

impl Window {
    pub const ALL: [Window; 3] = [Window::M1, Window::M15, Window::H1];

    /// How long one bucket is.
    pub fn bucket_ms(self) -> i64 {
        match self {
            Window::M1 => 1_000,
            Window::M15 => 15_000,
            Window::H1 => 60_000,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Window::M1 => "1 m",
            Window::M15 => "15 m",
            Window::H1 => "1 h",
        }
    }

    pub fn next(self) -> Window {
        match self {
            Window::M1 => Window::M15,
            Window::M15 => Window::H1,
            Window::H1 => Window::M1,
        }
    }

    fn index(self) -> usize {
        match self {
            Window::M1 => 0,
            Window::M15 => 1,
            Window::H1 => 2,
        }
    }
}

/// Buckets per window (a plot's points).
pub const POINTS: usize = 60;

/// How a series reads its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A level (CPU %, VRAM bytes): the bucket's mean.
    Gauge,
    /// Counts added up (jobs, tokens, gas): the bucket's sum per second.
    Rate,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Bucket {
    sum: f64,
    n: u32,
}

/// One window's ring: `POINTS` buckets ending at the bucket that holds `newest`.
#[derive(Debug, Clone, PartialEq)]
struct Ring {
    bucket_ms: i64,
    /// Index (time / bucket_ms) of the newest bucket; `None` before the first sample.
    newest: Option<i64>,
    /// Oldest first.
    buckets: std::collections::VecDeque<Bucket>,
}

impl Ring {
    fn new(w: Window) -> Ring {
        Ring {
            bucket_ms: w.bucket_ms(),
            newest: None,
            buckets: std::collections::VecDeque::with_capacity(POINTS),
        }
    }

    /// Moves the ring forward to the bucket of `now`, pushing empty buckets for the gap.
    fn advance(&mut self, now: i64) {
        let idx = now.div_euclid(self.bucket_ms);
        match self.newest {
            None => {
                self.buckets.push_back(Bucket::default());
                self.newest = Some(idx);
            }
            Some(n) if idx > n => {
                let gap = (idx - n).min(POINTS as i64);
                for _ in 0..gap {
                    if self.buckets.len() == POINTS {
                        self.buckets.pop_front();
                    }
                    self.buckets.push_back(Bucket::default());
                }
                self.newest = Some(idx);
            }
            // A sample from the past (a clock step back) lands in the newest bucket.
            Some(_) => {}
        }
    }

    fn add(&mut self, v: f64, now: i64) {
        self.advance(now);
        if let Some(b) = self.buckets.back_mut() {
            b.sum += v;
            b.n += 1;
        }
    }

    /// `POINTS` values ending at `now`'s bucket, oldest first; `None` where nothing was
    /// recorded (before the first sample, or a gap for a gauge).
    fn points(&self, kind: Kind, now: i64) -> Vec<Option<f32>> {
        let mut out = vec![None; POINTS];
        let Some(newest) = self.newest else {
            return out;
        };
        let now_idx = now.div_euclid(self.bucket_ms).max(newest);
        let secs = self.bucket_ms as f64 / 1000.0;
        let len = self.buckets.len() as i64;
        for (i, b) in self.buckets.iter().enumerate() {
            let idx = newest - (len - 1 - i as i64);
            let age = now_idx - idx;
            if age >= POINTS as i64 {
                continue;
            }
            let slot = POINTS - 1 - age as usize;
            // The bucket in progress is a rate over the time it has run so far.
            let span = if age == 0 {
                ((now - idx * self.bucket_ms) as f64 / 1000.0).clamp(1.0, secs)
            } else {
                secs
            };
            out[slot] = match kind {
                Kind::Gauge if b.n == 0 => None,
                Kind::Gauge => Some((b.sum / f64::from(b.n)) as f32),
                Kind::Rate => Some((b.sum / span) as f32),
            };
        }
        // A rate is 0, not unknown, between samples once the series exists; the bucket in
        // progress stays unknown until something lands in it.
        if kind == Kind::Rate {
            let first = (POINTS as i64 - 1 - (now_idx - (newest - len + 1))).max(0) as usize;
            for p in out.iter_mut().take(POINTS - 1).skip(first) {
                p.get_or_insert(0.0);
            }
        }
        out
    }
}

/// A series over the three windows.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    kind: Kind,
    rings: [Ring; 3],
}

impl Series {
    pub fn new(kind: Kind) -> Series {
        Series {
            kind,
            rings: Window::ALL.map(Ring::new),
        }
    }

    /// A gauge's sample, or a rate's count.
    pub fn record(&mut self, v: f64, now: i64) {
        if !v.is_finite() {
            return;
        }
        for r in &mut self.rings {
            r.add(v, now);
        }
    }

    pub fn points(&self, w: Window, now: i64) -> Vec<Option<f32>> {
        self.rings[w.index()].points(self.kind, now)
    }
}

/// Latency histogram bins: bin `i` holds durations up to `2^(i/3)` ms (about 26 % wide), 1 ms
/// to about 1.9 h.
const BINS: usize = 48;

fn bin_of(ms: f64) -> usize {
    if ms <= 1.0 {
        return 0;
    }
    ((ms.log2() * 3.0).ceil() as usize).min(BINS - 1)
}

fn bin_upper(i: usize) -> f64 {
    2f64.powf(i as f64 / 3.0)
}

/// Job latency over the three windows: p50 and p99 per bucket, from a histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    bucket: [i64; 3],
    newest: [Option<i64>; 3],
    rings: [std::collections::VecDeque<[u32; BINS]>; 3],
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            bucket: Window::ALL.map(Window::bucket_ms),
            newest: [None; 3],
            rings: Default::default(),
        }
    }
}

impl Latency {
    pub fn record(&mut self, ms: f64, now: i64) {
        if !ms.is_finite() || ms < 0.0 {
            return;
        }
        let bin = bin_of(ms);
        for w in 0..3 {
            let idx = now.div_euclid(self.bucket[w]);
            let ring = &mut self.rings[w];
            match self.newest[w] {
                Some(n) if idx <= n => {}
                Some(n) => {
                    for _ in 0..(idx - n).min(POINTS as i64) {
                        if ring.len() == POINTS {
                            ring.pop_front();
                        }
                        ring.push_back([0; BINS]);
                    }
                    self.newest[w] = Some(idx);
                }
                None => {
                    ring.push_back([0; BINS]);
                    self.newest[w] = Some(idx);
                }
            }
            if let Some(h) = ring.back_mut() {
                h[bin] = h[bin].saturating_add(1);
            }
        }
    }

    /// The `q` quantile (0..1) per bucket, ms, oldest first; `None` where no job finished.
    pub fn quantile(&self, q: f64, w: Window, now: i64) -> Vec<Option<f32>> {
        let i = w.index();
        let mut out = vec![None; POINTS];
        let Some(newest) = self.newest[i] else {
            return out;
        };
        let now_idx = now.div_euclid(self.bucket[i]).max(newest);
        let len = self.rings[i].len() as i64;
        for (k, h) in self.rings[i].iter().enumerate() {
            let age = now_idx - (newest - (len - 1 - k as i64));
            if age >= POINTS as i64 {
                continue;
            }
            let total: u64 = h.iter().map(|&c| u64::from(c)).sum();
            if total == 0 {
                continue;
            }
            let want = ((total as f64) * q).ceil().max(1.0) as u64;
            let mut seen = 0u64;
            for (b, &c) in h.iter().enumerate() {
                seen += u64::from(c);
                if seen >= want {
                    out[POINTS - 1 - age as usize] = Some(bin_upper(b) as f32);
                    break;
                }
            }
        }
        out
    }
}

/// Every series the engine keeps, by name (`cpu`, `gpu0.util`, `jobs.ok`, `tokens.llm`, …).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    series: BTreeMap<String, Series>,
    latency: Latency,
}

/// At most this many series (a bound on memory whatever backends or GPUs come and go).
pub const MAX_SERIES: usize = 256;

impl History {
    pub fn record(&mut self, name: &str, kind: Kind, v: f64, now: i64) {
        if let Some(s) = self.series.get_mut(name) {
            s.record(v, now);
            return;
        }
        if self.series.len() >= MAX_SERIES {
            return;
        }
        let mut s = Series::new(kind);
        s.record(v, now);
        self.series.insert(name.to_string(), s);
    }

    pub fn latency(&mut self, ms: f64, now: i64) {
        self.latency.record(ms, now);
    }

    /// Every series' points in window `w`, plus `lat.p50` and `lat.p99`.
    pub fn view(&self, w: Window, now: i64) -> HistoryView {
        let mut series: BTreeMap<String, Vec<Option<f32>>> = self
            .series
            .iter()
            .map(|(k, s)| (k.clone(), s.points(w, now)))
            .collect();
        series.insert("lat.p50".into(), self.latency.quantile(0.5, w, now));
        series.insert("lat.p99".into(), self.latency.quantile(0.99, w, now));
        HistoryView { window: w, series }
    }
}

/// One window of history as a TUI receives it: `POINTS` values per series, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryView {
    #[serde(default)]
    pub window: Window,
    #[serde(default)]
    pub series: BTreeMap<String, Vec<Option<f32>>>,
}

impl HistoryView {
    pub fn get(&self, name: &str) -> &[Option<f32>] {
        self.series.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The series whose names start with `prefix`, with the rest of the name.
    pub fn family<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a [Option<f32>])> {
        self.series
            .iter()
            .filter_map(move |(k, v)| k.strip_prefix(prefix).map(|rest| (rest, v.as_slice())))
    }
}

#[cfg(test)]
mod tests;
