//! Help overlay, generated from the keymap (so rebinding a key changes it here too).
use crate::app::App;
use crate::keymap::Scope;
use crate::theme::Slot;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};

pub fn draw(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let rect = super::centered(area, 80, 90);
    f.render_widget(Clear, rect);
    let mut lines: Vec<Line> = Vec::new();
    let scopes = [
        Scope::Global,
        Scope::List,
        Scope::Jobs,
        Scope::Containers,
        Scope::Logs,
        Scope::Chat,
    ];
    for s in scopes {
        let bs: Vec<_> = app
            .keymap
            .bindings
            .iter()
            .filter(|b| b.scope == s)
            .collect();
        if bs.is_empty() {
            continue;
        }
        lines.push(Line::from(Span::styled(
            s.label().to_string(),
            t.fg(Slot::Title),
        )));
        let mut row: Vec<Span> = Vec::new();
        for b in bs {
            let keys: Vec<String> = b.keys.iter().map(|k| k.label()).collect();
            row.push(Span::styled(
                format!("  {:<9}", keys.join("/")),
                t.fg(Slot::KeyHint),
            ));
            row.push(Span::styled(
                format!("{:<22}", b.description),
                t.fg(Slot::Text),
            ));
            if row.len() >= 6 {
                lines.push(Line::from(std::mem::take(&mut row)));
            }
        }
        if !row.is_empty() {
            lines.push(Line::from(row));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Mouse: click a panel or row, wheel scrolls. Keys are configurable in config.json under ui.keys (action = [keys]). Any key closes this.",
        t.fg(Slot::TextDim),
    )));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Thick)
        .border_style(t.fg(Slot::BorderFocused))
        .title(Span::styled(" Help ", t.fg(Slot::Title)));
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(ratatui::widgets::Wrap { trim: false }),
        rect,
    );
}
