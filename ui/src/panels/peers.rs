//! Peers: this node's control-plane link (state, heartbeats, jobs) and the nodes registered
//! there, or how to join one; below it, with p2p on, this node in the c0mpute swarm and the
//! peers it hears from (models, GPU class, last ad, bids won and lost).
use crate::app::{App, Panel};
use crate::fmt;
use crate::model::{ControlView, PeersView, SwarmView};
use crate::theme::Slot;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

pub fn draw(app: &App, f: &mut Frame, area: Rect, focused: bool) {
    let Some(sw) = &app.model.swarm else {
        return control(app, f, area, focused);
    };
    // The control plane above (its explanation is short when there is none), the swarm below.
    let top = match &app.model.peers {
        PeersView::NotConfigured { .. } => 6,
        PeersView::Connected(c) => (c.peers.len() as u16 + 5).min(area.height / 2),
    };
    let [cp, swarm_area] =
        Layout::vertical([Constraint::Length(top), Constraint::Min(4)]).areas(area);
    control(app, f, cp, focused);
    swarm(app, f, swarm_area, sw);
}

fn control(app: &App, f: &mut Frame, area: Rect, focused: bool) {
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

fn swarm(app: &App, f: &mut Frame, area: Rect, sw: &SwarmView) {
    let t = &app.theme;
    let block = ratatui::widgets::Block::default()
        .borders(ratatui::widgets::Borders::ALL)
        .border_style(t.fg(Slot::Border))
        .title(Line::from(vec![
            Span::styled(" c0mpute swarm ", t.fg(Slot::Title)),
            Span::styled(
                format!("{} connected · {} peers ", sw.connected, sw.peers.len()),
                t.fg(Slot::TextDim),
            ),
        ]));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [summary, table] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(inner);
    let line1 = Line::from(vec![
        Span::styled(fmt::short(&sw.peer_id, 24), t.fg(Slot::Text)),
        Span::styled(
            format!(
                " · ads {} sent {} heard · bids {} sent, {} won · receipts {} verified",
                sw.ads_sent, sw.ads_taken, sw.bids_sent, sw.jobs_won, sw.receipts_verified
            ),
            t.fg(Slot::TextDim),
        ),
    ]);
    let line2 = match (&sw.last_refusal, sw.refused + sw.receipts_failed) {
        (Some(why), n) if n > 0 => Line::from(Span::styled(
            format!("{n} refused, last: {why}"),
            t.fg(Slot::StatusError),
        )),
        _ => Line::from(Span::styled(
            sw.listen
                .first()
                .cloned()
                .unwrap_or_else(|| "not listening yet".into()),
            t.fg(Slot::TextDim),
        )),
    };
    f.render_widget(Paragraph::new(vec![line1, line2]), summary);
    let height = table.height.saturating_sub(1) as usize;
    let rows: Vec<Row> = sw
        .peers
        .iter()
        .take(height)
        .map(|p| {
            Row::new(vec![
                Cell::from(fmt::short(&p.peer_id, 18)),
                Cell::from(p.gpu.clone().unwrap_or_else(|| "-".into())),
                Cell::from(fmt::age(app.model.now_ms - p.last_ad_ms)),
                Cell::from(format!("{}/{}", p.bids_won, p.bids_lost)),
                Cell::from(p.models.join(", ")),
            ])
            .style(t.fg(Slot::Text))
        })
        .collect();
    let widths = [
        Constraint::Length(18),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Min(10),
    ];
    f.render_widget(
        Table::new(rows, widths).header(
            Row::new(vec!["peer", "gpu", "ad", "bids", "models"]).style(t.fg(Slot::TextDim)),
        ),
        table,
    );
}
