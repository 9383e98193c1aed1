//! Chat pane: the conversation (newest at the bottom, scrollable), the chat list on wide
//! screens, and a multi-line input.
use crate::app::App;
use crate::chat::{ChatState, Role};
use crate::theme::Slot;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};

/// Wraps text to `width` columns on word boundaries (hard-cuts longer words).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for raw in text.split('\n') {
        let mut line = String::new();
        let mut len = 0;
        for word in raw.split(' ') {
            let wl = word.chars().count();
            if len > 0 && len + 1 + wl > width {
                out.push(std::mem::take(&mut line));
                len = 0;
            }
            if len > 0 {
                line.push(' ');
                len += 1;
            }
            let mut chars = word.chars().peekable();
            while chars.peek().is_some() {
                if len == width {
                    out.push(std::mem::take(&mut line));
                    len = 0;
                }
                if let Some(c) = chars.next() {
                    line.push(c);
                    len += 1;
                }
            }
        }
        out.push(line);
    }
    out
}

fn conversation<'a>(app: &App, chat: &ChatState, width: usize) -> Vec<Line<'a>> {
    let t = &app.theme;
    let c = chat.chat();
    let mut lines: Vec<Line> = Vec::new();
    if c.turns.is_empty() {
        for l in wrap(
            &format!(
                "Talk to the node's models. Backend: {} · model: {}.\n{}",
                c.backend
                    .as_deref()
                    .unwrap_or("first configured or detected"),
                c.model.as_deref().unwrap_or("its default"),
                ChatState::help_text()
            ),
            width,
        ) {
            lines.push(Line::from(Span::styled(l, t.fg(Slot::TextDim))));
        }
    }
    for turn in &c.turns {
        let (who, style) = match turn.role {
            Role::User => ("you", t.fg(Slot::ChatUser)),
            Role::Assistant => ("model", t.fg(Slot::ChatAssistant)),
            Role::Info => ("·", t.fg(Slot::TextDim)),
            Role::Error => ("error", t.fg(Slot::StatusError)),
        };
        let mut head = vec![Span::styled(
            who.to_string(),
            style.add_modifier(Modifier::BOLD),
        )];
        if let Some(m) = &turn.meta {
            head.push(Span::styled(format!("  {m}"), t.fg(Slot::TextDim)));
        }
        if let Some(d) = &turn.done {
            head.push(Span::styled(format!("  {d}"), t.fg(Slot::TextDim)));
        }
        lines.push(Line::from(head));
        let generating =
            turn.role == Role::Assistant && turn.done.is_none() && c.generating.is_some();
        let mut text = turn.text.clone();
        if generating {
            text.push('▍');
        }
        for l in wrap(&text, width.saturating_sub(2)) {
            lines.push(Line::from(Span::styled(format!("  {l}"), style)));
        }
        lines.push(Line::from(""));
    }
    lines
}

pub fn draw(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let chat = &app.chat;
    let (list_area, main) = if area.width >= 100 && chat.chats.len() > 1 {
        let [a, b] = Layout::horizontal([Constraint::Length(24), Constraint::Min(40)]).areas(area);
        (Some(a), b)
    } else {
        (None, area)
    };
    if let Some(la) = list_area {
        let lines: Vec<Line> = chat
            .chats
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let s = crate::fmt::short(&c.title(), 22);
                if i == chat.current {
                    Line::from(Span::styled(s, t.selection()))
                } else {
                    Line::from(Span::styled(s, t.fg(Slot::Text)))
                }
            })
            .collect();
        let b = Block::default()
            .borders(Borders::ALL)
            .border_style(t.fg(Slot::Border))
            .title(" chats ");
        f.render_widget(Paragraph::new(lines).block(b), la);
    }
    let input_lines = chat.input.text.split('\n').count().clamp(1, 6) as u16;
    let [conv_area, input_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(input_lines + 2)]).areas(main);
    let c = chat.chat();
    let mut note = format!(
        "#{} · {} · {}",
        c.id,
        c.backend.as_deref().unwrap_or("default backend"),
        c.model.as_deref().unwrap_or("default model")
    );
    if c.system.is_some() {
        note.push_str(" · system prompt set");
    }
    if c.generating.is_some() {
        note.push_str(" · generating (Esc stops)");
    }
    let block = super::block(app, crate::app::Panel::Chat, !chat.input_focused, note);
    let inner = block.inner(conv_area);
    let lines = conversation(app, chat, inner.width as usize);
    let h = inner.height as usize;
    let max_scroll = lines.len().saturating_sub(h);
    let from_bottom = (c.scroll as usize).min(max_scroll);
    let top = max_scroll - from_bottom;
    f.render_widget(
        Paragraph::new(lines).block(block).scroll((top as u16, 0)),
        conv_area,
    );
    let focused = chat.input_focused;
    let border = if focused {
        t.fg(Slot::BorderFocused)
    } else {
        t.fg(Slot::Border)
    };
    let mut text = chat.input.text.clone();
    if focused {
        let b = text
            .char_indices()
            .nth(chat.input.cursor)
            .map(|(b, _)| b)
            .unwrap_or(text.len());
        text.insert(b, '█');
    }
    let shown: Vec<Line> = text
        .split('\n')
        .map(|l| {
            Line::from(Span::styled(
                l.to_string(),
                Style::default().fg(t.color(Slot::Text)),
            ))
        })
        .collect();
    let skip = shown.len().saturating_sub(6);
    let ib = Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(border)
        .title(if focused {
            " message · Enter sends · Alt-Enter new line "
        } else {
            " message · i to type "
        });
    f.render_widget(
        Paragraph::new(shown).block(ib).scroll((skip as u16, 0)),
        input_area,
    );
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_on_words_and_cuts_long_ones() {
        assert_eq!(wrap("hello big world", 9), ["hello big", "world"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("a\nb", 10), ["a", "b"]);
    }
}
