//! System & GPU: CPU with a sparkline, RAM, load; per GPU utilisation, memory, temperature
//! and power. No GPU is a normal state with its reason.
use crate::app::{App, Panel};
use crate::fmt;
use crate::theme::Slot;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, RenderDirection, Sparkline, Wrap};

pub fn draw(app: &App, f: &mut Frame, area: Rect, focused: bool) {
    let t = &app.theme;
    let s = &app.model.system;
    let block = super::block(app, Panel::System, focused, format!("{} cores", s.cores));
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let ram_pct = if s.ram_total > 0 {
        s.ram_used as f64 * 100.0 / s.ram_total as f64
    } else {
        0.0
    };
    let mut rows = vec![Constraint::Length(1); 2];
    // The no-GPU reason is a sentence: room for it to wrap on narrow screens.
    let gpu_lines = if s.gpus.is_empty() {
        3
    } else {
        s.gpus.len() as u16 * 2
    };
    rows.push(Constraint::Length(gpu_lines));
    rows.push(Constraint::Min(0));
    let parts = Layout::vertical(rows).split(inner);
    let [label, spark] =
        Layout::horizontal([Constraint::Length(12), Constraint::Min(0)]).areas(parts[0]);
    f.render_widget(
        Paragraph::new(Span::styled(
            format!("CPU {:>5.1}%", s.cpu_pct),
            t.heat(s.cpu_pct as f64),
        )),
        label,
    );
    render_spark(app, f, spark, &s.cpu_history, s.cpu_pct as f64);
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                format!(
                    "RAM {} / {}",
                    fmt::bytes(s.ram_used),
                    fmt::bytes(s.ram_total)
                ),
                t.heat(ram_pct),
            ),
            Span::styled(
                format!("  load {:.2} {:.2} {:.2}", s.load[0], s.load[1], s.load[2]),
                t.fg(Slot::TextDim),
            ),
        ])),
        parts[1],
    );
    if s.gpus.is_empty() {
        let note = s
            .gpu_note
            .clone()
            .unwrap_or_else(|| "no GPU detected".into());
        f.render_widget(
            Paragraph::new(Span::styled(note, t.fg(Slot::TextDim))).wrap(Wrap { trim: true }),
            parts[2],
        );
        return;
    }
    let gpu_rows = Layout::vertical(vec![Constraint::Length(1); s.gpus.len() * 2]).split(parts[2]);
    for (i, g) in s.gpus.iter().enumerate() {
        let mem_pct = if g.mem_total > 0 {
            g.mem_used as f64 * 100.0 / g.mem_total as f64
        } else {
            0.0
        };
        let mut spans = vec![
            Span::styled(format!("GPU{} ", g.index), t.fg(Slot::Title)),
            Span::styled(fmt::short(&g.name, 22), t.fg(Slot::Text)),
            Span::styled(
                format!(
                    "  VRAM {}/{}",
                    fmt::bytes(g.mem_used),
                    fmt::bytes(g.mem_total)
                ),
                t.heat(mem_pct),
            ),
        ];
        if let Some(c) = g.temp_c {
            spans.push(Span::styled(format!("  {c}°C"), t.heat(c as f64)));
        }
        if let Some(p) = g.power_w {
            let lim = g
                .power_limit_w
                .map(|l| format!("/{l:.0}"))
                .unwrap_or_default();
            spans.push(Span::styled(
                format!("  {p:.0}{lim} W"),
                t.fg(Slot::TextDim),
            ));
        }
        f.render_widget(Paragraph::new(Line::from(spans)), gpu_rows[i * 2]);
        let [l, sp] = Layout::horizontal([Constraint::Length(12), Constraint::Min(0)])
            .areas(gpu_rows[i * 2 + 1]);
        f.render_widget(
            Paragraph::new(Span::styled(
                format!("util {:>4}%", g.util_pct),
                t.heat(g.util_pct as f64),
            )),
            l,
        );
        render_spark(app, f, sp, &g.util_history, g.util_pct as f64);
    }
}

fn render_spark(app: &App, f: &mut Frame, area: Rect, data: &[u64], now: f64) {
    // Newest on the right: show the last `width` samples.
    let w = area.width as usize;
    let start = data.len().saturating_sub(w);
    f.render_widget(
        Sparkline::default()
            .data(&data[start..])
            .max(100)
            .direction(RenderDirection::LeftToRight)
            .style(app.theme.heat(now)),
        area,
    );
}
