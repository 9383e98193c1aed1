//! A scripted model for render and flow tests: fixed clock, fixed ids. This is test data,
//! never shown by the product (the product renders what the engine reports).
#![allow(dead_code)]
use infernet_core::history::HistoryView;
use infernet_ui::keymap::Keymap;
use infernet_ui::model::*;
use infernet_ui::theme::{Depth, Theme};
use infernet_ui::{App, Msg};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::Arc;

pub const NOW: i64 = 1_795_000_000_000;

pub fn model(jobs: usize, subs: usize) -> Model {
    let job_rows = (0..jobs)
        .map(|i| {
            let state = match i % 7 {
                0 => JobState::Running,
                3 => JobState::Failed,
                _ => JobState::Success,
            };
            JobRow {
                id: format!("{:08x}-0000-4000-8000-{:012x}", i, i * 7919),
                source: if i % 5 == 0 {
                    "stream".into()
                } else {
                    "rest".into()
                },
                containers: if i % 3 == 0 {
                    vec!["echo".into(), "llm".into()]
                } else {
                    vec!["echo".into()]
                },
                state,
                created_ms: NOW - (i as i64 * 37_000) - 1_500,
                finished_ms: (state != JobState::Running)
                    .then_some(NOW - (i as i64 * 37_000) - 300),
                streamed_bytes: (state == JobState::Running && i % 5 == 0).then_some(18_432),
                error: (state == JobState::Failed).then(|| "container 'llm' answered 500".into()),
            }
        })
        .collect();
    let subscriptions = (0..subs)
        .map(|i| SubscriptionRow {
            id: (subs - i) as u32,
            owner: format!("0x{:040x}", 0xC0FFEE + i),
            containers: vec!["echo".into()],
            period: if i % 2 == 0 { 60 } else { 0 },
            frequency: if i % 2 == 0 { 10 } else { 1 },
            redundancy: 2,
            responses: Some((i % 3) as u16),
            lazy: i % 4 == 0,
            status: match i % 5 {
                0 => "completed".into(),
                1 => "ignored".into(),
                _ => "tracked".into(),
            },
            reason: match i % 5 {
                1 => Some("container 'llm' is not served by this node".into()),
                3 => Some("payment: token 0x0 not accepted by 'echo'".into()),
                _ => None,
            },
            interval: Some(3),
            next_due: Some((NOW / 1000 + 45) as u64),
            last_delivery: Some("delivered interval 2".into()),
            last_tx: Some(format!("0x{:064x}", 0xABCDEF + i)),
            payment: (i % 2 == 0).then(|| {
                "100000000000000000 of ETH from wallet 0x60985ee8192B322c3CAbA97A9A9f7298bdc4335C"
                    .into()
            }),
            proof: (i == 0).then(|| "verifier 0x00000000000000000000000000000000000000a7".into()),
        })
        .collect();
    Model {
        now_ms: NOW,
        header: Header {
            node_name: "gpu-box-1".into(),
            version: "0.1.0".into(),
            started_ms: NOW - 3_723_000,
            rest_addr: "127.0.0.1:4000".into(),
            mode: Mode::InProcess,
            config_source: "/home/op/.config/infernet/config.json".into(),
        },
        system: SystemView {
            cpu_pct: 37.5,
            cpu_history: (0..120).map(|i| (i * 7 % 100) as u64).collect(),
            cores: 16,
            per_core: (0..16).map(|i| (i * 13 % 100) as f32).collect(),
            ram_used: 24 << 30,
            ram_total: 128 << 30,
            load: [2.5, 1.75, 1.0],
            gpus: vec![GpuView {
                index: 0,
                name: "NVIDIA H100 80GB HBM3".into(),
                util_pct: 91,
                util_history: (0..120).map(|i| (50 + i % 50) as u64).collect(),
                mem_used: 61 << 30,
                mem_total: 80 << 30,
                temp_c: Some(67),
                power_w: Some(512.0),
                power_limit_w: Some(700.0),
            }],
            gpu_note: None,
        },
        jobs: JobsView {
            rows: job_rows,
            running: 3,
            succeeded: 120,
            failed: 2,
        },
        chain: ChainView::Enabled(Box::new(ChainStatusView {
            phase: "following".into(),
            error: None,
            chain_id: 31337,
            node: Some("0x70997970C51812dc3A010C7d01b50e0d17dc79C8".into()),
            coordinator: Some("0x5FbDB2315678afecb367f032d93F642f64180aa3".into()),
            head_block: 18_234,
            synced_sub_id: subs as u32,
            head_sub_id: subs as u32,
            rpc_ok: true,
            rpc_calls: 5120,
            rpc_errors: 3,
            rpc_last_error: None,
            tracked: subs,
            delivered: 40,
            skipped: 6,
            failed: 1,
            in_flight: 1,
            subscriptions,
            registration: None,
            registration_ok: false,
        })),
        containers: vec![
            ContainerRow {
                id: "echo".into(),
                state: "ready".into(),
                reason: None,
                image: "infernet-echo:test".into(),
                port: 3000,
                managed: true,
                restarts: 1,
                description: Some("echoes its input".into()),
            },
            ContainerRow {
                id: "hello-world".into(),
                state: "unavailable".into(),
                reason: Some("image pull failed: registry unreachable".into()),
                image: "ritualnetwork/hello-world-infernet:latest".into(),
                port: 3001,
                managed: true,
                restarts: 0,
                description: None,
            },
        ],
        backends: BackendsView {
            rows: vec![BackendRow {
                id: "llm".into(),
                kind: "llamacpp".into(),
                url: "http://127.0.0.1:8080".into(),
                state: "ready".into(),
                error: None,
                default_model: Some("SmolLM2-135M-Instruct".into()),
                models: vec![ModelRow {
                    name: "SmolLM2-135M-Instruct".into(),
                    size: Some(98_000_000),
                    fits: Some(true),
                }],
                configured: true,
            }],
            note: None,
        },
        peers: PeersView::NotConfigured {
            how: "No control plane configured. Peers appear here once the node registers with one."
                .into(),
        },
        logs: (0..50)
            .map(|i| LogLine {
                ts_ms: NOW - (50 - i) * 1000,
                level: match i % 9 {
                    0 => Level::Warn,
                    4 => Level::Debug,
                    8 => Level::Error,
                    _ => Level::Info,
                },
                target: "infernet::jobs".into(),
                text: format!("job finished job={i:04} status=success"),
            })
            .collect(),
        history: history(),
        fleet: Vec::new(),
        swarm: None,
    }
}

