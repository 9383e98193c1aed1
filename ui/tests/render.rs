//! Render snapshots: every panel and the whole app at 80x24 and 160x48, fixed clock and ids.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod support;

use infernet_core::view::why::Subject;
use infernet_ui::app::{Panel, View};
use infernet_ui::intent::{ChatUpdate, Update};
use infernet_ui::model::{ChainView, PeersView, SystemView};
use infernet_ui::model::{Level, LogLine};
use infernet_ui::wizard::WizardState;
use infernet_ui::{DetectedBackend, Msg};
use support::*;

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn snap(name: &str, app: &mut infernet_ui::App) {
    for (w, h) in SIZES {
        let text = render(app, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), text);
    }
}

#[test]
fn dashboard() {
    let mut a = app(model(40, 12));
    snap("dashboard", &mut a);
}

#[test]
fn every_full_panel() {
    for (name, p) in [
        ("jobs", Panel::Jobs),
        ("subscriptions", Panel::Subscriptions),
        ("containers", Panel::Containers),
        ("peers", Panel::Peers),
        ("logs", Panel::Logs),
        ("chat", Panel::Chat),
        ("metrics", Panel::Metrics),
    ] {
        let mut a = app(model(40, 12));
        a.view = View::Full(p);
        snap(name, &mut a);
    }
}

#[test]
fn system_panel_without_gpu_explains_why() {
    let mut m = model(3, 0);
    m.system = SystemView {
        cpu_pct: 5.0,
        cpu_history: vec![5; 10],
        cores: 2,
        per_core: vec![4.0, 6.0],
        ram_used: 1 << 30,
        ram_total: 4 << 30,
        load: [0.1, 0.2, 0.3],
        gpus: vec![],
        gpu_note: Some("no GPU detected: the NVIDIA driver library (libnvidia-ml.so.1) is not installed; CPU-only backends still work".into()),
    };
    let mut a = app(m);
    snap("system_no_gpu", &mut a);
}

#[test]
fn features_not_configured_say_how_to_enable_them() {
    let mut m = model(0, 0);
    m.chain = ChainView::Disabled {
        how: "The chain side is off. Set chain.enabled = true with chain.rpc_url, chain.registry_address and a wallet key (infernet secret set chain.wallet.private_key), then restart.".into(),
    };
    m.containers.clear();
    m.backends.rows.clear();
    m.peers = PeersView::NotConfigured {
        how: "No control plane configured.".into(),
    };
    let mut a = app(m);
    snap("unconfigured", &mut a);
    let text = render(&mut a, 160, 48);
    assert!(text.contains("chain.enabled"), "{text}");
    assert!(text.contains("No jobs yet"), "{text}");
}

#[test]
fn first_run_card_on_the_built_in_defaults_until_a_key() {
    use infernet_ui::model::BackendRow;
    let mut m = model(0, 0);
    m.header.config_source = "built-in defaults".into();
    m.containers.clear();
    m.backends.rows = vec![BackendRow {
        id: "llm".into(),
        kind: "embedded".into(),
        url: "in-process".into(),
        state: "ready".into(),
        default_model: Some("SmolLM2-135M-Instruct-Q4_1.gguf".into()),
        configured: true,
        ..Default::default()
    }];
    let mut a = app(m);
    snap("welcome", &mut a);
    let text = render(&mut a, 160, 48);
    assert!(text.contains("built-in defaults"), "{text}");
    assert!(text.contains("this machine only"), "{text}");
    assert!(text.contains("(local only)"), "{text}");
    assert!(
        text.contains("infernet setup --control-plane URL"),
        "{text}"
    );
    // Any key closes it; a key that means something still does its job.
    a.update(Msg::Key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Char('7'),
    )));
    let text = render(&mut a, 160, 48);
    assert!(!text.contains("To add more"), "{text}");
    // A node with a config file shows no card.
    let mut a = app(model(0, 0));
    assert!(!render(&mut a, 160, 48).contains("To add more"));
}

