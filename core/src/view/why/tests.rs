use super::*;
use crate::view::model::*;

fn log(level: Level, text: &str) -> LogLine {
    LogLine {
        ts_ms: 1,
        level,
        target: "infernet".into(),
        text: text.into(),
    }
}

fn chain_with(sub: SubscriptionRow) -> ChainView {
    ChainView::Enabled(Box::new(ChainStatusView {
        subscriptions: vec![sub],
        ..ChainStatusView::default()
    }))
}

#[test]
fn a_skipped_subscription_says_why_and_how_to_fix_it() {
    let m = Model {
        chain: chain_with(SubscriptionRow {
            id: 7,
            owner: "0xabc".into(),
            containers: vec!["llm".into()],
            status: "ignored".into(),
            reason: Some(
                "Container-set not supported: no configured pipeline hashes to this containerId"
                    .into(),
            ),
            ..SubscriptionRow::default()
        }),
        logs: vec![
            log(
                Level::Info,
                "ignored subscription subscription=7 reason=Container-set",
            ),
            log(Level::Info, "ignored subscription subscription=70"),
            log(Level::Info, "delivery confirmed subscription=8"),
        ],
        ..Model::default()
    };
    let w = explain(&m, &Subject::Subscription(7)).expect("known subscription");
    assert_eq!(w.state, "ignored");
    assert!(!w.healthy);
    assert!(
        w.reason
            .as_deref()
            .is_some_and(|r| r.starts_with("Container-set"))
    );
    assert!(
        w.fix
            .as_deref()
            .is_some_and(|f| f.contains("\"containers\""))
    );
    // Only its own lines: subscription=70 and =8 are others.
    assert_eq!(w.timeline.len(), 1);
    assert!(w.facts.iter().any(|(k, v)| k == "owner" && v == "0xabc"));
}

#[test]
fn a_reverted_delivery_is_explained_by_its_revert_message() {
    let sub = |last: &str| SubscriptionRow {
        id: 3,
        status: "tracked".into(),
        last_tx: Some("0xfeed".into()),
        last_delivery: Some(last.into()),
        ..SubscriptionRow::default()
    };
    let logs = vec![
        log(Level::Info, "delivery sent subscription=3 interval=1"),
        log(
            Level::Warn,
            "delivery attempt failed subscription=3 interval=1 reason=reverted on chain: Insufficient funds",
        ),
    ];
    let m = Model {
        chain: chain_with(sub(
            "interval 1: retrying (reverted on chain: Insufficient funds (0x1234))",
        )),
        logs: logs.clone(),
        ..Model::default()
    };
    let w = explain(&m, &Subject::Subscription(3)).expect("known");
    assert!(!w.healthy);
    assert_eq!(w.state, "tracked, last delivery retrying");
    assert_eq!(
        w.reason.as_deref(),
        Some("reverted on chain: Insufficient funds (0x1234)")
    );
    assert!(
        w.fix.as_deref().unwrap_or("").contains("wallet fund"),
        "{w:?}"
    );
    assert_eq!(w.timeline.len(), 2);
    assert!(w.facts.iter().any(|(k, v)| k == "last tx" && v == "0xfeed"));

    let m = Model {
        chain: chain_with(sub(
            "interval 1: given_up (gave up after 3 failed attempts: out of gas)",
        )),
        logs: logs.clone(),
        ..Model::default()
    };
    let w = explain(&m, &Subject::Subscription(3)).expect("known");
    assert_eq!(w.state, "tracked, last delivery given up");
    assert!(
        w.fix.as_deref().unwrap_or("").contains("max_gas_limit"),
        "{w:?}"
    );

    // Once an interval is confirmed the earlier revert is history: in the timeline, not the verdict.
    let m = Model {
        chain: chain_with(sub("interval 2: confirmed 0xbeef")),
        logs,
        ..Model::default()
    };
    let w = explain(&m, &Subject::Subscription(3)).expect("known");
    assert!(w.healthy);
    assert_eq!(w.reason, None);
    assert_eq!(w.timeline.len(), 2);
}

