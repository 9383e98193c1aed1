//! Peers: this node's control-plane link (state, heartbeats, jobs) and the nodes registered
//! there, or how to join one.
use crate::app::{App, Panel};
use crate::fmt;
use crate::model::{ControlView, PeersView};
use crate::theme::Slot;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

pub fn draw(app: &App, f: &mut Frame, area: Rect, focused: bool) {
    match &app.model.peers {
        PeersView::NotConfigured { how } => {
            let block = super::block(app, Panel::Peers, focused, String::new());
            super::explain(app, f, area, block, how);
        }
        PeersView::Connected(c) => connected(app, f, area, focused, c),
    }
}

/// The state word's colour.
pub fn state_slot(state: &str) -> Slot {
    match state {
        "online" => Slot::StatusOk,
        "connecting" | "stopped" => Slot::StatusRunning,
        _ => Slot::StatusError,
    }
}

fn connected(app: &App, f: &mut Frame, area: Rect, focused: bool, c: &ControlView) {
    let t = &app.theme;
    let block = super::block(
        app,
        Panel::Peers,
        focused,
        format!("{} · {} nodes", c.state, c.peers.len()),
    );
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [summary, table] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(inner);
    let beat = c
        .last_heartbeat_ms
        .map(|ms| format!("last contact {} ago", fmt::age(app.model.now_ms - ms)))
        .unwrap_or_else(|| "no heartbeat yet".into());
    let mut line1 = vec![
        Span::styled(c.state.clone(), t.fg(state_slot(&c.state))),
        Span::styled(format!(" {} ", c.url), t.fg(Slot::Text)),
        Span::styled(
            format!(
                "{beat} · {} · jobs {} active {} done {} failed",
                if c.heartbeats_ok + c.heartbeats_failed == 0 {
                    "registered, no heartbeat due yet".to_string()
                } else {
                    format!(
                        "{}/{} beats ok",
                        c.heartbeats_ok,
                        c.heartbeats_ok + c.heartbeats_failed
                    )
                },
                c.jobs_active,
                c.jobs_completed,
                c.jobs_failed
            ),
            t.fg(Slot::TextDim),
        ),
    ];
    if c.heartbeats_failed > 0 {
        line1.push(Span::styled(
            format!(" · {} beats failed", c.heartbeats_failed),
            t.fg(Slot::StatusError),
        ));
    }
    let line2 = match &c.last_error {
        Some(e) => Line::from(Span::styled(e.clone(), t.fg(Slot::StatusError))),
        None => Line::from(Span::styled(
            format!(
                "{} serving: {}",
                c.node_id,
                if c.served_models.is_empty() {
                    "no models (no backend answered)".to_string()
                } else {
                    c.served_models.join(", ")
                }
            ),
            t.fg(Slot::TextDim),
        )),
    };
    f.render_widget(Paragraph::new(vec![Line::from(line1), line2]), summary);
    let height = table.height.saturating_sub(1) as usize;
    let first = app.peers.window(height, c.peers.len());
    let rows: Vec<Row> = c
        .peers
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, p)| {
            let name = if p.me {
                format!("{} (this node)", p.name)
            } else {
                p.name.clone()
            };
            let r = Row::new(vec![
                Cell::from(fmt::short(&p.id, 18)),
                Cell::from(name),
                Cell::from(p.status.clone()),
                Cell::from(fmt::age(app.model.now_ms - p.last_seen_ms)),
                Cell::from(p.active_jobs.to_string()),
                Cell::from(p.models.join(", ")),
            ]);
            if i == app.peers.selected && focused {
                r.style(t.selection())
            } else {
                r.style(t.fg(Slot::Text))
            }
        })
        .collect();
    let widths = [
        Constraint::Length(18),
        Constraint::Length(22),
        Constraint::Length(9),
        Constraint::Length(5),
        Constraint::Length(4),
        Constraint::Min(10),
    ];
    f.render_widget(
        Table::new(rows, widths).header(
            Row::new(vec!["node", "name", "status", "seen", "jobs", "models"])
                .style(t.fg(Slot::TextDim)),
        ),
        table,
    );
}