#[test]
fn peers_connected_to_a_control_plane() {
    use infernet_ui::model::{ControlView, PeerRow};
    let mut m = model(40, 12);
    let peer = |id: &str, name: &str, status: &str, jobs: u64, me: bool| PeerRow {
        id: id.into(),
        name: name.into(),
        status: status.into(),
        models: vec!["qwen2.5:7b".into(), "llama3.1:8b".into()],
        last_seen_ms: NOW - 4_000,
        active_jobs: jobs,
        me,
    };
    m.peers = PeersView::Connected(ControlView {
        url: "http://cp.example:4010".into(),
        state: "online".into(),
        node_id: "provider-1a2b3c4d".into(),
        heartbeats_ok: 41,
        heartbeats_failed: 1,
        last_heartbeat_ms: Some(NOW - 2_000),
        last_error: None,
        jobs_active: 1,
        jobs_completed: 17,
        jobs_failed: 2,
        served_models: vec!["qwen2.5:7b".into(), "llama3.1:8b".into()],
        peers: vec![
            peer("provider-1a2b3c4d", "gpu-box-1", "available", 1, true),
            peer("provider-99ffee00", "gpu-box-2", "available", 3, false),
        ],
    });
    let mut a = app(m.clone());
    snap("dashboard_connected", &mut a);
    a.view = View::Full(Panel::Peers);
    snap("peers_connected", &mut a);
    let text = render(&mut a, 160, 48);
    assert!(text.contains("gpu-box-1 (this node)"), "{text}");
    assert!(
        text.contains("control plane online · 2 nodes · 1 jobs"),
        "{text}"
    );
    // A failing link says why.
    if let PeersView::Connected(c) = &mut m.peers {
        c.state = "offline".into();
        c.last_error =
            Some("control plane unreachable at http://cp.example:4010: Connection refused".into());
    }
    let mut a = app(m);
    a.view = View::Full(Panel::Peers);
    let text = render(&mut a, 160, 48);
    assert!(
        text.contains("offline") && text.contains("Connection refused"),
        "{text}"
    );
}

#[test]
fn peers_with_the_c0mpute_swarm() {
    use infernet_ui::model::{SwarmPeerRow, SwarmView};
    let mut m = model(40, 12);
    m.swarm = Some(SwarmView {
        peer_id: "16Uiu2HAmSPQvjTxmqEfPuNiFFkXeavNN5WMJBosWVUMHd2znMjwb".into(),
        listen: vec![
            "/ip4/10.0.0.5/tcp/46337/p2p/16Uiu2HAmSPQvjTxmqEfPuNiFFkXeavNN5WMJBosWVUMHd2znMjwb"
                .into(),
        ],
        connected: 2,
        ads_sent: 12,
        ads_taken: 30,
        refused: 0,
        last_refusal: None,
        bids_sent: 4,
        jobs_won: 3,
        receipts_verified: 2,
        receipts_failed: 0,
        peers: vec![
            SwarmPeerRow {
                peer_id: "16Uiu2HAmKtGa15Be3F7CMWfw4hgqGCApfgpitY6ifoA2wwSMk8rP".into(),
                gpu: Some("nvidia".into()),
                models: vec!["qwen2.5:7b".into()],
                last_ad_ms: NOW - 12_000,
                bids_won: 2,
                bids_lost: 1,
            },
            SwarmPeerRow {
                peer_id: "16Uiu2HAm9ZyXwq1k3pQ2jL8xYh7r3tB6uVZc5nFGe2dHs4wQkPq".into(),
                gpu: Some("none".into()),
                models: vec!["smollm2:135m".into()],
                last_ad_ms: NOW - 40_000,
                bids_won: 0,
                bids_lost: 3,
            },
        ],
    });
    let mut a = app(m.clone());
    a.view = View::Full(Panel::Peers);
    snap("peers_swarm", &mut a);
    let text = render(&mut a, 160, 48);
    assert!(
        text.contains("c0mpute swarm") && text.contains("2 connected · 2 peers"),
        "{text}"
    );
    assert!(
        text.contains("qwen2.5:7b") && text.contains("2/1"),
        "{text}"
    );
    assert!(text.contains("receipts 2 verified"), "{text}");
    // A refusal is shown with its reason.
    if let Some(s) = &mut m.swarm {
        s.refused = 1;
        s.last_refusal = Some("sent by 16Uiu2HAmX but names 16Uiu2HAmY".into());
    }
    let mut a = app(m);
    a.view = View::Full(Panel::Peers);
    let text = render(&mut a, 160, 48);
    assert!(text.contains("1 refused, last: sent by"), "{text}");
}

