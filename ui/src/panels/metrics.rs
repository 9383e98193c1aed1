//! Metrics: the engine's history as plots (braille line charts) in the window the operator
//! picks (`w`: 1 m / 15 m / 1 h): CPU and RAM, each core now, per GPU utilisation, VRAM,
//! temperature and power, jobs/s (ok and failed), job latency p50/p99, tokens/s per backend,
//! chain deliveries per block and gas per delivery. A plot without data says what fills it.
use crate::app::{App, Panel};
use crate::theme::Slot;
use infernet_core::history::HistoryView;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Bar, BarChart, BarGroup, Block, Borders, Chart, Dataset, GraphType, Paragraph, Wrap,
};

/// One plot: a title and its lines (label, points, colour slot).
struct Plot<'a> {
    title: String,
    lines: Vec<(String, &'a [Option<f32>], Slot)>,
    /// Fixed upper bound (percentages), else the data's maximum.
    max: Option<f64>,
    unit: &'static str,
    /// What to say when there is no data.
    empty: &'static str,
}

fn latest(p: &[Option<f32>]) -> Option<f32> {
    p.iter().rev().find_map(|v| *v)
}

const COLOURS: [Slot; 4] = [
    Slot::StatusOk,
    Slot::StatusRunning,
    Slot::StatusWarn,
    Slot::ChatUser,
];

fn plots<'a>(app: &'a App, h: &'a HistoryView) -> Vec<Plot<'a>> {
    let mut out = vec![Plot {
        title: "CPU · RAM".into(),
        lines: vec![
            ("CPU".into(), h.get("cpu"), Slot::StatusOk),
            ("RAM".into(), h.get("ram"), Slot::StatusRunning),
        ],
        max: Some(100.0),
        unit: "%",
        empty: "sampling starts with the node",
    }];
    for g in &app.model.system.gpus {
        let i = g.index;
        let name = |k: &str| format!("gpu{i}.{k}");
        out.push(Plot {
            title: format!("GPU{i} util · VRAM"),
            lines: vec![
                ("util".into(), h.get(&name("util")), Slot::StatusOk),
                ("VRAM".into(), h.get(&name("vram")), Slot::StatusRunning),
            ],
            max: Some(100.0),
            unit: "%",
            empty: "no samples from NVML yet",
        });
        out.push(Plot {
            title: format!("GPU{i} °C · W"),
            lines: vec![
                ("°C".into(), h.get(&name("temp")), Slot::StatusWarn),
                ("W".into(), h.get(&name("power")), Slot::ChatUser),
            ],
            max: None,
            unit: "",
            empty: "the driver reports no temperature or power",
        });
    }
    out.push(Plot {
        title: "Jobs/s".into(),
        lines: vec![
            ("ok".into(), h.get("jobs.ok"), Slot::StatusOk),
            ("failed".into(), h.get("jobs.failed"), Slot::StatusError),
        ],
        max: None,
        unit: "/s",
        empty: "no jobs yet",
    });
    out.push(Plot {
        title: "Latency".into(),
        lines: vec![
            ("p50".into(), h.get("lat.p50"), Slot::StatusOk),
            ("p99".into(), h.get("lat.p99"), Slot::StatusWarn),
        ],
        max: None,
        unit: " ms",
        empty: "no job finished in this window",
    });
    let tokens: Vec<(String, &[Option<f32>], Slot)> = h
        .family("tokens.")
        .enumerate()
        .map(|(k, (id, p))| (id.to_string(), p, COLOURS[k % COLOURS.len()]))
        .collect();
    out.push(Plot {
        title: "Tokens/s".into(),
        lines: tokens,
        max: None,
        unit: "/s",
        empty: "no backend has streamed tokens",
    });
    if matches!(app.model.chain, crate::model::ChainView::Enabled(_)) {
        out.push(Plot {
            title: "Chain deliveries/block".into(),
            lines: vec![("per block".into(), h.get("chain.per_block"), Slot::StatusOk)],
            max: None,
            unit: "",
            empty: "no new block seen yet",
        });
        out.push(Plot {
            title: "Gas per delivery".into(),
            lines: vec![(
                "gas".into(),
                h.get("chain.gas_per_delivery"),
                Slot::StatusWarn,
            )],
            max: None,
            unit: "",
            empty: "no delivery mined in this window",
        });
    }
    out
}

