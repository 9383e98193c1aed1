//! Containers & backends: state, image, port, health, restarts; backends with their models.
//! Actions: restart a managed container, pull a backend's model.
use crate::app::{App, Panel, View};
use crate::fmt;
use crate::model::{BackendRow, ContainerRow, ModelRow};
use crate::theme::Slot;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Wrap};

fn state_style(app: &App, s: &str) -> Style {
    let t = &app.theme;
    match s {
        "ready" => t.fg(Slot::StatusOk),
        "starting" | "checking" | "pulling" => t.fg(Slot::StatusRunning),
        "stopped" => t.fg(Slot::TextDim),
        _ => t.fg(Slot::StatusError),
    }
}

pub fn draw(app: &App, f: &mut Frame, area: Rect, focused: bool) {
    let m = &app.model;
    let note = format!(
        "{} containers · {} backends",
        m.containers.len(),
        m.backends.rows.len()
    );
    let block = super::block(app, Panel::Containers, focused, note);
    if m.containers.is_empty() && m.backends.rows.is_empty() {
        draw_empty(app, f, area, block);
        return;
    }
    let full = app.view == View::Full(Panel::Containers);
    // The full view keeps room under the table for the selected row's detail.
    let (table_area, detail_area) = if full && area.height > 12 {
        let [a, b] = Layout::vertical([Constraint::Min(6), Constraint::Length(8)]).areas(area);
        (a, Some(b))
    } else {
        (area, None)
    };
    draw_table(app, f, table_area, block, focused);
    if let Some(d) = detail_area {
        draw_detail(app, f, d);
    }
}

/// Nothing configured: say how to add containers and backends.
fn draw_empty(app: &App, f: &mut Frame, area: Rect, block: Block<'_>) {
    let mut text = String::from(
        "No workflow containers or LLM backends configured.\nAdd containers under \"containers\" and backends under \"backends\" in config.json (see config.sample.json), or run the wizard: infernet tui --setup.",
    );
    if let Some(n) = &app.model.backends.note {
        text.push('\n');
        text.push_str(n);
    }
    super::explain(app, f, area, block, &text);
}

/// Containers, then backends, one row each, scrolled to keep the selection in view.
fn draw_table(app: &App, f: &mut Frame, area: Rect, block: Block<'_>, focused: bool) {
    let t = &app.theme;
    let rows = all_rows(app);
    let height = area.height.saturating_sub(3) as usize;
    let first = app.containers.window(height, rows.len());
    let rows: Vec<Row> = rows
        .into_iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, r)| {
            if i == app.containers.selected && focused {
                r.style(t.selection())
            } else {
                r.style(t.fg(Slot::Text))
            }
        })
        .collect();
    let widths = [
        Constraint::Length(14),
        Constraint::Length(11),
        Constraint::Percentage(40),
        Constraint::Length(5),
        Constraint::Min(8),
    ];
    f.render_widget(
        Table::new(rows, widths)
            .header(
                Row::new(vec!["id", "state", "image / backend", "", "detail"])
                    .style(t.fg(Slot::TextDim)),
            )
            .block(block),
        area,
    );
}

fn all_rows<'a>(app: &App) -> Vec<Row<'a>> {
    let m = &app.model;
    let containers = m.containers.iter().map(|c| container_row(app, c));
    let backends = m.backends.rows.iter().map(|b| backend_row(app, b));
    containers.chain(backends).collect()
}

fn container_row<'a>(app: &App, c: &ContainerRow) -> Row<'a> {
    let what = if c.managed {
        format!("{} :{}", c.image, c.port)
    } else {
        format!("external :{}", c.port)
    };
    Row::new(vec![
        Cell::from(c.id.clone()),
        Cell::from(Span::styled(c.state.clone(), state_style(app, &c.state))),
        Cell::from(what),
        Cell::from(if c.restarts > 0 {
            format!("↻{}", c.restarts)
        } else {
            String::new()
        }),
        Cell::from(Span::styled(
            c.reason.clone().unwrap_or_default(),
            app.theme.fg(Slot::TextDim),
        )),
    ])
}