#[test]
fn job_detail_help_and_chat_with_answer() {
    let mut a = app(model(40, 12));
    a.view = View::Full(Panel::Jobs);
    a.update(Msg::Key(key('\n')));
    a.update(Msg::Update(Update::JobDetail(Box::new(
        infernet_ui::model::JobDetail {
            id: match &a.detail.as_ref().unwrap().subject {
                Subject::Job(id) => id.clone(),
                other => panic!("a job detail, not {other:?}"),
            },
            state: infernet_ui::model::JobState::Success,
            containers: vec!["echo".into(), "llm".into()],
            input: Some("{\n  \"prompt\": \"hi\"\n}".into()),
            intermediate: vec!["{\"echo\": \"hi\"}".into()],
            output: Some("{\"text\": \"Hello!\"}".into()),
        },
    ))));
    snap("job_detail", &mut a);
    a.update(Msg::Key(esc()));
    a.update(Msg::Key(key('?')));
    snap("help", &mut a);
    a.update(Msg::Key(key('x')));
    a.update(Msg::Key(key('7')));
    for c in "what is 2+2?".chars() {
        a.update(Msg::Key(key(c)));
    }
    a.update(Msg::Key(key('\n')));
    let (chat, turn) = (1, 1);
    for ev in [
        ChatUpdate::Meta {
            backend: "llm".into(),
            model: "SmolLM2".into(),
        },
        ChatUpdate::Token("2+2 is ".into()),
        ChatUpdate::Token("4.".into()),
        ChatUpdate::Done {
            reason: "stop".into(),
            usage: Some((12, 5)),
        },
    ] {
        a.update(Msg::Update(Update::Chat {
            chat,
            turn,
            event: ev,
        }));
    }
    snap("chat_answered", &mut a);
}

#[test]
fn wizard_screens() {
    let mut a = app(model(0, 0)).with_wizard(WizardState::new(
        "/home/op/.config/infernet/config.json",
        "gpu-box-1",
    ));
    snap("wizard_welcome", &mut a);
    a.update(Msg::Key(key('\n')));
    a.update(Msg::Update(Update::Detected(vec![DetectedBackend {
        kind: "llamacpp".into(),
        url: "http://127.0.0.1:8080".into(),
        models: vec!["SmolLM2-135M-Instruct".into()],
    }])));
    snap("wizard_backend", &mut a);
    for _ in 0..4 {
        a.update(Msg::Key(key('\n')));
    }
    snap("wizard_review", &mut a);
}

pub fn key(c: char) -> crossterm::event::KeyEvent {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    match c {
        '\n' => KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE),
        c => KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE),
    }
}

pub fn esc() -> crossterm::event::KeyEvent {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)
}

/// Each history window renders from the same recorded hour; a node that keeps no history
/// says so instead of drawing empty plots.
#[test]
fn metrics_windows_and_a_node_without_history() {
    use infernet_core::history::Window;
    for w in [Window::M15, Window::H1] {
        let mut a = app(model(5, 0));
        a.view = View::Full(Panel::Metrics);
        a.window = w;
        snap(&format!("metrics_{}", w.label().replace(' ', "")), &mut a);
    }
    let mut m = model(0, 0);
    m.history.clear();
    let mut a = app(m);
    a.view = View::Full(Panel::Metrics);
    snap("metrics_no_history", &mut a);
}

