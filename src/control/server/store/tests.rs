use super::transitions::cas_update;
use super::*;

#[tokio::test]
async fn claims_take_turns_between_clients_and_quotas_count_pending() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path().join("cp.db").to_str().unwrap())
        .await
        .unwrap();
    let spec = json!({"messages": []});
    let mut t = 1_000;
    // Client A floods first; B's one job comes last.
    for _ in 0..300 {
        t += 1;
        s.create_job(
            Some("m:1"),
            &spec,
            "10.0.0.1",
            3,
            JobStatus::Pending,
            None,
            t,
        )
        .await
        .unwrap();
    }
    let b = s
        .create_job(
            Some("m:1"),
            &spec,
            "10.0.0.2",
            3,
            JobStatus::Pending,
            None,
            t + 1,
        )
        .await
        .unwrap();
    assert_eq!(s.pending_for_client("10.0.0.1").await.unwrap(), 300);
    assert_eq!(s.pending_for_client("10.0.0.2").await.unwrap(), 1);
    let p = s
        .register(
            "ab",
            "provider",
            "provider-fair",
            None,
            None,
            None,
            None,
            None,
            &json!({"served_models": ["m:1"]}),
            t,
        )
        .await
        .unwrap()
        .unwrap();
    let got = s.claim(&p, 2, t + 2, 60_000).await.unwrap();
    let clients: Vec<&str> = got.iter().map(|j| j.client_ip.as_str()).collect();
    assert_eq!(
        clients,
        ["10.0.0.1", "10.0.0.2"],
        "B's job is not behind A's 300"
    );
    assert_eq!(got[1].id, b.id);
    assert_eq!(s.pending_for_client("10.0.0.2").await.unwrap(), 0);
}

async fn node(s: &Store, key: &str, now: i64) -> Provider {
    s.register(
        key,
        "provider",
        &format!("provider-{key}"),
        None,
        None,
        None,
        None,
        None,
        &json!({"served_models": ["m:1"]}),
        now,
    )
    .await
    .unwrap()
    .unwrap()
}

