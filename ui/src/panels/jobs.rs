//! Jobs: a live table (newest first) with filter; Enter opens a job's input, intermediate
//! results and output. Streaming jobs show the bytes received so far.
use crate::app::{App, Panel};
use crate::fmt;
use crate::model::{JobRow, JobState};
use crate::theme::{Slot, Theme};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};

pub fn state_style(t: &Theme, s: JobState) -> Style {
    t.fg(match s {
        JobState::Running => Slot::StatusRunning,
        JobState::Success => Slot::StatusOk,
        JobState::Failed => Slot::StatusError,
    })
}

fn progress(app: &App, j: &JobRow) -> String {
    match (j.finished_ms, j.streamed_bytes) {
        (Some(end), _) => fmt::duration(end - j.created_ms),
        (None, Some(b)) => format!("{} ↓", fmt::bytes(b)),
        (None, None) => format!("{}…", fmt::duration(app.model.now_ms - j.created_ms)),
    }
}

pub fn draw(app: &App, f: &mut Frame, area: Rect, focused: bool) {
    let t = &app.theme;
    let rows = app.job_rows();
    let total = app.model.jobs.rows.len();
    let mut note = if rows.len() == total {
        format!("{total} recent")
    } else {
        format!("{} of {total} · filter '{}'", rows.len(), app.jobs.filter)
    };
    if total == 0 {
        note.clear();
    }
    let block = super::block(app, Panel::Jobs, focused, note);
    if total == 0 {
        // The example names something this node serves: an LLM backend, else a container.
        let m = &app.model;
        let (target, data) = match (m.backends.rows.first(), m.containers.first()) {
            (Some(b), _) => (b.id.as_str(), "{\"prompt\":\"hi\"}"),
            (None, Some(c)) => (c.id.as_str(), "{}"),
            (None, None) => ("<id>", "{}"),
        };
        let text = format!(
            "No jobs yet. Send one:\n  curl -s -XPOST http://{}/api/jobs -H 'content-type: application/json' \\\n    -d '{{\"containers\":[\"{target}\"],\"data\":{data}}}'\nOn-chain subscriptions appear under Subscriptions (3).",
            // A wildcard bind is reached on loopback from this machine.
            m.header
                .rest_addr
                .replace("0.0.0.0:", "127.0.0.1:")
                .replace("[::]:", "[::1]:")
        );
        super::explain(app, f, area, block, &text);
        return;
    }
    let height = area.height.saturating_sub(3) as usize;
    let first = app.jobs.window(height, rows.len());
    let wide = area.width >= 100;
    let body: Vec<Row> = rows
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, j)| {
            let mut cells = vec![
                Cell::from(fmt::short(&j.id, if wide { 36 } else { 8 })),
                Cell::from(Span::styled(j.state.label(), state_style(t, j.state))),
                Cell::from(fmt::age(app.model.now_ms - j.created_ms)),
                Cell::from(progress(app, j)),
            ];
            if wide {
                cells.insert(1, Cell::from(j.source.clone()));
            }
            let mut containers = j.containers.join(" → ");
            if let Some(e) = &j.error {
                containers = format!("{containers}  {e}");
            }
            cells.push(Cell::from(containers));
            let row = Row::new(cells);
            if i == app.jobs.selected && focused {
                row.style(t.selection())
            } else {
                row.style(t.fg(Slot::Text))
            }
        })
        .collect();
    let mut header = vec!["id", "status", "age", "time"];
    let mut widths = vec![
        Constraint::Length(if wide { 36 } else { 8 }),
        Constraint::Length(7),
        Constraint::Length(4),
        Constraint::Length(10),
    ];
    if wide {
        header.insert(1, "source");
        widths.insert(1, Constraint::Length(6));
    }
    header.push("containers");
    widths.push(Constraint::Min(10));
    let table = Table::new(body, widths)
        .header(Row::new(header).style(t.fg(Slot::TextDim)))
        .block(block);
    f.render_widget(table, area);
}
