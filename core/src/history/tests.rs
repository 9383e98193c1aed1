use super::*;

fn last(v: &[Option<f32>]) -> Option<f32> {
    *v.last().unwrap()
}

#[test]
fn a_gauge_is_the_mean_of_its_bucket_and_unknown_where_nothing_was_sampled() {
    let mut s = Series::new(Kind::Gauge);
    s.record(10.0, 1_000);
    s.record(30.0, 1_500);
    s.record(50.0, 3_000);
    let p = s.points(Window::M1, 3_000);
    assert_eq!(p.len(), POINTS);
    assert_eq!(&p[POINTS - 3..], &[Some(20.0), None, Some(50.0)]);
    assert!(p[..POINTS - 3].iter().all(Option::is_none));
    // The 15 min window puts all three in one 15 s bucket.
    assert_eq!(last(&s.points(Window::M15, 3_000)), Some(30.0));
    // Time passes without samples: the gauge is unknown, not zero.
    assert_eq!(last(&s.points(Window::M1, 9_000)), None);
}

#[test]
fn a_rate_is_per_second_and_zero_between_events() {
    let mut s = Series::new(Kind::Rate);
    for t in [0, 100, 200] {
        s.record(1.0, 60_000 + t);
    }
    let p = s.points(Window::M1, 62_000);
    // 3 in the bucket at 60 s, none at 61 s, and the bucket in progress (62 s) unknown yet.
    assert_eq!(&p[POINTS - 3..], &[Some(3.0), Some(0.0), None]);
    // Before the series existed: unknown.
    assert_eq!(p[POINTS - 4], None);
    // The 60 s bucket in progress: a rate over the 2 s it has run, not over 60 s.
    assert_eq!(last(&s.points(Window::H1, 62_000)), Some(1.5));
    // Once complete, per second over the whole bucket.
    assert_eq!(s.points(Window::H1, 120_000)[POINTS - 2], Some(0.05));
}

#[test]
fn memory_is_bounded_however_long_it_runs() {
    let mut s = Series::new(Kind::Gauge);
    for t in 0..10_000 {
        s.record(t as f64, t * 1_000);
    }
    for r in &s.rings {
        assert!(r.buckets.len() <= POINTS);
    }
    let p = s.points(Window::H1, 9_999_000);
    assert!(p.iter().all(Option::is_some), "{p:?}");
    // A long silence leaves the ring at its size, every point unknown.
    let p = s.points(Window::M1, 99_999_000);
    assert!(p.iter().all(Option::is_none));
    let mut h = History::default();
    for i in 0..(MAX_SERIES + 10) {
        h.record(&format!("s{i}"), Kind::Gauge, 1.0, 0);
    }
    assert_eq!(h.view(Window::M1, 0).series.len(), MAX_SERIES + 2);
}

#[test]
fn latency_quantiles_come_from_the_bucket_histogram() {
    let mut l = Latency::default();
    for ms in 1..=100 {
        l.record(f64::from(ms), 5_000);
    }
    let p50 = last(&l.quantile(0.5, Window::M1, 5_000)).unwrap();
    let p99 = last(&l.quantile(0.99, Window::M1, 5_000)).unwrap();
    // Within a bin (about 26 %) of the true values 50 and 99.
    assert!((50.0..=64.0).contains(&p50), "{p50}");
    assert!((99.0..=128.0).contains(&p99), "{p99}");
    assert_eq!(last(&l.quantile(0.5, Window::M1, 6_000)), None);
    assert_eq!(bin_of(0.2), 0);
    assert_eq!(bin_of(1e12), BINS - 1);
}

#[test]
fn a_clock_step_back_lands_in_the_newest_bucket() {
    let mut s = Series::new(Kind::Rate);
    s.record(1.0, 10_000);
    s.record(1.0, 2_000);
    assert_eq!(last(&s.points(Window::M1, 10_000)), Some(2.0));
}

#[test]
fn the_view_names_every_series_and_the_latency_quantiles() {
    let mut h = History::default();
    h.record("gpu0.util", Kind::Gauge, 40.0, 0);
    h.record("gpu1.util", Kind::Gauge, 60.0, 0);
    h.latency(10.0, 0);
    let v = h.view(Window::M1, 0);
    let fam: Vec<&str> = v.family("gpu").map(|(k, _)| k).collect();
    assert_eq!(fam, ["0.util", "1.util"]);
    assert_eq!(last(v.get("lat.p50")), Some(bin_upper(bin_of(10.0)) as f32));
    assert!(v.get("absent").is_empty());
    assert_eq!(Window::M1.next().next().next(), Window::M1);
}
