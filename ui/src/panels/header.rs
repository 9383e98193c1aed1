//! Header: node name, version, uptime, REST address, mode; chain block, RPC health, sync.
use crate::app::App;
use crate::fmt;
use crate::model::{ChainView, Mode};
use crate::theme::Slot;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let m = &app.model;
    let h = &m.header;
    let sep = || Span::styled(" │ ", t.fg(Slot::Border));
    // In a fleet view: which box this is.
    let fleet_box = m.fleet.iter().find(|r| r.selected).map(|r| r.name.clone());
    let mode = match (h.mode, &fleet_box) {
        (_, Some(b)) => format!(
            "box {b} ({}/{})",
            m.fleet.iter().position(|r| r.selected).unwrap_or(0) + 1,
            m.fleet.len()
        ),
        (Mode::InProcess, None) => "in-process".into(),
        (Mode::Attached, None) => "attached".into(),
    };
    let j = &m.jobs;
    let line1 = Line::from(vec![
        Span::styled(" infernet ", t.fg(Slot::Title).add_modifier(Modifier::BOLD)),
        Span::styled(
            h.node_name.clone(),
            t.fg(Slot::Text).add_modifier(Modifier::BOLD),
        ),
        Span::styled(format!(" v{}", h.version), t.fg(Slot::TextDim)),
        sep(),
        Span::styled(
            format!("up {}", fmt::duration(m.now_ms - h.started_ms)),
            t.fg(Slot::Text),
        ),
        sep(),
        Span::styled(format!("REST {}", h.rest_addr), t.fg(Slot::Text)),
        Span::styled(
            // Loopback: only this machine can call it (the built-in defaults' bind).
            if h.rest_addr.starts_with("127.") || h.rest_addr.starts_with("[::1]") {
                " (local only)"
            } else {
                ""
            },
            t.fg(Slot::TextDim),
        ),
        sep(),
        Span::styled(mode, t.fg(Slot::TextDim)),
        sep(),
        Span::styled(format!("{} running", j.running), t.fg(Slot::StatusRunning)),
        Span::styled(format!(" {} ok", j.succeeded), t.fg(Slot::StatusOk)),
        Span::styled(
            format!(" {} failed", j.failed),
            if j.failed > 0 {
                t.fg(Slot::StatusError)
            } else {
                t.fg(Slot::TextDim)
            },
        ),
    ]);
    let connected = matches!(m.peers, crate::model::PeersView::Connected(_));
    let line2 = match &m.chain {
        // With a control plane to show, the short form leaves it room.
        ChainView::Disabled { .. } if connected => Line::from(vec![
            Span::styled(" chain ", t.fg(Slot::Title)),
            Span::styled("off", t.fg(Slot::TextDim)),
        ]),
        ChainView::Disabled { .. } => Line::from(vec![
            Span::styled(" chain ", t.fg(Slot::Title)),
            Span::styled(
                "off: off-chain jobs only (set chain.enabled in config.json to serve subscriptions)",
                t.fg(Slot::TextDim),
            ),
        ]),
        ChainView::Enabled(c) => {
            let rpc = if c.rpc_ok {
                Span::styled("RPC ok", t.fg(Slot::StatusOk))
            } else {
                Span::styled(
                    format!(
                        "RPC failing: {}",
                        c.rpc_last_error.as_deref().unwrap_or("no answer")
                    ),
                    t.fg(Slot::StatusError),
                )
            };
            let mut v = vec![
                Span::styled(" chain ", t.fg(Slot::Title)),
                Span::styled(format!("{} {}", c.chain_id, c.phase), t.fg(Slot::Text)),
                sep(),
            ];
            // SDK 0.x: registration first, it decides whether anything is delivered.
            if let Some(r) = &c.registration {
                v.push(Span::styled(
                    format!("node {r}"),
                    if c.registration_ok {
                        t.fg(Slot::StatusOk)
                    } else {
                        t.fg(Slot::StatusRunning)
                    },
                ));
                v.push(sep());
            }
            v.extend([
                Span::styled(format!("block {}", c.head_block), t.fg(Slot::Text)),
                sep(),
                rpc,
                sep(),
                Span::styled(
                    format!("subs {}/{} synced", c.synced_sub_id, c.head_sub_id),
                    if c.synced_sub_id >= c.head_sub_id {
                        t.fg(Slot::StatusOk)
                    } else {
                        t.fg(Slot::StatusRunning)
                    },
                ),
                sep(),
                Span::styled(
                    format!(
                        "{} delivered {} skipped {} failed",
                        c.delivered, c.skipped, c.failed
                    ),
                    t.fg(Slot::TextDim),
                ),
            ]);
            if let Some(e) = &c.error {
                v.push(sep());
                v.push(Span::styled(e.clone(), t.fg(Slot::StatusError)));
            }
            Line::from(v)
        }
    };
    let mut line2 = line2;
    if let crate::model::PeersView::Connected(c) = &m.peers {
        line2.spans.push(sep());
        line2
            .spans
            .push(Span::styled("control plane ", t.fg(Slot::Title)));
        line2.spans.push(Span::styled(
            c.state.clone(),
            t.fg(super::peers::state_slot(&c.state)),
        ));
        line2.spans.push(Span::styled(
            format!(" · {} nodes · {} jobs", c.peers.len(), c.jobs_active),
            t.fg(Slot::TextDim),
        ));
    }
    f.render_widget(Paragraph::new(vec![line1, line2]), area);
}