pub fn app(model: Model) -> App {
    let theme = Theme::builtin("dark")
        .unwrap()
        .unwrap()
        .with_depth(Depth::TrueColor);
    let mut app = App::new(theme, Keymap::default());
    app.update(Msg::Model(Arc::new(model)));
    app
}

/// Renders the app and returns the screen as text (one line per row).
pub fn render(app: &mut App, w: u16, h: u16) -> String {
    app.update(Msg::Resize(w, h));
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| infernet_ui::draw::draw(app, f)).unwrap();
    let buf = term.backend().buffer();
    let mut out = String::new();
    for y in 0..h {
        let mut line = String::new();
        for x in 0..w {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// An hour of scripted history (sine-ish levels, a job every few seconds), recorded through
/// the engine's own `History` so the plots show what a node would send.
pub fn history() -> Vec<HistoryView> {
    use infernet_core::history::{History, Kind, Window};
    let mut h = History::default();
    let start = NOW - 3_600_000;
    for s in 0..3600i64 {
        let t = start + s * 1000;
        let wave = |p: f64, phase: f64| 50.0 + 40.0 * ((s as f64 / p) + phase).sin();
        h.record("cpu", Kind::Gauge, wave(90.0, 0.0), t);
        h.record("ram", Kind::Gauge, 30.0 + (s % 600) as f64 / 60.0, t);
        h.record("gpu0.util", Kind::Gauge, wave(60.0, 1.0), t);
        h.record("gpu0.vram", Kind::Gauge, 76.0, t);
        h.record("gpu0.temp", Kind::Gauge, 55.0 + wave(120.0, 0.5) / 5.0, t);
        h.record("gpu0.power", Kind::Gauge, 300.0 + wave(60.0, 1.0) * 4.0, t);
        h.record("jobs.ok", Kind::Rate, f64::from(s % 3 == 0), t);
        h.record("jobs.failed", Kind::Rate, f64::from(s % 97 == 0), t);
        h.record("tokens.llm", Kind::Rate, wave(45.0, 2.0), t);
        h.record("chain.per_block", Kind::Gauge, (s % 5) as f64 / 2.0, t);
        if s % 3 == 0 {
            h.latency(200.0 + (s % 50) as f64 * 10.0, t);
        }
    }
    Window::ALL.iter().map(|&w| h.view(w, NOW)).collect()
}

/// A fleet of `n` boxes in every link state (the first on screen).
pub fn fleet(n: usize) -> Vec<FleetRow> {
    (0..n)
        .map(|i| FleetRow {
            name: format!("op@gpu-{i}"),
            state: match i % 5 {
                3 => BoxState::Reconnecting,
                4 => BoxState::Connecting,
                _ => BoxState::Up,
            },
            selected: i == 0,
            node_name: format!("gpu-box-{i}"),
            version: "0.1.0".into(),
            jobs_running: i as u64 % 3,
            jobs_succeeded: 100 + i as u64,
            jobs_failed: i as u64 % 2,
            gpu_util: (i % 4 != 2).then_some(40.0 + i as f32),
            tokens_s: Some(10.0 * i as f32),
            chain: if i % 2 == 0 {
                format!("following #{}", 1000 + i)
            } else {
                "off".into()
            },
            control: "online".into(),
            last_error: (i % 5 == 3)
                .then(|| "ssh: connect to host gpu-3 port 22: Connection refused".into()),
            seen_ms: (i % 5 != 4).then_some(NOW - 1_500 * i as i64),
        })
        .collect()
}
