//! One module per panel; each draws into the rectangle it is given.
pub mod chat;
pub mod containers;
pub mod fleet;
pub mod header;
pub mod help;
pub mod jobs;
pub mod logs;
pub mod metrics;
pub mod peers;
pub mod subs;
pub mod system;
pub mod welcome;
pub mod why;
pub mod wizard;

use crate::app::{App, Panel};
use crate::theme::Slot;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Wrap};

/// A panel's frame: rounded when focused, with the title (and an extra note) on top.
pub fn block<'a>(app: &App, panel: Panel, focused: bool, note: String) -> Block<'a> {
    let t = &app.theme;
    let border = if focused {
        t.fg(Slot::BorderFocused)
    } else {
        t.fg(Slot::Border)
    };
    let mut title = vec![Span::styled(
        format!(" {} ", panel.title()),
        t.fg(Slot::Title).add_modifier(Modifier::BOLD),
    )];
    if !note.is_empty() {
        title.push(Span::styled(format!("{note} "), t.fg(Slot::TextDim)));
    }
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(border)
        .title(Line::from(title))
}

/// A dim explanation inside a panel (feature off, nothing yet).
pub fn explain(app: &App, f: &mut ratatui::Frame, area: Rect, block: Block<'_>, text: &str) {
    let t = &app.theme;
    let lines: Vec<Line> = text
        .lines()
        .map(|l| Line::from(Span::styled(l.to_string(), t.fg(Slot::TextDim))))
        .collect();
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// A centred rectangle for overlays.
pub fn centered(area: Rect, w_pct: u16, h_pct: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Percentage(h_pct)])
        .flex(Flex::Center)
        .areas(area);
    let [h] = Layout::horizontal([Constraint::Percentage(w_pct)])
        .flex(Flex::Center)
        .areas(v);
    h
}

/// "12:34:56" (UTC) from unix milliseconds.
pub fn clock(ms: i64) -> String {
    let s = (ms / 1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
}
