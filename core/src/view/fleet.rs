//! A fleet view's rows: what the Fleet panel says about each box, from the last model the box
//! sent and the state of its link.
use super::model::{BoxState, ChainView, FleetRow, Model, PeersView};
use crate::history::Window;

/// The link to one box, as the fleet driver knows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Link {
    pub name: String,
    pub state: BoxState,
    pub last_error: Option<String>,
    pub seen_ms: Option<i64>,
}

/// The newest known value of a 1-minute series.
fn latest(m: &Model, name: &str) -> Option<f32> {
    m.history
        .iter()
        .find(|h| h.window == Window::M1)
        .and_then(|h| h.series.get(name))
        .and_then(|v| v.iter().rev().find_map(|x| *x))
}

/// A box's row: its link and (once it sent one) its model.
pub fn row(link: &Link, model: Option<&Model>, selected: bool) -> FleetRow {
    let mut r = FleetRow {
        name: link.name.clone(),
        state: link.state,
        selected,
        last_error: link.last_error.clone(),
        seen_ms: link.seen_ms,
        ..Default::default()
    };
    let Some(m) = model else {
        return r;
    };
    r.node_name = m.header.node_name.clone();
    r.version = m.header.version.clone();
    r.jobs_running = m.jobs.running;
    r.jobs_succeeded = m.jobs.succeeded;
    r.jobs_failed = m.jobs.failed;
    let g = &m.system.gpus;
    r.gpu_util =
        (!g.is_empty()).then(|| g.iter().map(|g| g.util_pct as f32).sum::<f32>() / g.len() as f32);
    let tokens: Vec<f32> = m
        .history
        .iter()
        .find(|h| h.window == Window::M1)
        .map(|h| {
            h.family("tokens.")
                .filter_map(|(_, v)| v.iter().rev().find_map(|x| *x))
                .collect()
        })
        .unwrap_or_default();
    r.tokens_s = (!tokens.is_empty()).then(|| tokens.iter().sum());
    r.chain = match &m.chain {
        ChainView::Disabled { .. } => "off".into(),
        ChainView::Enabled(c) => match &c.error {
            Some(e) => format!("{} ({e})", c.phase),
            None => format!("{} #{}", c.phase, c.head_block),
        },
    };
    r.control = match &m.peers {
        PeersView::NotConfigured { .. } => "off".into(),
        PeersView::Connected(c) => match &c.last_error {
            Some(e) if c.state != "online" => format!("{} ({e})", c.state),
            _ => c.state.clone(),
        },
    };
    // A box with a failing link keeps its last numbers, but its error is what matters now.
    if r.last_error.is_none() && link.state == BoxState::Up {
        r.last_error = latest(m, "jobs.failed")
            .filter(|f| *f > 0.0)
            .map(|_| "jobs failing in the last minute".to_string());
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{History, Kind};
    use crate::view::model::{GpuView, Header, JobsView};

    fn model() -> Model {
        let mut h = History::default();
        h.record("tokens.a", Kind::Rate, 10.0, 1_000);
        h.record("tokens.b", Kind::Rate, 5.0, 1_000);
        Model {
            header: Header {
                node_name: "box-a".into(),
                version: "0.1.0".into(),
                ..Default::default()
            },
            jobs: JobsView {
                running: 2,
                succeeded: 10,
                failed: 1,
                rows: vec![],
            },
            system: crate::view::model::SystemView {
                gpus: vec![
                    GpuView {
                        util_pct: 40,
                        ..Default::default()
                    },
                    GpuView {
                        util_pct: 80,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
            history: Window::ALL.iter().map(|&w| h.view(w, 1_000)).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_row_sums_up_the_box() {
        let link = Link {
            name: "op@a".into(),
            state: BoxState::Up,
            ..Default::default()
        };
        let r = row(&link, Some(&model()), true);
        assert_eq!(
            (r.name.as_str(), r.node_name.as_str(), r.selected),
            ("op@a", "box-a", true)
        );
        assert_eq!(
            (r.jobs_running, r.jobs_succeeded, r.jobs_failed),
            (2, 10, 1)
        );
        assert_eq!(r.gpu_util, Some(60.0));
        assert_eq!(r.tokens_s, Some(15.0));
        assert_eq!((r.chain.as_str(), r.control.as_str()), ("off", "off"));
    }

    #[test]
    fn a_box_never_reached_shows_its_link_only() {
        let link = Link {
            name: "op@b".into(),
            state: BoxState::Reconnecting,
            last_error: Some("ssh: connect to host b port 22: Connection refused".into()),
            seen_ms: None,
        };
        let r = row(&link, None, false);
        assert_eq!(r.state.label(), "reconnecting");
        assert!(r.last_error.unwrap().contains("Connection refused"));
        assert_eq!((r.gpu_util, r.tokens_s), (None, None));
    }
}