/// The lease's writes on SQLite (the control-plane tests run them on PostgreSQL too).
#[tokio::test]
async fn lease_writes_are_guarded_on_the_row_they_were_decided_from() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path().join("cp.db").to_str().unwrap())
        .await
        .unwrap();
    let (a, b) = (node(&s, "aa", 0).await, node(&s, "bb", 0).await);
    let spec = json!({"messages": []});
    let j = s
        .create_job(Some("m:1"), &spec, "ip", 2, JobStatus::Pending, None, 0)
        .await
        .unwrap();
    let got = s.claim(&a, 5, 1_000, 500).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].status, got[0].attempts, got[0].lease_until),
        (JobStatus::Assigned, 1, Some(1_500))
    );
    assert_eq!(
        s.job(&j.id).await.unwrap().as_ref(),
        Some(&got[0]),
        "as stored"
    );
    assert!(s.claim(&b, 5, 1_001, 500).await.unwrap().is_empty());

    let forbidden = Refused::Forbidden(format!("job '{}' is not leased to this node", j.id));
    let ev = [("token".to_string(), json!({"text": "x"}))];
    assert_eq!(
        s.add_events(&j.id, Holder::any(&b.id), &ev, None, 1_100, 500)
            .await
            .unwrap(),
        Err(forbidden.clone())
    );
    let (attempt, stored) = s
        .add_events(&j.id, Holder::any(&a.id), &ev, None, 1_100, 500)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((attempt, stored.len()), (1, 1));
    // A numbered batch sent twice (its answer lost) is stored once; the overlap of a
    // longer resend only adds what is new; unnumbered events never collide.
    let two = [
        ("token".to_string(), json!({"text": "y"})),
        ("token".to_string(), json!({"text": "z"})),
    ];
    let first = s.add_events(&j.id, Holder::any(&a.id), &two[..1], Some(1), 1_100, 500);
    assert_eq!(first.await.unwrap().unwrap().1.len(), 1);
    let again = s.add_events(&j.id, Holder::any(&a.id), &two[..1], Some(1), 1_100, 500);
    assert!(
        again.await.unwrap().unwrap().1.is_empty(),
        "a repeat stores nothing"
    );
    let (_, more) = s
        .add_events(&j.id, Holder::any(&a.id), &two, Some(1), 1_100, 500)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        more.iter().map(|e| &e.data).collect::<Vec<_>>(),
        [&json!({"text": "z"})]
    );
    let plain = s.add_events(&j.id, Holder::any(&a.id), &ev, None, 1_100, 500);
    assert_eq!(plain.await.unwrap().unwrap().1.len(), 1);
    let texts: Vec<String> = s
        .events(&s.job(&j.id).await.unwrap().unwrap(), 0, None, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.data["text"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(texts, ["x", "y", "z", "x"], "in order, each once");

    // An expiry decided on a read that a heartbeat renewal overtook writes nothing.
    let read = s.job(&j.id).await.unwrap().unwrap();
    assert_eq!(
        (read.status, read.lease_until),
        (JobStatus::Running, Some(1_600))
    );
    s.heartbeat(
        "aa",
        "provider",
        false,
        None,
        None,
        None,
        Some(std::slice::from_ref(&j.id)),
        1_500,
        500,
    )
    .await
    .unwrap();
    let t = lease::handle(&read.lease(), Event::Expire, 1_700, 500).unwrap();
    assert_eq!(t.step, Step::Requeued);
    assert_eq!(
        s.apply(&read, &t, Outcome::default(), 1_700).await.unwrap(),
        None
    );
    assert_eq!(
        s.job(&j.id).await.unwrap().unwrap().lease_until,
        Some(2_000)
    );

    let result = json!({"text": "x"});
    let (done, noop) = s
        .complete(&j.id, Holder::any(&a.id), true, Some(&result), None, 1_800)
        .await
        .unwrap()
        .unwrap();
    assert!(!noop);
    assert_eq!(
        s.job(&j.id).await.unwrap().as_ref(),
        Some(&done),
        "as stored"
    );
    assert_eq!(
        (
            done.status,
            done.lease_until,
            done.completed_at,
            &done.result
        ),
        (JobStatus::Completed, None, Some(1_800), &result)
    );
    for who in [&a.id, &b.id] {
        let again = s
            .complete(&j.id, Holder::any(who), false, None, Some("late"), 1_900)
            .await;
        assert_eq!(again.unwrap().unwrap(), (done.clone(), true));
    }
    assert_eq!(
        s.add_events(&j.id, Holder::any(&a.id), &ev, None, 2_000, 500)
            .await
            .unwrap(),
        Err(Refused::Conflict(format!("job '{}' is completed", j.id)))
    );
    assert_eq!(
        s.complete("nope", Holder::any(&a.id), true, None, None, 2_000)
            .await
            .unwrap(),
        Err(Refused::NotFound("no job 'nope'".into()))
    );
}

#[tokio::test]
async fn expiry_requeues_then_fails_and_the_late_node_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path().join("cp.db").to_str().unwrap())
        .await
        .unwrap();
    let a = node(&s, "aa", 0).await;
    let spec = json!({"messages": []});
    let j = s
        .create_job(Some("m:1"), &spec, "ip", 2, JobStatus::Pending, None, 0)
        .await
        .unwrap();
    s.claim(&a, 1, 100, 500).await.unwrap();
    // The node's heartbeat does not list the job: its lease is not renewed.
    s.heartbeat(
        "aa",
        "provider",
        false,
        None,
        None,
        None,
        Some(&[]),
        400,
        500,
    )
    .await
    .unwrap();
    assert!(s.expired(600).await.unwrap().is_empty());
    let gone = s.expired(601).await.unwrap();
    assert_eq!(gone.len(), 1);
    let t = lease::handle(&gone[0].lease(), Event::Expire, 601, 500).unwrap();
    let q = s
        .apply(&gone[0], &t, Outcome::default(), 601)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.job(&j.id).await.unwrap().as_ref(), Some(&q), "as stored");
    assert_eq!(
        (q.status, q.provider_id.as_deref()),
        (JobStatus::Pending, None)
    );
    assert_eq!(
        s.complete(&j.id, Holder::any(&a.id), true, None, None, 700)
            .await
            .unwrap(),
        Err(Refused::Forbidden(format!(
            "job '{}' is not leased to this node",
            j.id
        )))
    );
    // Second and last attempt lost too: failed with the reason.
    s.claim(&a, 1, 800, 500).await.unwrap();
    let gone = s.expired(1_301).await.unwrap();
    let t = lease::handle(&gone[0].lease(), Event::Expire, 1_301, 500).unwrap();
    let why = Outcome {
        result: None,
        error: Some("lost"),
    };
    let f = s.apply(&gone[0], &t, why, 1_301).await.unwrap().unwrap();
    assert_eq!(s.job(&j.id).await.unwrap().as_ref(), Some(&f), "as stored");
    assert_eq!(
        (f.status, f.attempts, f.error.as_deref()),
        (JobStatus::Failed, 2, Some("lost"))
    );
    // Written once: the same decision again finds the row moved.
    assert_eq!(s.apply(&gone[0], &t, why, 1_302).await.unwrap(), None);
}

