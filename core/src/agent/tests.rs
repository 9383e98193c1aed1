use super::*;

const MID: f64 = 0.5; // no jitter: the factor is exactly 1

fn pace() -> Pace {
    Pace {
        heartbeat: Duration::from_secs(30),
        poll_interval: Duration::from_secs(2),
        poll_wait: Duration::from_secs(20),
        command_interval: Duration::from_secs(5),
    }
}

fn started() -> Agent {
    let mut a = Agent::new(pace());
    assert_eq!(
        a.handle(Event::Start, MID),
        vec![Effect::Register {
            after: Duration::ZERO
        }]
    );
    assert_eq!(a.view().phase, Phase::Connecting);
    a
}

fn online() -> Agent {
    let mut a = started();
    a.handle(Event::RegisterOk { at_ms: 7 }, MID);
    a
}

#[test]
fn first_registration_starts_every_loop() {
    let mut a = started();
    let fx = a.handle(Event::RegisterOk { at_ms: 7 }, MID);
    assert_eq!(
        fx,
        vec![
            Effect::StartLoops,
            // The served models go out with a heartbeat at once, not one interval later.
            Effect::Heartbeat {
                after: Duration::ZERO
            },
            Effect::Poll {
                after: Duration::ZERO
            },
            Effect::PollCommands {
                after: Duration::from_secs(5)
            },
        ]
    );
    assert_eq!(a.view().phase, Phase::Online);
    assert!(a.view().registered);
    // The registration is the first sign of life the status shows.
    assert_eq!(a.view().last_heartbeat_ms, Some(7));
}

#[test]
fn registration_retries_back_off_to_a_minute() {
    let mut a = started();
    let waits: Vec<Duration> = (0..8)
        .map(
            |_| match a.handle(Event::RegisterFailed("refused".into()), MID)[..] {
                [Effect::Register { after }] => after,
                ref other => panic!("{other:?}"),
            },
        )
        .collect();
    let secs: Vec<u64> = waits.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [2, 4, 8, 16, 32, 60, 60, 60]);
    assert_eq!(a.view().phase, Phase::Offline);
    assert_eq!(a.view().last_error.as_deref(), Some("refused"));
    assert!(!a.view().registered);
    // Success resets the count and clears the error.
    a.handle(Event::RegisterOk { at_ms: 7 }, MID);
    assert_eq!(a.view().last_error, None);
}

