//! Jobs finished per pipeline (containers joined by commas, as Ritual names a container set):
//! successes, failures and a latency histogram, for `/metrics`. Counted since the process
//! started (Prometheus handles the reset at a restart).
use crate::telemetry::prom::Histogram;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PipelineStats {
    pub success: u64,
    pub failed: u64,
    pub latency: Histogram,
}

#[derive(Debug, Default)]
pub struct JobStats {
    /// Running jobs: id -> (pipeline, start).
    running: Mutex<HashMap<String, (String, Instant)>>,
    done: Mutex<BTreeMap<String, PipelineStats>>,
}

impl JobStats {
    pub fn started(&self, id: &str, containers: &[String]) {
        if let Ok(mut r) = self.running.lock() {
            r.insert(id.to_string(), (containers.join(","), Instant::now()));
        }
    }

    pub fn finished(&self, id: &str, ok: bool) {
        let Some((pipeline, at)) = self.running.lock().ok().and_then(|mut r| r.remove(id)) else {
            return;
        };
        if let Ok(mut d) = self.done.lock() {
            let s = d.entry(pipeline).or_default();
            if ok {
                s.success += 1;
            } else {
                s.failed += 1;
            }
            s.latency.observe(at.elapsed().as_secs_f64());
        }
    }

    /// Per pipeline, in name order.
    pub fn snapshot(&self) -> Vec<(String, PipelineStats)> {
        self.done
            .lock()
            .map(|d| d.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_pipeline_and_ignores_unknown_ids() {
        let s = JobStats::default();
        let p = |v: &[&str]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        s.started("a", &p(&["echo"]));
        s.started("b", &p(&["echo", "llm"]));
        s.started("c", &p(&["echo"]));
        s.finished("a", true);
        s.finished("b", false);
        s.finished("c", false);
        s.finished("never-started", true);
        s.finished("a", true);
        let snap = s.snapshot();
        assert_eq!(snap.len(), 2);
        assert_eq!(snap[0].0, "echo");
        assert_eq!((snap[0].1.success, snap[0].1.failed), (1, 1));
        assert_eq!(snap[0].1.latency.count(), 2);
        assert_eq!(snap[1].0, "echo,llm");
        assert_eq!((snap[1].1.success, snap[1].1.failed), (0, 1));
    }
}
