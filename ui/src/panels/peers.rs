//! Peers: nodes known to the control plane, or how to configure one.
use crate::app::{App, Panel};
use crate::fmt;
use crate::model::PeersView;
use crate::theme::Slot;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Table};

pub fn draw(app: &App, f: &mut Frame, area: Rect, focused: bool) {
    let t = &app.theme;
    match &app.model.peers {
        PeersView::NotConfigured { how } => {
            let block = super::block(app, Panel::Peers, focused, String::new());
            super::explain(app, f, area, block, how);
        }
        PeersView::Peers(peers) => {
            let block = super::block(app, Panel::Peers, focused, format!("{} nodes", peers.len()));
            let height = area.height.saturating_sub(3) as usize;
            let first = app.peers.window(height, peers.len());
            let rows: Vec<Row> = peers
                .iter()
                .enumerate()
                .skip(first)
                .take(height)
                .map(|(i, p)| {
                    let r = Row::new(vec![
                        Cell::from(fmt::short(&p.id, 12)),
                        Cell::from(p.name.clone()),
                        Cell::from(p.status.clone()),
                        Cell::from(fmt::age(app.model.now_ms - p.last_seen_ms)),
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
                Constraint::Length(12),
                Constraint::Length(16),
                Constraint::Length(9),
                Constraint::Length(5),
                Constraint::Min(10),
            ];
            f.render_widget(
                Table::new(rows, widths)
                    .header(
                        Row::new(vec!["id", "name", "status", "seen", "models"])
                            .style(t.fg(Slot::TextDim)),
                    )
                    .block(block),
                area,
            );
        }
    }
}
