//! The first-run wizard's screens.
use crate::app::App;
use crate::theme::{Slot, Theme};
use crate::wizard::{Field, STEPS, Step, WizardState};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Wrap};

pub fn draw(app: &App, w: &WizardState, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let rect = super::centered(area, 96, 96);
    let mut lines = match w.current() {
        Step::Welcome => welcome(t, w),
        Step::Backend => backend(t, w),
        Step::Containers => containers(t, w),
        Step::Chain => chain(t, w),
        Step::Identity => identity(t, w),
        Step::Review => review(t, w),
    };
    lines.extend(footer(t, w));
    f.render_widget(
        Paragraph::new(lines)
            .block(frame(t, w))
            .wrap(Wrap { trim: false }),
        rect,
    );
}

/// The border, titled with the step's number and name.
fn frame<'a>(t: &Theme, w: &WizardState) -> Block<'a> {
    let title = format!(
        " infernet setup · step {} of {} · {} ",
        w.step + 1,
        STEPS.len(),
        w.current().title()
    );
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Thick)
        .border_style(t.fg(Slot::BorderFocused))
        .title(Span::styled(
            title,
            t.fg(Slot::Title).add_modifier(Modifier::BOLD),
        ))
}

fn dim<'a>(t: &Theme, s: &str) -> Line<'a> {
    Line::from(Span::styled(s.to_string(), t.fg(Slot::TextDim)))
}

fn text<'a>(t: &Theme, s: String) -> Line<'a> {
    Line::from(Span::styled(s, t.fg(Slot::Text)))
}

/// A list entry or toggle, highlighted when it has the focus.
fn sel<'a>(t: &Theme, on: bool, s: String) -> Line<'a> {
    if on {
        Line::from(Span::styled(s, t.selection()))
    } else {
        text(t, s)
    }
}

/// The step's input fields, each with its hint; a focused field shows its cursor.
fn fields<'a>(t: &Theme, w: &WizardState, fs: &[Field]) -> Vec<Line<'a>> {
    // Focus 0 is the step's list or toggle where it has one; fields come after it.
    let has_selector = matches!(w.current(), Step::Backend | Step::Chain | Step::Identity);
    let mut lines = Vec::new();
    for (i, fl) in fs.iter().enumerate() {
        let focused = w.focus == i + usize::from(has_selector);
        lines.push(field(t, fl, focused));
        lines.push(dim(t, &format!("              {}", fl.hint)));
    }
    lines
}

fn field<'a>(t: &Theme, fl: &Field, focused: bool) -> Line<'a> {
    let mut v = if fl.secret {
        "•".repeat(fl.input.text.chars().count())
    } else {
        fl.input.text.clone()
    };
    if focused {
        let b = v
            .char_indices()
            .nth(fl.input.cursor)
            .map(|(b, _)| b)
            .unwrap_or(v.len());
        v.insert(b, '█');
    }
    Line::from(vec![
        Span::styled(
            format!("{} {:<11}", if focused { "›" } else { " " }, fl.label),
            if focused {
                t.fg(Slot::BorderFocused)
            } else {
                t.fg(Slot::Text)
            },
        ),
        Span::styled(v, t.fg(Slot::Text)),
    ])
}

fn welcome<'a>(t: &Theme, w: &WizardState) -> Vec<Line<'a>> {
    vec![
        text(t, "No config.json was found, so let's make one.".into()),
        Line::from(""),
        dim(
            t,
            "This node serves Ritual-compatible jobs over REST (port 4000), runs workflow containers",
        ),
        dim(
            t,
            "in Docker, answers on-chain subscriptions, and chats through your LLM backends.",
        ),
        Line::from(""),
        dim(
            t,
            "Steps: LLM backend and model · workflow containers · chain · identity · review.",
        ),
        dim(
            t,
            "Every answer can be changed later in config.json or with `infernet setup`.",
        ),
        Line::from(""),
        text(
            t,
            format!("The config will be written to {}", w.config_path),
        ),
    ]
}

/// What detection found, the choice among it, then the backend's fields.
fn backend<'a>(t: &Theme, w: &WizardState) -> Vec<Line<'a>> {
    let mut lines = vec![match &w.detected {
        None => dim(t, "looking for LLM servers on this machine…"),
        Some(d) if d.is_empty() => dim(
            t,
            "No LLM server answered on the usual ports (Ollama 11434, vLLM 8000, SGLang 30000, llama.cpp 8080).",
        ),
        Some(_) => dim(t, "LLM servers that answered:"),
    }];
    for (i, c) in w.choices().iter().enumerate() {
        let mark = if i == w.choice { "●" } else { "○" };
        lines.push(sel(
            t,
            w.focus == 0 && i == w.choice,
            format!("  {mark} {c}"),
        ));
    }
    lines.push(dim(t, "  ↑/↓ choose · Tab to the fields"));
    lines.push(Line::from(""));
    lines.extend(fields(t, w, &w.backend));
    lines
}

fn containers<'a>(t: &Theme, w: &WizardState) -> Vec<Line<'a>> {
    let mut lines = vec![
        dim(
            t,
            "Workflow containers run in Docker; jobs name them by id. Example:",
        ),
        dim(
            t,
            "  hello-world=ritualnetwork/hello-world-infernet:latest@3000",
        ),
        Line::from(""),
    ];
    lines.extend(fields(t, w, &w.containers));
    lines
}

fn chain<'a>(t: &Theme, w: &WizardState) -> Vec<Line<'a>> {
    let mark = if w.chain_enabled { "[x]" } else { "[ ]" };
    let mut lines = vec![
        sel(
            t,
            w.focus == 0,
            format!("{mark} serve on-chain subscriptions (Space toggles)"),
        ),
        dim(t, "Off: the node serves off-chain REST jobs only."),
        Line::from(""),
    ];
    if w.chain_enabled {
        lines.extend(fields(t, w, &w.chain));
    }
    lines
}

fn identity<'a>(t: &Theme, w: &WizardState) -> Vec<Line<'a>> {
    let mark = if w.make_identity { "[x]" } else { "[ ]" };
    let mut lines = vec![
        sel(
            t,
            w.focus == 0,
            format!("{mark} create the node identity key if there is none (Space toggles)"),
        ),
        dim(
            t,
            "A secp256k1 key in the OS keyring (or a 0600 file where there is no keyring) that signs control-plane requests.",
        ),
        Line::from(""),
    ];
    lines.extend(fields(t, w, &w.identity));
    lines
}

fn review<'a>(t: &Theme, w: &WizardState) -> Vec<Line<'a>> {
    let mut lines: Vec<Line> = w.summary().into_iter().map(|l| text(t, l)).collect();
    lines.push(Line::from(""));
    lines.push(dim(
        t,
        if w.busy {
            "writing the config and starting the node…"
        } else {
            "Enter writes the config and starts the node."
        },
    ));
    lines
}

/// The last error, if any, and the keys.
fn footer<'a>(t: &Theme, w: &WizardState) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    if let Some(e) = &w.error {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            format!("✗ {e}"),
            t.fg(Slot::StatusError),
        )));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Enter next · Esc back · Tab/↑↓ fields · Ctrl-C quit",
        t.fg(Slot::KeyHint),
    )));
    lines
}