pub fn draw(app: &App, f: &mut Frame, area: Rect, focused: bool) {
    let t = &app.theme;
    let window = app.window;
    let note = format!(
        "{} window · {} to change",
        window.label(),
        app.keymap.key_label(crate::keymap::Action::Window)
    );
    let block = super::block(app, Panel::Metrics, focused, note);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height < 3 {
        return;
    }
    let Some(h) = app.model.history.iter().find(|v| v.window == window) else {
        f.render_widget(
            Paragraph::new(Span::styled(
                "No history from this node (it may run an older infernet): plots appear once it records.",
                t.fg(Slot::TextDim),
            ))
            .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    };
    let plots = plots(app, h);
    // One more cell for the cores' bars.
    let cells = plots.len() + 1;
    let cols = if inner.width >= 150 {
        3
    } else if inner.width >= 60 {
        2
    } else {
        1
    };
    let rows = cells.div_ceil(cols);
    let row_areas = Layout::vertical(vec![Constraint::Ratio(1, rows as u32); rows]).split(inner);
    let mut areas = Vec::new();
    for r in row_areas.iter() {
        areas.extend(
            Layout::horizontal(vec![Constraint::Ratio(1, cols as u32); cols])
                .split(*r)
                .iter()
                .copied(),
        );
    }
    let mut it = areas.into_iter();
    if let Some(a) = it.next() {
        cores(app, f, a);
    }
    for (p, a) in plots.iter().zip(it) {
        plot(app, f, a, p);
    }
}

fn cell_block<'a>(app: &App, title: Vec<Span<'a>>) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.fg(Slot::Border))
        .title(Line::from(title))
}

fn cores(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let per = &app.model.system.per_core;
    let block = cell_block(
        app,
        vec![Span::styled(
            format!(" Cores now ({}) ", per.len()),
            t.fg(Slot::Title),
        )],
    );
    let inner = block.inner(area);
    f.render_widget(block, area);
    if per.is_empty() {
        f.render_widget(
            Paragraph::new(Span::styled("no per-core sample yet", t.fg(Slot::TextDim))),
            inner,
        );
        return;
    }
    // Bars one column wide with no gap when the cores do not fit wider.
    let n = per.len() as u16;
    let width = (inner.width / n.max(1)).clamp(1, 4);
    let gap = u16::from(width > 1 && width * n + n <= inner.width);
    let bars: Vec<Bar> = per
        .iter()
        .map(|&v| {
            Bar::default()
                .value(v.round().clamp(0.0, 100.0) as u64)
                .text_value(String::new())
                .style(t.heat(f64::from(v)))
        })
        .collect();
    f.render_widget(
        BarChart::default()
            .data(BarGroup::default().bars(&bars))
            .bar_width(width)
            .bar_gap(gap)
            .max(100),
        inner,
    );
}

fn plot(app: &App, f: &mut Frame, area: Rect, p: &Plot) {
    let t = &app.theme;
    let mut title = vec![Span::styled(format!(" {} ", p.title), t.fg(Slot::Title))];
    for (label, pts, slot) in &p.lines {
        let v = latest(pts)
            .map(|v| fmt_value(v, p.unit))
            .unwrap_or_else(|| "–".into());
        title.push(Span::styled(format!("{label} {v} "), t.fg(*slot)));
    }
    let block = cell_block(app, title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let data: Vec<Vec<(f64, f64)>> = p
        .lines
        .iter()
        .map(|(_, pts, _)| {
            pts.iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i as f64, f64::from(v))))
                .collect()
        })
        .collect();
    if data.iter().all(Vec::is_empty) {
        f.render_widget(
            Paragraph::new(Span::styled(p.empty, t.fg(Slot::TextDim))).wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    let top = p.max.unwrap_or_else(|| {
        data.iter()
            .flatten()
            .map(|(_, y)| *y)
            .fold(0.0, f64::max)
            .max(1e-9)
            * 1.1
    });
    let sets: Vec<Dataset> = data
        .iter()
        .zip(&p.lines)
        .map(|(d, (_, _, slot))| {
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(t.fg(*slot))
                .data(d)
        })
        .collect();
    let points = infernet_core::history::POINTS as f64;
    f.render_widget(
        Chart::new(sets)
            .style(Style::default())
            .x_axis(Axis::default().bounds([0.0, points - 1.0]))
            .y_axis(Axis::default().bounds([0.0, top])),
        inner,
    );
}

/// A value with its unit, to three significant digits or so.
fn fmt_value(v: f32, unit: &str) -> String {
    let s = if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    format!("{s}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_at_a_glance() {
        assert_eq!(fmt_value(123.4, "%"), "123%");
        assert_eq!(fmt_value(12.34, " ms"), "12.3 ms");
        assert_eq!(fmt_value(0.05, "/s"), "0.05/s");
        assert_eq!(latest(&[Some(1.0), Some(2.0), None]), Some(2.0));
        assert_eq!(latest(&[None]), None);
    }
}