#[test]
fn guarded_update_matches_nulls_with_is_null() {
    let (sql, params) = cas_update(
        &[("status", "pending".into()), ("provider_id", Val::T(None))],
        &[
            ("id", "j".into()),
            ("provider_id", Val::T(None)),
            ("attempts", 1.into()),
        ],
    );
    assert_eq!(
        sql,
        "UPDATE jobs SET status = $1, provider_id = $2 WHERE id = $3 AND provider_id IS NULL AND attempts = $4"
    );
    assert_eq!(
        params,
        vec!["pending".into(), Val::T(None), "j".into(), 1.into()]
    );
}

#[test]
fn ansi_is_stripped() {
    assert_eq!(strip_ansi("\u{1b}[31mfailed\u{1b}[0m: x"), "failed: x");
}

async fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path().join("cp.db").to_str().unwrap())
        .await
        .unwrap();
    (dir, s)
}

#[tokio::test]
async fn a_rate_is_taken_once_per_request_even_when_requests_race() {
    use infernet_core::ratelimit::{Decision, Limit};
    let (_d, s) = temp_store().await;
    let limit = Limit { per_hour: 5 };
    // Ten requests at once on one subject: exactly five pass.
    let all = futures::future::join_all((0..10).map(|_| s.take_rate("ip:a", limit, 1_000))).await;
    let passed = all
        .iter()
        .filter(|d| matches!(d, Ok(Decision::Allow { .. })))
        .count();
    assert_eq!(passed, 5, "{all:?}");
    // Another subject is not affected; a pruned row means a full burst again.
    assert!(matches!(
        s.take_rate("ip:b", limit, 1_000).await.unwrap(),
        Decision::Allow { .. }
    ));
    assert_eq!(s.prune_rates(3_600_000 + 1_000).await.unwrap(), 2);
    assert!(matches!(
        s.take_rate("ip:a", limit, 3_600_000 + 1_000).await.unwrap(),
        Decision::Allow { .. }
    ));
}

#[tokio::test]
async fn keys_are_found_by_their_secret_only_and_revoked_once() {
    let (_d, s) = temp_store().await;
    let row = s
        .create_key("key_1", Some("ci"), "ifn_secret", 7, 1_000)
        .await
        .unwrap();
    assert_eq!((row.prefix.as_str(), row.per_hour), ("ifn_secret", 7));
    // Only the hash is stored.
    let stored =
        s.db.query_one("SELECT key_hash FROM client_keys", &[])
            .await
            .unwrap()
            .unwrap();
    assert_eq!(t(&stored, 0).unwrap(), secret_hash("ifn_secret"));
    assert!(s.key_by_secret("ifn_other").await.unwrap().is_none());
    s.key_used("key_1", 2_000).await.unwrap();
    s.key_tokens("key_1", 40).await.unwrap();
    let k = s.key_by_secret("ifn_secret").await.unwrap().unwrap();
    assert_eq!((k.revoked, k.row.requests, k.row.tokens), (false, 1, 40));
    let first = s.revoke_key("key_1", 3_000).await.unwrap().unwrap();
    let again = s.revoke_key("key_1", 9_000).await.unwrap().unwrap();
    assert_eq!(first.revoked_at, again.revoked_at);
    assert!(s.revoke_key("key_2", 1).await.unwrap().is_none());
}