fn backend_row<'a>(app: &App, b: &BackendRow) -> Row<'a> {
    let models = match (&b.default_model, b.models.len()) {
        (Some(d), n) => format!("{d} ({n} served)"),
        (None, n) => format!("{n} models"),
    };
    Row::new(vec![
        Cell::from(b.id.clone()),
        Cell::from(Span::styled(b.state.clone(), state_style(app, &b.state))),
        Cell::from(format!("{} {}", b.kind, b.url)),
        Cell::from(if b.configured { "" } else { "found" }),
        Cell::from(Span::styled(
            b.error.clone().unwrap_or(models),
            app.theme.fg(Slot::TextDim),
        )),
    ])
}

/// The selected row in full: a container's description and state, or a backend's models.
fn draw_detail(app: &App, f: &mut Frame, area: Rect) {
    let m = &app.model;
    let sel = app.containers.selected;
    let lines = if let Some(c) = m.containers.get(sel) {
        container_detail(app, c)
    } else if let Some(b) = m.backends.rows.get(sel - m.containers.len().min(sel)) {
        backend_detail(app, b)
    } else {
        Vec::new()
    };
    let block = super::block(app, Panel::Containers, false, "selected".into());
    f.render_widget(
        Paragraph::new(lines).block(block).wrap(Wrap { trim: true }),
        area,
    );
}

fn container_detail<'a>(app: &App, c: &ContainerRow) -> Vec<Line<'a>> {
    let t = &app.theme;
    let mut lines = vec![Line::from(Span::styled(
        format!("container {} · {}", c.id, c.image),
        t.fg(Slot::Title),
    ))];
    if let Some(desc) = &c.description {
        lines.push(Line::from(Span::styled(desc.clone(), t.fg(Slot::Text))));
    }
    lines.push(Line::from(Span::styled(
        format!(
            "state {} · restarts {} · {}",
            c.state,
            c.restarts,
            if c.managed {
                "managed by this node (r restarts it)"
            } else {
                "not managed by this node"
            }
        ),
        t.fg(Slot::Text),
    )));
    if let Some(r) = &c.reason {
        lines.push(Line::from(Span::styled(
            r.clone(),
            state_style(app, &c.state),
        )));
    }
    lines
}

fn backend_detail<'a>(app: &App, b: &BackendRow) -> Vec<Line<'a>> {
    let t = &app.theme;
    let mut lines = vec![Line::from(Span::styled(
        format!("backend {} · {} at {}", b.id, b.kind, b.url),
        t.fg(Slot::Title),
    ))];
    if let Some(e) = &b.error {
        lines.push(Line::from(Span::styled(e.clone(), t.fg(Slot::StatusError))));
    }
    lines.extend(b.models.iter().map(|mo| model_line(app, b, mo)));
    lines
}

/// One served model: name (and whether it is the default), size, whether it fits this box.
fn model_line<'a>(app: &App, b: &BackendRow, mo: &ModelRow) -> Line<'a> {
    let t = &app.theme;
    let fit = match mo.fits {
        Some(true) => Span::styled(" fits", t.fg(Slot::StatusOk)),
        Some(false) => Span::styled(" too big for this box", t.fg(Slot::StatusWarn)),
        None => Span::raw(""),
    };
    let default = if b.default_model.as_deref() == Some(mo.name.as_str()) {
        " (default)"
    } else {
        ""
    };
    Line::from(vec![
        Span::styled(format!("  {}{default}", mo.name), t.fg(Slot::Text)),
        Span::styled(
            mo.size
                .map(|s| format!("  {}", fmt::bytes(s)))
                .unwrap_or_default(),
            t.fg(Slot::TextDim),
        ),
        fit,
    ])
}