#[test]
fn jitter_spreads_waits_ten_percent_either_way() {
    let mut a = online();
    let low = a.handle(Event::HeartbeatOk { at_ms: 1 }, 0.0);
    let high = a.handle(Event::HeartbeatOk { at_ms: 2 }, 0.999_999);
    assert_eq!(
        low,
        vec![Effect::Heartbeat {
            after: Duration::from_secs(27)
        }]
    );
    match high[..] {
        [Effect::Heartbeat { after }] => {
            assert!(after > Duration::from_millis(32_999) && after <= Duration::from_secs(33))
        }
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn heartbeat_failures_back_off_but_never_past_the_interval() {
    let mut a = online();
    let mut waits = Vec::new();
    for _ in 0..6 {
        match a.handle(Event::HeartbeatFailed("timeout".into()), MID)[..] {
            [Effect::Heartbeat { after }] => waits.push(after.as_secs()),
            ref other => panic!("{other:?}"),
        }
    }
    assert_eq!(waits, [2, 4, 8, 16, 30, 30]);
    assert_eq!(a.view().phase, Phase::Offline);
    assert_eq!(a.view().heartbeats_failed, 6);
    // Back online: the interval again, error cleared, time recorded.
    let fx = a.handle(Event::HeartbeatOk { at_ms: 42 }, MID);
    assert_eq!(
        fx,
        vec![Effect::Heartbeat {
            after: Duration::from_secs(30)
        }]
    );
    let v = a.view();
    assert_eq!(
        (v.phase, v.last_error.clone(), v.last_heartbeat_ms),
        (Phase::Online, None, Some(42))
    );
}

#[test]
fn a_forgotten_node_registers_again_in_place_of_the_heartbeat() {
    let mut a = online();
    a.handle(Event::HeartbeatOk { at_ms: 1 }, MID);
    assert_eq!(
        a.handle(Event::Forgotten, MID),
        vec![Effect::Register {
            after: Duration::ZERO
        }]
    );
    // No second set of loops; a heartbeat at once carries the served models.
    assert_eq!(
        a.handle(Event::RegisterOk { at_ms: 7 }, MID),
        vec![Effect::Heartbeat {
            after: Duration::ZERO
        }]
    );
    a.handle(Event::HeartbeatOk { at_ms: 8 }, MID);
    assert_eq!(a.view().heartbeats_ok, 2);
    // A failed re-registration is a failed heartbeat, paced like one.
    a.handle(Event::Forgotten, MID);
    assert_eq!(
        a.handle(Event::RegisterFailed("503".into()), MID),
        vec![Effect::Heartbeat {
            after: Duration::from_secs(2)
        }]
    );
    assert_eq!(a.view().heartbeats_failed, 1);
    assert_eq!(a.view().phase, Phase::Offline);
}

#[test]
fn a_server_that_forgets_the_node_at_once_again_is_not_registered_with_in_a_loop() {
    let mut a = online();
    // The heartbeat right after registering gets 404: back off, do not register again.
    match a.handle(Event::Forgotten, MID)[..] {
        [Effect::Heartbeat { after }] => assert_eq!(after, Duration::from_secs(2)),
        ref other => panic!("{other:?}"),
    }
    // The next 404 registers again, and the one after that backs off longer.
    assert_eq!(
        a.handle(Event::Forgotten, MID),
        vec![Effect::Register {
            after: Duration::ZERO
        }]
    );
    a.handle(Event::RegisterOk { at_ms: 9 }, MID);
    match a.handle(Event::Forgotten, MID)[..] {
        [Effect::Heartbeat { after }] => assert_eq!(after, Duration::from_secs(4)),
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn polls_follow_a_long_poll_at_once_and_pace_a_server_that_does_not() {
    let mut a = online();
    let at_once = vec![Effect::Poll {
        after: Duration::ZERO,
    }];
    // Jobs came: ask again at once.
    assert_eq!(
        a.handle(
            Event::Polled {
                jobs: 2,
                waited: Duration::from_millis(3)
            },
            MID
        ),
        at_once
    );
    // The server held the poll and answered empty: ask again at once.
    assert_eq!(
        a.handle(
            Event::Polled {
                jobs: 0,
                waited: Duration::from_secs(19)
            },
            MID
        ),
        at_once
    );
    // Empty at once: the server does not long-poll, so wait the poll interval.
    assert_eq!(
        a.handle(
            Event::Polled {
                jobs: 0,
                waited: Duration::from_millis(5)
            },
            MID
        ),
        vec![Effect::Poll {
            after: Duration::from_secs(2)
        }]
    );
    assert_eq!(a.view().polls, 3);
}

#[test]
fn poll_failures_back_off_and_show_the_error() {
    let mut a = online();
    assert_eq!(
        a.handle(Event::PollFailed("502".into()), MID),
        vec![Effect::Poll {
            after: Duration::from_secs(2)
        }]
    );
    assert_eq!(
        a.handle(Event::PollFailed("502".into()), MID),
        vec![Effect::Poll {
            after: Duration::from_secs(4)
        }]
    );
    assert_eq!(a.view().last_error.as_deref(), Some("502"));
    // The heartbeat, not the poll, says whether the node is online.
    assert_eq!(a.view().phase, Phase::Online);
    a.handle(
        Event::Polled {
            jobs: 1,
            waited: Duration::ZERO,
        },
        MID,
    );
    assert_eq!(
        a.handle(Event::PollFailed("x".into()), MID),
        vec![Effect::Poll {
            after: Duration::from_secs(2)
        }],
        "a success resets the count"
    );
}

#[test]
fn command_polls_back_off_quietly() {
    let mut a = online();
    assert_eq!(
        a.handle(Event::CommandsFailed("404".into()), MID),
        vec![Effect::PollCommands {
            after: Duration::from_secs(2)
        }]
    );
    assert_eq!(a.view().last_error, None, "commands are optional");
    assert_eq!(
        a.handle(Event::CommandsPolled, MID),
        vec![Effect::PollCommands {
            after: Duration::from_secs(5)
        }]
    );
}

#[test]
fn a_loop_that_ends_fails_the_agent_with_its_name() {
    let mut a = online();
    let fx = a.handle(
        Event::LoopEnded {
            name: "job".into(),
            how: "panicked: boom".into(),
        },
        MID,
    );
    let why = "the control-plane job loop panicked: boom".to_string();
    assert_eq!(fx, vec![Effect::CloseIntake, Effect::Fail(why.clone())]);
    assert_eq!(a.view().phase, Phase::Offline);
    assert_eq!(a.view().last_error, Some(why));
    // Restarted by its supervisor: registers and starts the loops again.
    a.handle(Event::Start, MID);
    assert!(
        a.handle(Event::RegisterOk { at_ms: 7 }, MID)
            .contains(&Effect::StartLoops)
    );
}

#[test]
fn drain_closes_the_intake_then_says_goodbye_once() {
    let mut a = online();
    assert_eq!(a.handle(Event::Drain, MID), vec![Effect::CloseIntake]);
    assert!(a.view().draining);
    // Work already under way reports back; nothing new is scheduled.
    assert_eq!(a.handle(Event::HeartbeatOk { at_ms: 9 }, MID), vec![]);
    assert_eq!(a.handle(Event::PollFailed("x".into()), MID), vec![]);
    assert_eq!(
        a.handle(
            Event::LoopEnded {
                name: "job".into(),
                how: "ended".into()
            },
            MID
        ),
        vec![],
        "loops end because of the drain: not a failure"
    );
    assert_eq!(a.handle(Event::Drained, MID), vec![Effect::SendOffline]);
    assert_eq!(a.view().phase, Phase::Stopped);
    assert_eq!(a.handle(Event::Drained, MID), vec![], "once");
}

#[test]
fn a_node_never_registered_stops_without_a_goodbye() {
    let mut a = started();
    a.handle(Event::RegisterFailed("down".into()), MID);
    a.handle(Event::Drain, MID);
    assert_eq!(
        a.handle(Event::RegisterOk { at_ms: 7 }, MID),
        vec![],
        "late answers are ignored"
    );
    assert_eq!(a.handle(Event::Drained, MID), vec![]);
    assert_eq!(a.view().phase, Phase::Stopped);
}

#[test]
fn phases_have_their_status_names() {
    for (p, s) in [
        (Phase::Connecting, "connecting"),
        (Phase::Online, "online"),
        (Phase::Offline, "offline"),
        (Phase::Stopped, "stopped"),
        (Phase::Error, "error"),
    ] {
        assert_eq!(p.as_str(), s);
        assert_eq!(serde_json::to_value(p).unwrap(), s);
    }
}
