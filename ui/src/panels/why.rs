//! The detail overlay: one job, subscription, container or backend with its state, the reason
//! it is in that state, the fix when one is known, its facts and the timeline of log lines that
//! name it. Rebuilt from the live model on every frame, so it follows the row as it changes.
use crate::app::App;
use crate::model::{JobDetail, JobState, Level};
use crate::theme::{Slot, Theme};
use infernet_core::view::why::{self, Subject, Why};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

pub fn draw(app: &App, f: &mut Frame, area: Rect) {
    let Some(st) = &app.detail else { return };
    let t = &app.theme;
    let rect = super::centered(area, 90, 85);
    f.render_widget(Clear, rect);
    let mut why = why::explain(&app.model, &st.subject);
    // A loaded job is newer than the row the model listed.
    if let (Some(w), Some(d)) = (why.as_mut(), st.detail.as_ref()) {
        w.state = d.state.label().into();
        w.healthy = d.state != JobState::Failed;
    }
    let title = why
        .as_ref()
        .map(|w| w.title.clone())
        .unwrap_or_else(|| title_of(&st.subject));
    let block = super::block(app, app.active(), true, format!("{title} · Esc closes"));
    let mut lines: Vec<Line> = Vec::new();
    match &why {
        Some(w) => summary(t, w, &mut lines),
        // A job older than the rows the model keeps still has its stored detail.
        None if matches!(st.subject, Subject::Job(_)) => {}
        None => lines.push(Line::from(Span::styled(
            "no longer reported by the node",
            t.fg(Slot::TextDim),
        ))),
    }
    if let Subject::Job(_) = st.subject {
        job_sections(t, st.detail.as_ref(), &mut lines);
    }
    if let Some(w) = &why {
        timeline(t, w, &mut lines);
    }
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((st.scroll, 0)),
        rect,
    );
}

fn title_of(s: &Subject) -> String {
    match s {
        Subject::Job(id) => format!("job {id}"),
        Subject::Subscription(id) => format!("subscription {id}"),
        Subject::Container(id) => format!("container {id}"),
        Subject::Backend(id) => format!("backend {id}"),
    }
}

fn label(t: &Theme, s: &str) -> Span<'static> {
    Span::styled(format!("{s:<14}"), t.fg(Slot::TextDim))
}

fn state_style(t: &Theme, w: &Why) -> Style {
    match (w.healthy, w.state.as_str()) {
        // Skipped on purpose by this node's rules: worth reading, not an alarm.
        (false, "ignored") => t.fg(Slot::StatusWarn),
        (false, _) => t.fg(Slot::StatusError),
        (true, "running" | "starting" | "checking" | "fetching model") => t.fg(Slot::StatusRunning),
        (true, _) => t.fg(Slot::StatusOk),
    }
}

/// State, reason, fix, then the facts.
fn summary(t: &Theme, w: &Why, lines: &mut Vec<Line<'static>>) {
    lines.push(Line::from(vec![
        label(t, "state"),
        Span::styled(w.state.clone(), state_style(t, w)),
    ]));
    if let Some(r) = &w.reason {
        let style = if w.healthy {
            t.fg(Slot::Text)
        } else {
            t.fg(Slot::StatusError)
        };
        lines.push(Line::from(vec![
            label(t, "why"),
            Span::styled(r.clone(), style),
        ]));
    }
    if let Some(fix) = &w.fix {
        lines.push(Line::from(vec![
            label(t, "fix"),
            Span::styled(fix.clone(), t.fg(Slot::KeyHint)),
        ]));
    }
    for (k, v) in &w.facts {
        lines.push(Line::from(vec![
            label(t, k),
            Span::styled(v.clone(), t.fg(Slot::Text)),
        ]));
    }
}

/// A job's stored input, intermediate results and output, loaded on demand.
fn job_sections(t: &Theme, d: Option<&JobDetail>, lines: &mut Vec<Line<'static>>) {
    let Some(d) = d else {
        lines.push(Line::from(Span::styled("loading…", t.fg(Slot::TextDim))));
        return;
    };
    if d.state == JobState::Running {
        lines.push(Line::from(Span::styled(
            "still running: output appears when it finishes",
            t.fg(Slot::TextDim),
        )));
    }
    let mut section = |title: String, body: Option<&str>| {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(title, t.fg(Slot::Title))));
        match body {
            Some(b) => lines.extend(
                b.lines()
                    .map(|l| Line::from(Span::styled(l.to_string(), t.fg(Slot::Text)))),
            ),
            None => lines.push(Line::from(Span::styled("(none)", t.fg(Slot::TextDim)))),
        }
    };
    section("input".into(), d.input.as_deref());
    for (i, s) in d.intermediate.iter().enumerate() {
        let c = d.containers.get(i).map(String::as_str).unwrap_or("?");
        section(format!("intermediate {} ({c})", i + 1), Some(s));
    }
    section("output".into(), d.output.as_deref());
}

fn timeline(t: &Theme, w: &Why, lines: &mut Vec<Line<'static>>) {
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        match w.timeline.len() {
            1 => "timeline (1 log line names it)".to_string(),
            n => format!("timeline ({n} log lines name it)"),
        },
        t.fg(Slot::Title),
    )));
    if w.timeline.is_empty() {
        lines.push(Line::from(Span::styled(
            "nothing logged about it in the recent log",
            t.fg(Slot::TextDim),
        )));
    }
    for l in &w.timeline {
        let style = match l.level {
            Level::Error => t.fg(Slot::StatusError),
            Level::Warn => t.fg(Slot::StatusWarn),
            _ => t.fg(Slot::Text),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{} ", super::clock(l.ts_ms)), t.fg(Slot::TextDim)),
            Span::styled(l.text.clone(), style),
        ]));
    }
}
