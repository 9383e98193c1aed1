//! The first-run wizard's screens.
use crate::app::App;
use crate::theme::Slot;
use crate::wizard::{STEPS, Step, WizardState};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Wrap};

pub fn draw(app: &App, w: &WizardState, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let rect = super::centered(area, 96, 96);
    let step = w.current();
    let title = format!(
        " infernet setup · step {} of {} · {} ",
        w.step + 1,
        STEPS.len(),
        step.title()
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Thick)
        .border_style(t.fg(Slot::BorderFocused))
        .title(Span::styled(
            title,
            t.fg(Slot::Title).add_modifier(Modifier::BOLD),
        ));
    let mut lines: Vec<Line> = Vec::new();
    let dim = |s: &str| Line::from(Span::styled(s.to_string(), t.fg(Slot::TextDim)));
    let sel = |on: bool, s: String| {
        if on {
            Line::from(Span::styled(s, t.selection()))
        } else {
            Line::from(Span::styled(s, t.fg(Slot::Text)))
        }
    };
    let has_selector = matches!(step, Step::Backend | Step::Chain | Step::Identity);
    let fields = |lines: &mut Vec<Line>, fs: &[crate::wizard::Field]| {
        for (i, fl) in fs.iter().enumerate() {
            let focused = w.focus == i + usize::from(has_selector);
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
            lines.push(Line::from(vec![
                Span::styled(
                    format!("{} {:<11}", if focused { "›" } else { " " }, fl.label),
                    if focused {
                        t.fg(Slot::BorderFocused)
                    } else {
                        t.fg(Slot::Text)
                    },
                ),
                Span::styled(v, t.fg(Slot::Text)),
            ]));
            lines.push(dim(&format!("              {}", fl.hint)));
        }
    };
    match step {
        Step::Welcome => {
            lines.push(Line::from(Span::styled(
                "No config.json was found, so let's make one.",
                t.fg(Slot::Text),
            )));
            lines.push(Line::from(""));
            lines.push(dim("This node serves Ritual-compatible jobs over REST (port 4000), runs workflow containers"));
            lines.push(dim(
                "in Docker, answers on-chain subscriptions, and chats through your LLM backends.",
            ));
            lines.push(Line::from(""));
            lines.push(dim(
                "Steps: LLM backend and model · workflow containers · chain · identity · review.",
            ));
            lines.push(dim(
                "Every answer can be changed later in config.json or with `infernet setup`.",
            ));
            lines.push(Line::from(""));
            lines.push(Line::from(Span::styled(
                format!("The config will be written to {}", w.config_path),
                t.fg(Slot::Text),
            )));
        }
        Step::Backend => {
            match &w.detected {
                None => lines.push(dim("looking for LLM servers on this machine…")),
                Some(d) if d.is_empty() => lines.push(dim("No LLM server answered on the usual ports (Ollama 11434, vLLM 8000, SGLang 30000, llama.cpp 8080).")),
                Some(_) => lines.push(dim("LLM servers that answered:")),
            }
            for (i, c) in w.choices().iter().enumerate() {
                let mark = if i == w.choice { "●" } else { "○" };
                lines.push(sel(w.focus == 0 && i == w.choice, format!("  {mark} {c}")));
            }
            lines.push(dim("  ↑/↓ choose · Tab to the fields"));
            lines.push(Line::from(""));
            fields(&mut lines, &w.backend);
        }
        Step::Containers => {
            lines.push(dim(
                "Workflow containers run in Docker; jobs name them by id. Example:",
            ));
            lines.push(dim(
                "  hello-world=ritualnetwork/hello-world-infernet:latest@3000",
            ));
            lines.push(Line::from(""));
            fields(&mut lines, &w.containers);
        }
        Step::Chain => {
            let mark = if w.chain_enabled { "[x]" } else { "[ ]" };
            lines.push(sel(
                w.focus == 0,
                format!("{mark} serve on-chain subscriptions (Space toggles)"),
            ));
            lines.push(dim("Off: the node serves off-chain REST jobs only."));
            lines.push(Line::from(""));
            if w.chain_enabled {
                fields(&mut lines, &w.chain);
            }
        }
        Step::Identity => {
            let mark = if w.make_identity { "[x]" } else { "[ ]" };
            lines.push(sel(
                w.focus == 0,
                format!("{mark} create the node identity key if there is none (Space toggles)"),
            ));
            lines.push(dim("A secp256k1 key in the OS keyring (or a 0600 file where there is no keyring) that signs control-plane requests."));
            lines.push(Line::from(""));
            fields(&mut lines, &w.identity);
        }
        Step::Review => {
            for l in w.summary() {
                lines.push(Line::from(Span::styled(l, t.fg(Slot::Text))));
            }
            lines.push(Line::from(""));
            lines.push(dim(if w.busy {
                "writing the config and starting the node…"
            } else {
                "Enter writes the config and starts the node."
            }));
        }
    }
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
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}