#[test]
fn a_failed_job_without_a_stored_reason_takes_its_newest_warning() {
    let m = Model {
        jobs: JobsView {
            rows: vec![JobRow {
                id: "j1".into(),
                source: "rest".into(),
                containers: vec!["a".into(), "b".into()],
                state: JobState::Failed,
                created_ms: 1000,
                finished_ms: Some(1250),
                ..JobRow::default()
            }],
            ..JobsView::default()
        },
        logs: vec![
            log(Level::Info, "job started job=j1"),
            log(
                Level::Error,
                "container failed job=j1 container=b error=step timed out after 30 s",
            ),
            log(Level::Error, "container failed job=j10"),
        ],
        ..Model::default()
    };
    let w = explain(&m, &Subject::Job("j1".into())).expect("known job");
    assert_eq!(w.state, "failed");
    assert!(!w.healthy);
    assert!(w.reason.as_deref().is_some_and(|r| r.contains("timed out")));
    assert!(w.fix.as_deref().is_some_and(|f| f.contains("timeout")));
    assert!(w.facts.iter().any(|(k, v)| k == "took" && v == "250 ms"));
    assert!(
        w.facts
            .iter()
            .any(|(k, v)| k == "containers" && v == "a → b")
    );
}

#[test]
fn a_backend_that_is_down_names_the_server_to_start() {
    let m = Model {
        backends: BackendsView {
            rows: vec![BackendRow {
                id: "ollama".into(),
                kind: "ollama".into(),
                url: "http://127.0.0.1:11434".into(),
                state: "unreachable".into(),
                error: Some("ollama backend unreachable at http://127.0.0.1:11434: error sending request (Connection refused)".into()),
                ..BackendRow::default()
            }],
            note: None,
        },
        logs: vec![log(Level::Warn, "backend state changed backend=ollama state=unreachable")],
        ..Model::default()
    };
    let w = explain(&m, &Subject::Backend("ollama".into())).expect("known backend");
    assert!(!w.healthy);
    assert!(
        w.fix
            .as_deref()
            .is_some_and(|f| f.contains("start the server"))
    );
    assert_eq!(w.timeline.len(), 1);
    assert!(
        w.facts
            .iter()
            .any(|(k, v)| k == "models" && v == "none listed")
    );
}

#[test]
fn a_container_and_unknown_subjects() {
    let m = Model {
        containers: vec![ContainerRow {
            id: "c".into(),
            state: "unavailable".into(),
            reason: Some("Bind for 127.0.0.1:3000 failed: port is already allocated".into()),
            image: "img".into(),
            port: 3000,
            managed: true,
            ..ContainerRow::default()
        }],
        ..Model::default()
    };
    let w = explain(&m, &Subject::Container("c".into())).expect("known container");
    assert!(!w.healthy);
    assert!(w.fix.as_deref().is_some_and(|f| f.contains("port")));
    assert!(w.timeline.is_empty());
    // Gone from the model: nothing to explain, not an empty card.
    assert_eq!(explain(&m, &Subject::Container("gone".into())), None);
    assert_eq!(explain(&m, &Subject::Subscription(1)), None);
    assert_eq!(explain(&m, &Subject::Job("x".into())), None);
}

#[test]
fn no_fix_is_invented_for_an_unknown_reason() {
    assert_eq!(fix_for("something nobody has seen"), None);
    assert!(fix_for("Node already responded for this interval.").is_some());
}

#[test]
fn timelines_keep_the_newest_lines_and_match_delegated_ids() {
    let logs: Vec<LogLine> = (0..TIMELINE_MAX + 10)
        .map(|i| LogLine {
            ts_ms: i as i64,
            ..log(Level::Info, "tick subscription=Some(4)")
        })
        .collect();
    let t = timeline(&logs, "subscription", "4");
    assert_eq!(t.len(), TIMELINE_MAX);
    assert_eq!(t.first().map(|l| l.ts_ms), Some(10));
}
