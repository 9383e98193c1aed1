//! App flow: keys in, intents out, on a scripted model feed (no terminal).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod support;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use infernet_ui::app::{Panel, View};
use infernet_ui::keymap::Keymap;
use infernet_ui::model::Level;
use infernet_ui::{Intent, Msg};
use std::collections::BTreeMap;
use std::sync::Arc;
use support::*;

fn k(a: &mut infernet_ui::App, code: KeyCode) -> Vec<Intent> {
    a.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn c(a: &mut infernet_ui::App, ch: char) -> Vec<Intent> {
    k(a, KeyCode::Char(ch))
}

#[test]
fn numbers_and_tab_switch_views_and_focus() {
    let mut a = app(model(10, 5));
    c(&mut a, '3');
    assert_eq!(a.view, View::Full(Panel::Subscriptions));
    k(&mut a, KeyCode::Tab);
    assert_eq!(a.view, View::Full(Panel::Containers));
    k(&mut a, KeyCode::Esc);
    assert_eq!(a.view, View::Dashboard);
    let before = a.focus;
    k(&mut a, KeyCode::Tab);
    assert_ne!(a.focus, before);
    k(&mut a, KeyCode::Enter);
    assert_eq!(a.view, View::Full(a.focus));
}

#[test]
fn enter_on_a_job_loads_its_detail_and_filter_narrows_rows() {
    let mut a = app(model(30, 0));
    c(&mut a, '2');
    c(&mut a, 'j');
    c(&mut a, 'j');
    let want = a.job_rows()[2].id.clone();
    assert_eq!(
        k(&mut a, KeyCode::Enter),
        vec![Intent::LoadJob { id: want.clone() }]
    );
    assert_eq!(
        a.detail.as_ref().map(|d| d.subject.clone()),
        Some(infernet_core::view::why::Subject::Job(want.clone()))
    );
    k(&mut a, KeyCode::Esc);
    assert!(a.detail.is_none());
    c(&mut a, '/');
    for ch in "failed".chars() {
        c(&mut a, ch);
    }
    k(&mut a, KeyCode::Enter);
    assert!(!a.job_rows().is_empty());
    assert!(a.job_rows().iter().all(|j| j.state.label() == "failed"));
    k(&mut a, KeyCode::Esc);
    assert_eq!(a.job_rows().len(), 30);
}

#[test]
fn container_and_backend_actions() {
    let mut a = app(model(0, 0));
    c(&mut a, '4');
    assert_eq!(
        c(&mut a, 'r'),
        vec![Intent::RestartContainer { id: "echo".into() }]
    );
    // 'p' on a container explains instead of acting.
    assert!(c(&mut a, 'p').is_empty());
    assert_eq!(a.notice.as_ref().map(|n| n.0), Some(Level::Warn));
    c(&mut a, 'G');
    assert_eq!(
        c(&mut a, 'p'),
        vec![Intent::PullModel {
            backend: "llm".into(),
            model: "SmolLM2-135M-Instruct".into()
        }]
    );
    // An unmanaged container is not restarted.
    let mut m = model(0, 0);
    m.containers[0].managed = false;
    a.update(Msg::Model(Arc::new(m)));
    c(&mut a, 'g');
    assert!(c(&mut a, 'r').is_empty());
    assert!(a.notice.as_ref().unwrap().1.contains("not managed"));
}

#[test]
fn chat_sends_and_escape_cancels() {
    let mut a = app(model(0, 0));
    c(&mut a, '7');
    for ch in "hi there".chars() {
        c(&mut a, ch);
    }
    let out = k(&mut a, KeyCode::Enter);
    let [
        Intent::SendChat {
            chat,
            turn,
            messages,
            ..
        },
    ] = out.as_slice()
    else {
        panic!("{out:?}")
    };
    assert_eq!(messages.last().unwrap().content, "hi there");
    // 'q' while typing is text, not quit.
    assert!(c(&mut a, 'q').is_empty());
    assert!(!a.quit);
    assert_eq!(
        k(&mut a, KeyCode::Esc),
        vec![Intent::CancelChat {
            chat: *chat,
            turn: *turn
        }]
    );
}

#[test]
fn quit_and_rebound_keys() {
    let mut o = BTreeMap::new();
    o.insert("quit".to_string(), vec!["x".to_string()]);
    let (km, problems) = Keymap::with_overrides(&o);
    assert!(problems.is_empty());
    let mut a = app(model(0, 0));
    a.keymap = km;
    assert!(c(&mut a, 'q').is_empty());
    assert_eq!(c(&mut a, 'x'), vec![Intent::Quit]);
    assert!(a.quit);
    // Ctrl-C always quits.
    let mut b = app(model(0, 0));
    let out = b.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert_eq!(out, vec![Intent::Quit]);
}

#[test]
fn mouse_click_focuses_and_selects_a_row_and_wheel_scrolls() {
    let mut a = app(model(50, 0));
    a.update(Msg::Resize(160, 48));
    c(&mut a, '2');
    // Full jobs panel: header 3 rows (2 header + 1 tabs), border row, table header row.
    let click = |column, row| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row,
        modifiers: KeyModifiers::NONE,
    };
    a.update(Msg::Mouse(click(10, 3 + 2 + 4)));
    assert_eq!(a.jobs.selected, 4);
    a.update(Msg::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 10,
        row: 10,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(a.jobs.selected, 7);
    k(&mut a, KeyCode::Esc);
    // Dashboard: clicking the logs panel focuses it.
    render(&mut a, 160, 48);
    let areas = a.areas(ratatui::layout::Rect::new(0, 0, 160, 48));
    let (_, logs) = areas
        .panels
        .iter()
        .find(|(p, _)| *p == Panel::Logs)
        .copied()
        .unwrap();
    a.update(Msg::Mouse(click(logs.x + 2, logs.y + 1)));
    assert_eq!(a.focus, Panel::Logs);
}

#[test]
fn log_level_filter_and_follow() {
    let mut a = app(model(0, 0));
    c(&mut a, '6');
    let all = a.log_rows().len();
    c(&mut a, 'l'); // info -> warn
    let warn = a.log_rows().len();
    assert!(warn < all && warn > 0);
    assert!(a.log_rows().iter().all(|l| l.level >= Level::Warn));
    assert!(a.logs.follow);
    c(&mut a, 'k');
    assert!(!a.logs.follow, "scrolling up stops following");
    c(&mut a, 'f');
    assert!(a.logs.follow);
}

#[test]
fn dashboard_panels_grow_and_shrink() {
    let mut a = app(model(0, 0));
    let before = a.weights;
    c(&mut a, '+');
    assert_ne!(a.weights, before);
    c(&mut a, '-');
    c(&mut a, '-');
    assert!(a.weights.iter().all(|w| *w >= 1));
}
