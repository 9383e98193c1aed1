//! Managed containers: the Docker connection, retried in the background, then one
//! supervised task per container.
use crate::compute::{ContainerState, DockerContainers, StateTable};
use crate::config::{Config, ContainerConfig};
use crate::supervise::{Backoff, Never, Supervisor};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The Docker connection, once made. A slot rather than a value: Docker may be unreachable
/// when the node starts (it is retried in the background while the node serves what it can),
/// and the handle that restarts and stops containers exists from the start. It stays empty
/// when the node manages no containers.
#[derive(Clone, Default)]
pub(super) struct DockerSlot(Arc<OnceLock<DockerContainers>>);

impl DockerSlot {
    pub fn get(&self) -> Option<&DockerContainers> {
        self.0.get()
    }
}

/// Connects when the node manages containers; the returned slot is filled once connected.
pub(super) fn spawn(
    sup: &Supervisor,
    config: &Config,
    states: &StateTable,
    http: &reqwest::Client,
) -> DockerSlot {
    let slot = DockerSlot::default();
    if config.manage_containers && !config.containers.is_empty() {
        connect(sup, config, states.clone(), http.clone(), slot.clone());
    }
    slot
}

/// Connects to Docker in the background, retrying with backoff; while the engine is
/// unreachable every managed container is unavailable with the reason, and the node keeps
/// serving what it can. Once connected, each container gets its own supervisor task.
fn connect(
    sup: &Supervisor,
    config: &Config,
    states: StateTable,
    http: reqwest::Client,
    slot: DockerSlot,
) {
    let sup2 = sup.clone();
    let wait = Duration::from_secs_f64(config.startup_wait.max(0.0));
    let creds = config.docker.clone();
    let specs = config.containers.clone();
    sup.restart::<_, _, Never>("docker-connect", Backoff::default(), move |cancel| {
        let (slot, sup, creds, specs, states, http) = (
            slot.clone(),
            sup2.clone(),
            creds.clone(),
            specs.clone(),
            states.clone(),
            http.clone(),
        );
        async move {
            let retry = Backoff::default();
            let mut failures = 0;
            loop {
                let attempt =
                    DockerContainers::connect(creds.clone(), wait, states.clone(), http.clone());
                let result = tokio::select! {
                    r = tokio::time::timeout(Duration::from_secs(10), attempt) => r,
                    _ = cancel.cancelled() => return Ok(()),
                };
                let reason = match result {
                    Ok(Ok(d)) => {
                        supervise_each(&sup, &d, specs);
                        let _ = slot.0.set(d);
                        return Ok(());
                    }
                    Ok(Err(reason)) => reason,
                    Err(_) => "Docker engine did not answer within 10 s".to_string(),
                };
                for c in &specs {
                    states.set(&c.id, ContainerState::Unavailable, Some(reason.clone()));
                }
                failures += 1;
                tokio::select! {
                    _ = tokio::time::sleep(retry.delay(failures)) => {},
                    _ = cancel.cancelled() => return Ok(()),
                }
            }
        }
    });
}

/// Each container gets its own supervised task.
fn supervise_each(sup: &Supervisor, docker: &DockerContainers, specs: Vec<ContainerConfig>) {
    for spec in specs {
        let d = docker.clone();
        sup.restart::<_, _, Never>(
            &format!("container:{}", spec.id),
            Backoff::default(),
            move |token| {
                let fut = d.clone().supervise(spec.clone(), token);
                async move {
                    fut.await;
                    Ok(())
                }
            },
        );
    }
}
