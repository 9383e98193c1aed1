//! Logs: the node's tracing events with a level filter, search and follow.
use crate::app::{App, Panel};
use crate::model::Level;
use crate::theme::Slot;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(app: &App, f: &mut Frame, area: Rect, focused: bool) {
    let t = &app.theme;
    let rows = app.log_rows();
    let st = &app.logs;
    let mut note = format!("≥{}", st.min_level.label());
    if st.follow {
        note.push_str(" · following");
    }
    if !st.list.filter.is_empty() {
        note.push_str(&format!(" · '{}'", st.list.filter));
    }
    let block = super::block(app, Panel::Logs, focused, note);
    let height = area.height.saturating_sub(2) as usize;
    let first = st.list.window(height, rows.len());
    let lines: Vec<Line> = rows
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, l)| {
            let lvl = match l.level {
                Level::Error => t.fg(Slot::StatusError),
                Level::Warn => t.fg(Slot::StatusWarn),
                Level::Info => t.fg(Slot::StatusOk),
                _ => t.fg(Slot::TextDim),
            };
            let line = Line::from(vec![
                Span::styled(super::clock(l.ts_ms), t.fg(Slot::TextDim)),
                Span::styled(format!(" {:<5} ", l.level.label()), lvl),
                Span::styled(l.text.clone(), t.fg(Slot::Text)),
            ]);
            if focused && !st.follow && i == st.list.selected {
                line.style(t.selection())
            } else {
                line
            }
        })
        .collect();
    if lines.is_empty() {
        super::explain(app, f, area, block, "No log lines at this level yet.");
        return;
    }
    f.render_widget(Paragraph::new(lines).block(block), area);
}
