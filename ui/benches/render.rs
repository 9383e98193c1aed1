//! Frame render time at 160x48 with 1 000 jobs and 1 000 subscriptions in the model, and the
//! Metrics plots with a full hour of history in each window (target ≤ 1 ms per frame). Run:
//! `cargo bench -p infernet-ui --bench render`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
#[path = "../tests/support/mod.rs"]
mod support;

use infernet_ui::app::{Panel, View};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::Instant;

fn main() {
    let target_ms = 1.0;
    let mut model = support::model(1000, 1000);
    model.fleet = support::fleet(12);
    let mut app = support::app(model);
    app.update(infernet_ui::Msg::Resize(160, 48));
    let mut term = Terminal::new(TestBackend::new(160, 48)).expect("terminal");
    println!("frame render at 160x48, 1000 jobs + 1000 subscriptions (target ≤ {target_ms} ms)");
    for (name, view) in [
        ("dashboard", View::Dashboard),
        ("jobs", View::Full(Panel::Jobs)),
        ("subscriptions", View::Full(Panel::Subscriptions)),
        ("containers", View::Full(Panel::Containers)),
        ("logs", View::Full(Panel::Logs)),
        ("chat", View::Full(Panel::Chat)),
        ("metrics 1 m", View::Full(Panel::Metrics)),
        ("metrics 1 h", View::Full(Panel::Metrics)),
        ("fleet", View::Full(Panel::Fleet)),
    ] {
        if name == "metrics 1 h" {
            app.window = infernet_core::history::Window::H1;
        }
        app.view = view;
        for _ in 0..50 {
            term.draw(|f| infernet_ui::draw::draw(&app, f))
                .expect("draw");
        }
        let n = 1000;
        let t0 = Instant::now();
        for _ in 0..n {
            term.draw(|f| infernet_ui::draw::draw(&app, f))
                .expect("draw");
        }
        let ms = t0.elapsed().as_secs_f64() * 1000.0 / n as f64;
        println!(
            "  {name:<14} {ms:>7.3} ms/frame   {:>5.2}x of the target {}",
            ms / target_ms,
            if ms <= target_ms { "ok" } else { "OVER" }
        );
    }
}
