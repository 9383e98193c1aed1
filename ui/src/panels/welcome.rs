//! The first-run card: on the built-in defaults (no config file) it says what is running and
//! how to add the rest. Any key closes it.
use crate::app::App;
use crate::model::{ChainView, PeersView};
use crate::theme::Slot;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

/// What the config source is called when no file was found.
pub const DEFAULTS_SOURCE: &str = "built-in defaults";

/// The card's lines, from the model (pure, so tests read them without a terminal).
pub fn lines(app: &App) -> Vec<(Slot, String)> {
    let m = &app.model;
    let mut out = vec![(
        Slot::Title,
        "This node runs on the built-in defaults (no config.json).".to_string(),
    )];
    let rest = &m.header.rest_addr;
    let local = rest.starts_with("127.") || rest.starts_with("[::1]");
    out.push((
        Slot::Text,
        format!(
            "● REST {rest}{}",
            if local {
                ": this machine only (a config file or --bind opens it)"
            } else {
                ""
            }
        ),
    ));
    for b in &m.backends.rows {
        let model = b.default_model.clone().unwrap_or_default();
        let state = b.error.clone().unwrap_or_else(|| b.state.clone());
        out.push((
            Slot::Text,
            format!("● backend {} ({}) {model}: {state}", b.id, b.kind),
        ));
        out.push((
            Slot::TextDim,
            format!(
                "  try it: the Chat tab · infernet chat \"hi\" · POST /api/jobs {{\"containers\":[\"{}\"],\"data\":{{\"prompt\":\"hi\"}}}}",
                b.id
            ),
        ));
    }
    if m.backends.rows.is_empty() {
        out.push((Slot::Text, "● no LLM backend".to_string()));
    }
    let chain = match m.chain {
        ChainView::Disabled { .. } => "off",
        ChainView::Enabled(_) => "on",
    };
    let cp = match m.peers {
        PeersView::NotConfigured { .. } => "none",
        PeersView::Connected(_) => "joined",
    };
    out.push((
        Slot::Text,
        format!(
            "● {} container(s) · chain {chain} · control plane {cp}",
            m.containers.len()
        ),
    ));
    out.push((
        Slot::Title,
        "To add more: `infernet setup` (guided), or with its flags:".to_string(),
    ));
    for (what, how) in [
        ("containers", "--container ID,IMAGE,PORT"),
        (
            "backends",
            "--backend ollama|vllm|sglang|llamacpp --model M",
        ),
        (
            "the chain",
            "--rpc-url URL --registry ADDR --wallet-key-stdin",
        ),
        ("control plane", "--control-plane URL"),
    ] {
        out.push((Slot::TextDim, format!("  {what:<14} infernet setup {how}")));
    }
    out.push((
        Slot::KeyHint,
        "Any key closes this card; ? lists the keys.".to_string(),
    ));
    out
}

pub fn draw(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let lines = lines(app);
    // As tall as its text (plus wrapping room), never taller than the screen.
    let w_pct = if area.width < 120 { 96 } else { 70 };
    let width = area.width * w_pct / 100;
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let rows: usize = lines
        .iter()
        .map(|(_, l)| l.chars().count().div_ceil(inner).max(1))
        .sum();
    let height = (rows as u16 + 2).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    f.render_widget(Clear, rect);
    let text: Vec<Line> = lines
        .into_iter()
        .map(|(slot, s)| {
            let style = if slot == Slot::Title {
                t.fg(slot).add_modifier(Modifier::BOLD)
            } else {
                t.fg(slot)
            };
            Line::from(Span::styled(s, style))
        })
        .collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.fg(Slot::BorderFocused))
        .title(Span::styled(" Welcome ", t.fg(Slot::Title)));
    f.render_widget(
        Paragraph::new(text).block(block).wrap(Wrap { trim: false }),
        rect,
    );
}
