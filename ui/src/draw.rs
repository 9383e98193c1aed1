//! `draw`: renders the app from its state and model. Pure: it reads `App`, writes the frame.
use crate::app::{App, Panel, View};
use crate::keymap::Action;
use crate::model::Level;
use crate::panels;
use crate::theme::Slot;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

pub fn draw(app: &App, f: &mut Frame) {
    let area = f.area();
    let bg = Block::default().style(Style::default().bg(app.theme.color(Slot::Background)));
    f.render_widget(bg, area);
    if let Some(w) = &app.wizard {
        panels::wizard::draw(app, w, f, area);
        return;
    }
    let areas = app.areas(area);
    panels::header::draw(app, f, areas.header);
    tabs(app, f, areas.tabs);
    for (panel, rect) in &areas.panels {
        let focused = app.active() == *panel;
        match panel {
            Panel::System => panels::system::draw(app, f, *rect, focused),
            Panel::Containers => panels::containers::draw(app, f, *rect, focused),
            Panel::Jobs => panels::jobs::draw(app, f, *rect, focused),
            Panel::Subscriptions => panels::subs::draw(app, f, *rect, focused),
            Panel::Peers => panels::peers::draw(app, f, *rect, focused),
            Panel::Logs => panels::logs::draw(app, f, *rect, focused),
            Panel::Chat => panels::chat::draw(app, f, *rect),
            Panel::Metrics => panels::metrics::draw(app, f, *rect, focused),
            Panel::Fleet => panels::fleet::draw(app, f, *rect, focused),
        }
    }
    footer(app, f, areas.footer);
    if app.detail.is_some() {
        panels::why::draw(app, f, area);
    }
    if app.welcome == Some(true) {
        panels::welcome::draw(app, f, area);
    }
    if app.help {
        panels::help::draw(app, f, area);
    }
}

fn tabs(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let mut spans = vec![Span::raw(" ")];
    for (view, label) in app.tab_labels() {
        let selected = view == app.view;
        let style = if selected {
            t.selection().add_modifier(Modifier::BOLD)
        } else {
            t.fg(Slot::TextDim)
        };
        spans.push(Span::styled(format!(" {label} "), style));
        spans.push(Span::styled("│", t.fg(Slot::Border)));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn footer(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    if let Some(input) = &app.filter {
        let line = Line::from(vec![
            Span::styled(" filter: ", t.fg(Slot::KeyHint)),
            Span::styled(format!("{}█", input.text), t.fg(Slot::Text)),
            Span::styled("  Enter keep · Esc clear", t.fg(Slot::TextDim)),
        ]);
        f.render_widget(Paragraph::new(line), area);
        return;
    }
    if let Some((level, text)) = &app.notice {
        let slot = match level {
            Level::Error => Slot::StatusError,
            Level::Warn => Slot::StatusWarn,
            _ => Slot::StatusOk,
        };
        let line = Line::from(vec![Span::styled(format!(" {text}"), t.fg(slot))]);
        f.render_widget(Paragraph::new(line), area);
        return;
    }
    let active = app.active();
    let mut actions: Vec<Action> = vec![Action::Help, Action::Quit, Action::NextPanel];
    let chat_typing = active == Panel::Chat && app.chat.input_focused;
    if chat_typing {
        let line = Line::from(vec![Span::styled(
            " Enter send · Alt-Enter new line · Esc stop/leave input · Tab panels · /help commands",
            t.fg(Slot::TextDim),
        )]);
        f.render_widget(Paragraph::new(line), area);
        return;
    }
    match active {
        Panel::Jobs => actions.extend([Action::Open, Action::Filter]),
        Panel::Subscriptions => actions.push(Action::Filter),
        Panel::Containers => actions.extend([Action::Restart, Action::Pull]),
        Panel::Logs => actions.extend([Action::Level, Action::Follow, Action::Filter]),
        Panel::Chat => actions.extend([Action::Focus, Action::NewChat, Action::NextChat]),
        Panel::Metrics => actions.push(Action::Window),
        Panel::Fleet => actions.extend([Action::Open, Action::Refresh]),
        _ => {}
    }
    if app.view == View::Dashboard {
        actions.extend([Action::Open, Action::Grow, Action::Shrink]);
    } else {
        actions.push(Action::Back);
    }
    let mut seen = Vec::new();
    actions.retain(|a| {
        let new = !seen.contains(a);
        seen.push(*a);
        new
    });
    let mut spans = Vec::new();
    for a in actions {
        let Some(b) = app.keymap.binding(a) else {
            continue;
        };
        spans.push(Span::styled(
            format!(" {}", app.keymap.key_label(a)),
            t.fg(Slot::KeyHint),
        ));
        spans.push(Span::styled(
            format!(" {} ", b.description),
            t.fg(Slot::TextDim),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
