//! Subscriptions: id, owner, containers, schedule, redundancy progress, next due, last tx,
//! status and the reason for every skip or failure.
use crate::app::{App, Panel, View};
use crate::fmt;
use crate::model::{ChainView, SubscriptionRow};
use crate::theme::Slot;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

fn status_style(app: &App, s: &SubscriptionRow) -> Style {
    let t = &app.theme;
    match s.status.as_str() {
        "tracked" if s.reason.is_some() => t.fg(Slot::StatusWarn),
        "tracked" => t.fg(Slot::StatusRunning),
        "completed" => t.fg(Slot::StatusOk),
        "ignored" | "expired" | "cancelled" => t.fg(Slot::TextDim),
        _ => t.fg(Slot::StatusError),
    }
}

fn due(app: &App, s: &SubscriptionRow) -> String {
    match s.next_due {
        Some(at) => {
            let now_s = app.model.now_ms / 1000;
            let d = at as i64 - now_s;
            if d > 0 {
                format!("in {}", fmt::age(d * 1000))
            } else {
                "now".into()
            }
        }
        None => "-".into(),
    }
}

pub fn draw(app: &App, f: &mut Frame, area: Rect, focused: bool) {
    let t = &app.theme;
    let c = match &app.model.chain {
        ChainView::Disabled { how } => {
            let block = super::block(app, Panel::Subscriptions, focused, String::new());
            super::explain(app, f, area, block, how);
            return;
        }
        ChainView::Enabled(c) => c,
    };
    let rows = app.sub_rows();
    let note = format!("{} tracked · {} listed", c.tracked, c.subscriptions.len());
    let block = super::block(app, Panel::Subscriptions, focused, note);
    if c.subscriptions.is_empty() {
        let text = format!(
            "No subscriptions seen yet (synced {} of {} on the Coordinator).\nContracts create them with Coordinator.createSubscription; they appear here as the node syncs.",
            c.synced_sub_id, c.head_sub_id
        );
        super::explain(app, f, area, block, &text);
        return;
    }
    let full = app.view == View::Full(Panel::Subscriptions);
    let (table_area, detail_area) = if full && area.height > 14 {
        let [a, b] = Layout::vertical([
            Constraint::Min(6),
            Constraint::Length(if area.height > 30 { 9 } else { 7 }),
        ])
        .areas(area);
        (a, Some(b))
    } else {
        (area, None)
    };
    let wide = area.width >= 110;
    let height = table_area.height.saturating_sub(3) as usize;
    let first = app.subs.window(height, rows.len());
    let body: Vec<Row> = rows
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, s)| {
            let red = match s.responses {
                Some(n) => format!("{n}/{}", s.redundancy),
                None => format!("-/{}", s.redundancy),
            };
            let interval = s.interval.map(|n| format!("#{n}")).unwrap_or_default();
            let mut cells = vec![
                Cell::from(s.id.to_string()),
                Cell::from(Span::styled(s.status.clone(), status_style(app, s))),
                Cell::from(fmt::schedule(s.period, s.frequency)),
                Cell::from(format!("{interval} {red}")),
                Cell::from(due(app, s)),
            ];
            if wide {
                cells.insert(1, Cell::from(fmt::addr(&s.owner)));
                cells.push(Cell::from(s.containers.join(",")));
                cells.push(Cell::from(
                    s.last_tx.as_deref().map(fmt::addr).unwrap_or_default(),
                ));
            }
            cells.push(Cell::from(Span::styled(
                s.reason
                    .clone()
                    .or_else(|| s.last_delivery.clone())
                    .unwrap_or_default(),
                t.fg(Slot::TextDim),
            )));
            let row = Row::new(cells);
            if i == app.subs.selected && focused {
                row.style(t.selection())
            } else {
                row.style(t.fg(Slot::Text))
            }
        })
        .collect();
    let mut header = vec!["id", "status", "schedule", "interval", "due"];
    let mut widths = vec![
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(14),
        Constraint::Length(9),
        Constraint::Length(7),
    ];
    if wide {
        header.insert(1, "owner");
        widths.insert(1, Constraint::Length(12));
        header.extend(["containers", "last tx"]);
        widths.extend([Constraint::Length(14), Constraint::Length(12)]);
    }
    header.push("reason / last delivery");
    widths.push(Constraint::Min(10));
    f.render_widget(
        Table::new(body, widths)
            .header(Row::new(header).style(t.fg(Slot::TextDim)))
            .block(block),
        table_area,
    );
    if let (Some(d), Some(s)) = (detail_area, rows.get(app.subs.selected)) {
        let mut lines = vec![
            Line::from(vec![
                Span::styled(format!("subscription {} ", s.id), t.fg(Slot::Title)),
                Span::styled(
                    format!(
                        "owner {} · containers {} · redundancy {}{}{}",
                        s.owner,
                        s.containers.join(","),
                        s.redundancy,
                        if s.lazy { " · lazy" } else { "" },
                        s.payment
                            .as_ref()
                            .map(|p| format!(" · pays {p}"))
                            .unwrap_or_default()
                    ),
                    t.fg(Slot::Text),
                ),
            ]),
            Line::from(Span::styled(
                format!("reason: {}", s.reason.as_deref().unwrap_or("-")),
                status_style(app, s),
            )),
            Line::from(Span::styled(
                format!(
                    "last delivery: {}",
                    s.last_delivery.as_deref().unwrap_or("-")
                ),
                t.fg(Slot::Text),
            )),
            Line::from(Span::styled(
                format!("last tx: {}", s.last_tx.as_deref().unwrap_or("-")),
                t.fg(Slot::Text),
            )),
        ];
        if let Some(p) = &s.proof {
            lines.push(Line::from(Span::styled(
                format!("proof: {p}"),
                t.fg(Slot::Text),
            )));
        }
        let block = super::block(app, Panel::Subscriptions, false, "selected".into());
        f.render_widget(
            Paragraph::new(lines).block(block).wrap(Wrap { trim: true }),
            d,
        );
    }
}
