//! Fleet: every box of `infernet tui --host …` with its link (up, connecting, reconnecting),
//! jobs, GPU use, tokens/s, chain and control-plane state and the last error. Enter shows that
//! box's dashboard; the marked row is the box on screen.
use crate::app::{App, Panel};
use crate::fmt;
use crate::model::{BoxState, FleetRow};
use crate::theme::Slot;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

fn state_slot(s: BoxState) -> Slot {
    match s {
        BoxState::Up => Slot::StatusOk,
        BoxState::Connecting => Slot::StatusRunning,
        BoxState::Reconnecting => Slot::StatusError,
    }
}

pub fn draw(app: &App, f: &mut Frame, area: Rect, focused: bool) {
    let t = &app.theme;
    let rows = &app.model.fleet;
    let up = rows.iter().filter(|r| r.state == BoxState::Up).count();
    let block = super::block(
        app,
        Panel::Fleet,
        focused,
        format!("{up}/{} up", rows.len()),
    );
    let inner = block.inner(area);
    f.render_widget(block, area);
    if rows.is_empty() {
        f.render_widget(
            Paragraph::new(Span::styled(
                "No boxes: start with infernet tui --host [user@]box (repeatable), or list them in ui.fleet and use --fleet.",
                t.fg(Slot::TextDim),
            ))
            .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    // The selected box's last error gets its own lines under the table.
    let [table, why] = Layout::vertical([Constraint::Min(2), Constraint::Length(2)]).areas(inner);
    let narrow = inner.width < 100;
    let height = table.height.saturating_sub(1) as usize;
    let first = app.fleet.window(height, rows.len());
    let body: Vec<Row> = rows
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, r)| {
            let mark = if r.selected { "▶ " } else { "  " };
            let mut cells = vec![
                Cell::from(format!("{mark}{}", label(rows, r))),
                Cell::from(Span::styled(r.state.label(), t.fg(state_slot(r.state)))),
                Cell::from(format!(
                    "{}▶ {}✓ {}✗",
                    r.jobs_running, r.jobs_succeeded, r.jobs_failed
                )),
                Cell::from(
                    r.gpu_util
                        .map(|g| format!("{g:.0}%"))
                        .unwrap_or_else(|| "–".into()),
                ),
                Cell::from(
                    r.tokens_s
                        .map(|v| format!("{v:.1}"))
                        .unwrap_or_else(|| "–".into()),
                ),
            ];
            if !narrow {
                cells.push(Cell::from(fmt::short(&r.chain, 20)));
                cells.push(Cell::from(fmt::short(&r.control, 14)));
                cells.push(Cell::from(
                    r.seen_ms
                        .map(|s| fmt::age(app.model.now_ms.max(s) - s))
                        .unwrap_or_else(|| "never".into()),
                ));
                // A box that is up again keeps its last error, dimmed: it is history.
                let slot = if r.state == BoxState::Up {
                    Slot::TextDim
                } else {
                    Slot::StatusError
                };
                cells.push(Cell::from(Span::styled(
                    r.last_error.clone().unwrap_or_default(),
                    t.fg(slot),
                )));
            }
            let row = Row::new(cells);
            if i == app.fleet.selected && focused {
                row.style(t.selection())
            } else {
                row.style(t.fg(Slot::Text))
            }
        })
        .collect();
    let mut widths = vec![
        if narrow {
            Constraint::Min(16)
        } else {
            Constraint::Length(24)
        },
        Constraint::Length(12),
        Constraint::Length(14),
        Constraint::Length(5),
        Constraint::Length(8),
    ];
    let mut head = vec!["box", "link", "jobs", "GPU", "tok/s"];
    if !narrow {
        widths.extend([
            Constraint::Length(20),
            Constraint::Length(10),
            Constraint::Length(6),
            Constraint::Min(10),
        ]);
        head.extend(["chain", "control", "seen", "last error"]);
    }
    f.render_widget(
        Table::new(body, widths).header(Row::new(head).style(t.fg(Slot::TextDim))),
        table,
    );
    f.render_widget(
        Paragraph::new(reason(app, rows.get(app.fleet.selected))).wrap(Wrap { trim: true }),
        why,
    );
}

/// A row's box as shown: the host without the socket path (unless two rows share the host),
/// with the node's name once known.
fn label(rows: &[FleetRow], r: &FleetRow) -> String {
    let host = |n: &str| n.split_once(':').map_or(n, |(h, _)| h).to_string();
    let mine = host(&r.name);
    let shared = rows.iter().filter(|o| host(&o.name) == mine).count() > 1;
    let shown = if shared { r.name.clone() } else { mine };
    if r.node_name.is_empty() {
        shown
    } else {
        format!("{shown} · {}", r.node_name)
    }
}

fn reason<'a>(app: &App, r: Option<&'a FleetRow>) -> Line<'a> {
    let t = &app.theme;
    match r {
        Some(FleetRow {
            name,
            last_error: Some(e),
            ..
        }) => Line::from(vec![
            Span::styled(format!("{name}: "), t.fg(Slot::TextDim)),
            Span::styled(e.clone(), t.fg(Slot::StatusError)),
        ]),
        Some(r) => Line::from(Span::styled(
            format!(
                "{}: {} {} · Enter shows its dashboard",
                r.name,
                if r.node_name.is_empty() {
                    "–"
                } else {
                    r.node_name.as_str()
                },
                r.version
            ),
            t.fg(Slot::TextDim),
        )),
        None => Line::default(),
    }
}
