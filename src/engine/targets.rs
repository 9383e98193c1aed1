//! Where a job's steps run: the configured containers (their states, endpoints and
//! `/resources` bases) and the LLM backends, which share the containers' id namespace.
use super::secs;
use crate::backend::Backends;
use crate::compute::container::endpoint_base;
use crate::compute::{ContainerState, ContainerStatus, Endpoint, HttpContainers, StateTable};
use crate::config::Config;
use crate::jobs::Step;
use std::collections::HashMap;

pub(super) struct Targets {
    pub states: StateTable,
    /// Container and backend id -> how a job step reaches it.
    pub steps: HashMap<String, Step>,
    /// (container id, base URL) for `/resources`, in config order.
    pub resource_bases: Vec<(String, String)>,
    /// The usable backends (none when their config cannot be used; the reason is logged).
    pub backends: Backends,
}

pub(super) fn build(config: &Config, http: &HttpContainers) -> Targets {
    let mut steps = container_steps(config);
    let backends = backends(config, http, &mut steps);
    let managed = config.manage_containers;
    Targets {
        states: initial_states(config),
        steps,
        resource_bases: config
            .containers
            .iter()
            .map(|c| (c.id.clone(), endpoint_base(c, managed)))
            .collect(),
        backends,
    }
}

/// Managed containers start as `Starting` until Docker runs them; the others are taken as ready.
fn initial_states(config: &Config) -> StateTable {
    let managed = config.manage_containers;
    StateTable::new(config.containers.iter().map(|c| ContainerStatus {
        id: c.id.clone(),
        state: if managed {
            ContainerState::Starting
        } else {
            ContainerState::Ready
        },
        reason: None,
        image: c.image.clone(),
        port: c.port,
        managed,
        restarts: 0,
        description: c.description.clone(),
        external: c.external,
    }))
}

fn container_steps(config: &Config) -> HashMap<String, Step> {
    let managed = config.manage_containers;
    let default_timeout = secs(config.jobs.container_timeout);
    config
        .containers
        .iter()
        .map(|c| {
            let base = endpoint_base(c, managed);
            let timeout = c.timeout.map(secs).unwrap_or(default_timeout);
            // A managed container is ours: it takes no bearer token.
            let bearer = if managed { "" } else { c.bearer.expose() };
            (
                c.id.clone(),
                Step::Container(Endpoint::new(&c.id, &base, bearer, timeout)),
            )
        })
        .collect()
}

/// Builds the backends and adds each as a step; unusable backends leave the node running
/// with none (the reason is logged).
fn backends(config: &Config, http: &HttpContainers, steps: &mut HashMap<String, Step>) -> Backends {
    let env = |k: &str| std::env::var(k).ok();
    let backends = match Backends::from_config(&config.backends, &env, http.client().clone()) {
        Ok(backends) => backends,
        Err(e) => {
            tracing::error!(error = %e, "LLM backends not usable");
            return Backends::default();
        }
    };
    let timeout = secs(config.jobs.container_timeout);
    for b in backends.all() {
        tracing::info!(backend = %b.id(), kind = b.kind().name(), url = %b.url(), "LLM backend configured");
        steps.insert(
            b.id().to_string(),
            Step::Backend {
                backend: b.clone(),
                timeout,
            },
        );
    }
    backends
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BackendConfig, ContainerConfig};
    use std::time::Duration;

    fn config(managed: bool) -> Config {
        let mut c = Config {
            manage_containers: managed,
            ..Config::default()
        };
        c.jobs.container_timeout = 7.0;
        c.containers = vec![
            ContainerConfig {
                id: "a".into(),
                url: "http://10.0.0.1:3000/".into(),
                ..ContainerConfig::default()
            },
            ContainerConfig {
                id: "b".into(),
                url: "http://10.0.0.2:3000".into(),
                timeout: Some(2.5),
                ..ContainerConfig::default()
            },
        ];
        c
    }

    fn container_timeout(t: &Targets, id: &str) -> Duration {
        match &t.steps[id] {
            Step::Container(e) => e.timeout,
            Step::Backend { .. } => panic!("{id} should be a container"),
        }
    }

    #[test]
    fn managed_containers_start_as_starting_others_as_ready() {
        let t = build(&config(true), &HttpContainers::new());
        let states = t.states.all();
        assert!(
            states
                .iter()
                .all(|s| s.state == ContainerState::Starting && s.managed)
        );
        let t = build(&config(false), &HttpContainers::new());
        let states = t.states.all();
        assert!(
            states
                .iter()
                .all(|s| s.state == ContainerState::Ready && !s.managed)
        );
    }

    #[test]
    fn container_steps_take_their_own_timeout_else_the_jobs_default() {
        let t = build(&config(false), &HttpContainers::new());
        assert_eq!(container_timeout(&t, "a"), Duration::from_secs(7));
        assert_eq!(container_timeout(&t, "b"), Duration::from_millis(2500));
        assert_eq!(
            t.resource_bases,
            vec![
                ("a".to_string(), "http://10.0.0.1:3000".to_string()),
                ("b".to_string(), "http://10.0.0.2:3000".to_string()),
            ]
        );
    }

    #[test]
    fn backends_become_steps_with_the_jobs_timeout() {
        let mut c = config(false);
        c.backends = vec![BackendConfig {
            id: "llm".into(),
            kind: "ollama".into(),
            url: "http://127.0.0.1:11434".into(),
            ..BackendConfig::default()
        }];
        let t = build(&c, &HttpContainers::new());
        assert_eq!(t.backends.all().len(), 1);
        match &t.steps["llm"] {
            Step::Backend { timeout, .. } => assert_eq!(*timeout, Duration::from_secs(7)),
            Step::Container(_) => panic!("llm should be a backend"),
        }
        assert_eq!(t.steps.len(), 3);
    }

    #[test]
    fn unusable_backends_leave_the_containers() {
        let mut c = config(false);
        c.backends = vec![BackendConfig {
            id: "llm".into(),
            kind: "gpt".into(),
            ..BackendConfig::default()
        }];
        let t = build(&c, &HttpContainers::new());
        assert!(t.backends.all().is_empty());
        assert_eq!(t.steps.len(), 2);
        assert!(!t.steps.contains_key("llm"));
    }
}