#[tokio::test]
async fn a_key_links_to_one_account_and_sessions_expire() {
    let (_d, s) = temp_store().await;
    s.create_user("u1", "ifu_a", 1).await.unwrap();
    s.create_user("u2", "ifu_b", 1).await.unwrap();
    assert_eq!(
        s.user_by_token("ifu_b").await.unwrap().as_deref(),
        Some("u2")
    );
    let l = s
        .link("u1", "pk", "provider", Some("rig"), 5)
        .await
        .unwrap()
        .unwrap();
    assert!(l.created);
    let again = s
        .link("u1", "pk", "provider", None, 6)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.created, again.label.as_deref()),
        (false, Some("rig"))
    );
    assert_eq!(
        s.link("u2", "pk", "provider", None, 7).await.unwrap(),
        Err(LinkRefused::Taken)
    );
    assert_eq!(s.owner_of("pk").await.unwrap().as_deref(), Some("u1"));
    assert_eq!(s.linked_keys("u2").await.unwrap().len(), 0);
    s.create_session("sess", "u1", 100).await.unwrap();
    assert_eq!(
        s.session_user("sess", 99).await.unwrap().as_deref(),
        Some("u1")
    );
    assert_eq!(s.session_user("sess", 100).await.unwrap(), None);
    assert_eq!(s.prune_sessions(100).await.unwrap(), 1);
}

/// Many requests of one client at once, all within its limit, all pass (none is refused for
/// losing a race on its row).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_within_the_limit_all_pass() {
    use infernet_core::ratelimit::{Decision, Limit};
    let (_d, s) = temp_store().await;
    let limit = Limit { per_hour: 1_000 };
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.take_rate("ip:busy", limit, 5_000).await })
        })
        .collect();
    for t in tasks {
        let d = t.await.unwrap().unwrap();
        assert!(matches!(d, Decision::Allow { .. }), "{d:?}");
    }
}

/// A reader following attempt 1 gets that attempt's `reset` even when it was stored after
/// attempt 2 began (the reaper re-queues, then writes the reset; a fast node can claim in
/// between); a reader starting on attempt 2 gets attempt 2 alone.
#[tokio::test]
async fn a_reader_of_an_earlier_attempt_gets_its_reset() {
    let (_dir, s) = temp_store().await;
    let j = s
        .create_job(
            Some("m:1"),
            &json!({"messages": []}),
            "10.0.0.1",
            3,
            JobStatus::Pending,
            None,
            1_000,
        )
        .await
        .unwrap();
    let old = s
        .insert_event(&j.id, 1, "token", &json!({"text": "a"}), 1_100)
        .await
        .unwrap();
    let meta = s
        .insert_event(&j.id, 2, "meta", &json!({}), 1_200)
        .await
        .unwrap();
    let reset = s
        .insert_event(&j.id, 1, "reset", &json!({"attempt": 1}), 1_200)
        .await
        .unwrap();
    let token = s
        .insert_event(&j.id, 2, "token", &json!({"text": "a"}), 1_300)
        .await
        .unwrap();
    let mut at2 = s.job(&j.id).await.unwrap().unwrap();
    at2.attempts = 2;
    let ids = |v: Vec<StoredEvent>| v.iter().map(|e| e.id).collect::<Vec<_>>();
    let following = s.events(&at2, old.id, Some(1), 100).await.unwrap();
    assert_eq!(ids(following), [meta.id, reset.id, token.id]);
    let fresh = s.events(&at2, 0, None, 100).await.unwrap();
    assert_eq!(ids(fresh), [meta.id, token.id]);
}