/// The Fleet panel with boxes up, connecting and reconnecting (the reason shown for the
/// selected one), and the header naming the box on screen.
#[test]
fn fleet_panel_lists_every_box_and_why_one_is_down() {
    let mut m = model(5, 0);
    m.fleet = fleet(5);
    let mut a = app(m);
    a.view = View::Full(Panel::Fleet);
    snap("fleet", &mut a);
    a.fleet.selected = 3;
    snap("fleet_reconnecting_selected", &mut a);
    a.view = View::Dashboard;
    snap("fleet_box_dashboard", &mut a);
}

/// The "why" overlay on a skipped subscription, an unavailable container and a backend that
/// is down: reason, fix, facts and the timeline of the lines that name it.
#[test]
fn why_views_explain_a_row() {
    let mut m = model(40, 12);
    let at = m.now_ms;
    let line = |s: i64, level: Level, text: &str| LogLine {
        ts_ms: at - s * 1000,
        level,
        target: "infernet::chain".into(),
        text: text.into(),
    };
    m.logs.extend([
        line(90, Level::Info, "new subscription subscription=11 owner=0xc0ffef"),
        line(89, Level::Info, "ignored subscription subscription=11 reason=No payment address provided for the node"),
        line(30, Level::Warn, "container unavailable container=prover error=image pull failed: No such image: prover:1"),
        line(10, Level::Warn, "backend state changed backend=llm state=unreachable error=Connection refused"),
    ]);
    if let ChainView::Enabled(c) = &mut m.chain {
        let s = c.subscriptions.iter_mut().find(|s| s.id == 11).unwrap();
        s.reason = Some("No payment address provided for the node (set chain.wallet.payment_address to this node's Wallet: `infernet wallet create`)".into());
    }
    m.containers[1].id = "prover".into();
    m.containers[1].reason = Some("image pull failed: No such image: prover:1".into());
    m.backends.rows[0].state = "unreachable".into();
    m.backends.rows[0].error = Some("llamacpp backend unreachable at http://127.0.0.1:8080: error sending request (Connection refused)".into());
    let mut a = app(m);
    a.update(Msg::Key(key('3')));
    a.update(Msg::Key(key('j')));
    a.update(Msg::Key(key('\n')));
    assert_eq!(
        a.detail.as_ref().map(|d| d.subject.clone()),
        Some(Subject::Subscription(11))
    );
    let text = render(&mut a, 160, 48);
    assert!(text.contains("infernet wallet create"), "{text}");
    assert!(text.contains("timeline (2 log lines name it)"), "{text}");
    snap("why_subscription", &mut a);
    a.update(Msg::Key(esc()));
    a.update(Msg::Key(key('4')));
    a.update(Msg::Key(key('j')));
    a.update(Msg::Key(key('\n')));
    snap("why_container", &mut a);
    a.update(Msg::Key(esc()));
    a.update(Msg::Key(key('G')));
    a.update(Msg::Key(key('\n')));
    assert_eq!(
        a.detail.as_ref().map(|d| d.subject.clone()),
        Some(Subject::Backend("llm".into()))
    );
    let text = render(&mut a, 160, 48);
    assert!(text.contains("start the server"), "{text}");
    snap("why_backend", &mut a);
}

/// SDK 0.x: the header says where the node's registration stands, with the cooldown's
/// countdown, before anything else about the chain.
#[test]
fn sdk0_header_shows_the_registration_countdown() {
    let mut m = model(5, 0);
    if let ChainView::Enabled(c) = &mut m.chain {
        c.registration = Some("registered: activate in 41m12s".into());
        c.registration_ok = false;
    }
    let mut a = app(m);
    snap("sdk0_registration", &mut a);
}
