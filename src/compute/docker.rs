//! Managed containers through the local Docker engine (bollard): pull if missing, reuse a
//! container of the same name, else create and start it; wait until it answers; watch it and
//! bring it back when it dies. A container that cannot run is marked unavailable with the
//! reason, and the node keeps serving the others.
use super::state::{ContainerState, StateTable};
use crate::config::{ContainerConfig, DockerCredentialsConfig};
use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, DeviceRequest, HostConfig, PortBinding, RestartPolicy,
    RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, StopContainerOptionsBuilder,
};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const WATCH_EVERY: Duration = Duration::from_secs(1);
/// Bring-up retries: 1 s, 2 s, 4 s … 60 s.
const RETRY: crate::retry::Backoff =
    crate::retry::Backoff::new(Duration::from_secs(1), Duration::from_secs(60));

/// The Docker side of the node's managed containers.
#[derive(Clone)]
pub struct DockerContainers {
    docker: Docker,
    credentials: Option<DockerCredentialsConfig>,
    startup_wait: Duration,
    states: StateTable,
    http: reqwest::Client,
    /// Containers this node started (and so stops at shutdown).
    started: Arc<Mutex<Vec<String>>>,
}

fn is_not_found(e: &DockerError) -> bool {
    matches!(
        e,
        DockerError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

fn docker_message(e: &DockerError) -> String {
    match e {
        DockerError::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Splits a Docker `command` string like a shell would (quotes group words).
pub fn split_command(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut has = false;
    for ch in cmd.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(ch);
                has = true;
            }
            (None, c) if c.is_whitespace() => {
                if has || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if has || !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl DockerContainers {
    /// Connects to the local engine (`DOCKER_HOST` or the default socket) and agrees on an API version.
    pub async fn connect(
        credentials: Option<DockerCredentialsConfig>,
        startup_wait: Duration,
        states: StateTable,
        http: reqwest::Client,
    ) -> Result<Self, String> {
        let docker = Docker::connect_with_local_defaults().map_err(|e| {
            format!("Docker engine unreachable ({e}); install it (Debian: apt-get install docker.io) and start it (systemctl start docker)")
        })?;
        let docker = docker.negotiate_version().await.map_err(|e| {
            format!(
                "Docker engine unreachable ({e}); install it (Debian: apt-get install docker.io) and start it (systemctl start docker)"
            )
        })?;
        Ok(Self {
            docker,
            credentials,
            startup_wait,
            states,
            http,
            started: Arc::new(Mutex::new(Vec::new())),
        })
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Brings one container up and keeps it up until `cancel`.
    pub async fn supervise(self, spec: ContainerConfig, cancel: CancellationToken) {
        let id = spec.id.clone();
        let mut failures = 0;
        // Bring-up, retried with backoff: an image that appears later, or an engine that
        // comes back, makes the container available without a node restart.
        let mut first = true;
        loop {
            let result = tokio::select! {
                r = self.bring_up(&spec, first) => r,
                _ = cancel.cancelled() => return,
            };
            match result {
                Ok(()) => break,
                Err(reason) => {
                    first = false;
                    failures += 1;
                    self.states
                        .set(&id, ContainerState::Unavailable, Some(reason));
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY.delay(failures)) => {},
                        _ = cancel.cancelled() => return,
                    }
                }
            }
        }
        self.wait_ready(&spec, &cancel).await;
        self.watch(&spec, &cancel).await;
    }

    /// `announce`: show the Starting state (not on quiet retries of an unavailable container).
    async fn bring_up(&self, spec: &ContainerConfig, announce: bool) -> Result<(), String> {
        let id = &spec.id;
        if announce {
            self.states.set(id, ContainerState::Starting, None);
        }
        match self.docker.inspect_container(id, None).await {
            Ok(existing) => {
                let running = existing
                    .state
                    .as_ref()
                    .and_then(|s| s.running)
                    .unwrap_or(false);
                tracing::info!(container = %id, running, "reusing existing container");
                if !running {
                    self.start(id).await?;
                }
                return Ok(());
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                return Err(format!(
                    "cannot inspect container '{id}': {}",
                    docker_message(&e)
                ));
            }
        }
        self.ensure_image(spec, announce).await?;
        self.create(spec).await?;
        self.start(id).await
    }

    async fn start(&self, id: &str) -> Result<(), String> {
        self.docker
            .start_container(id, None)
            .await
            .map_err(|e| format!("cannot start container '{id}': {}", docker_message(&e)))?;
        if let Ok(mut s) = self.started.lock()
            && !s.iter().any(|x| x == id)
        {
            s.push(id.to_string());
        }
        Ok(())
    }

    /// Pulls the image only when it is not present locally (Docker's own `pull=missing`).
    async fn ensure_image(&self, spec: &ContainerConfig, announce: bool) -> Result<(), String> {
        let image = &spec.image;
        match self.docker.inspect_image(image).await {
            Ok(_) => return Ok(()),
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                return Err(format!(
                    "cannot inspect image '{image}': {}",
                    docker_message(&e)
                ));
            }
        }
        if announce {
            self.states.set(
                &spec.id,
                ContainerState::Starting,
                Some(format!("pulling image '{image}'")),
            );
        }
        let opts = CreateImageOptionsBuilder::default()
            .from_image(image)
            .build();
        let creds = self.credentials.as_ref().map(|c| DockerCredentials {
            username: Some(c.username.clone()),
            password: Some(c.password.expose().to_string()),
            ..Default::default()
        });
        let mut stream = self.docker.create_image(Some(opts), None, creds);
        let mut last_status = String::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    let status = info.status.unwrap_or_default();
                    if status != last_status {
                        tracing::info!(container = %spec.id, image = %image, status = %status, "pull");
                        last_status = status;
                    }
                    if let Some(p) = info.progress_detail {
                        tracing::debug!(container = %spec.id, current = ?p.current, total = ?p.total, "pull progress");
                    }
                }
                Err(e) => {
                    return Err(format!(
                        "image '{image}' is not present locally and cannot be pulled: {}",
                        docker_message(&e)
                    ));
                }
            }
        }
        Ok(())
    }

    async fn create(&self, spec: &ContainerConfig) -> Result<(), String> {
        let body = create_body(spec);
        let opts = CreateContainerOptionsBuilder::default()
            .name(&spec.id)
            .build();
        self.docker
            .create_container(Some(opts), body)
            .await
            .map_err(|e| {
                format!(
                    "cannot create container '{}': {}",
                    spec.id,
                    docker_message(&e)
                )
            })?;
        tracing::info!(container = %spec.id, image = %spec.image, port = spec.port, "container created");
        Ok(())
    }

    fn probe_url(spec: &ContainerConfig) -> String {
        format!("{}/", super::container::endpoint_base(spec, true))
    }

    /// Any HTTP answer on the published port counts as "up".
    async fn answers(&self, spec: &ContainerConfig) -> bool {
        self.http
            .get(Self::probe_url(spec))
            .timeout(Duration::from_millis(500))
            .send()
            .await
            .is_ok()
    }

    async fn wait_ready(&self, spec: &ContainerConfig, cancel: &CancellationToken) {
        let started = tokio::time::Instant::now();
        let mut warned = false;
        loop {
            if self.answers(spec).await {
                self.states.set(&spec.id, ContainerState::Ready, None);
                return;
            }
            if !warned && started.elapsed() >= self.startup_wait {
                warned = true;
                self.states.set(
                    &spec.id,
                    ContainerState::Starting,
                    Some(format!(
                        "did not answer on port {} within startup_wait ({} s); still waiting",
                        spec.port,
                        self.startup_wait.as_secs_f64()
                    )),
                );
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(100)) => {},
                _ = cancel.cancelled() => return,
            }
        }
    }

    async fn started_at(&self, id: &str) -> Option<String> {
        let c = self.docker.inspect_container(id, None).await.ok()?;
        c.state?.started_at
    }

    /// Polls the container; if it stopped or vanished, brings it back (with backoff).
    async fn watch(&self, spec: &ContainerConfig, cancel: &CancellationToken) {
        let id = &spec.id;
        let mut failures = 0;
        // When Docker's own restart policy brings a crashed container back between two polls,
        // only its start time tells: then it is re-probed before jobs go to it again.
        let mut started_at = self.started_at(id).await;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(WATCH_EVERY) => {},
                _ = cancel.cancelled() => return,
            }
            let running = match self.docker.inspect_container(id, None).await {
                Ok(c) => {
                    let st = c.state.unwrap_or_default();
                    let running = st.running.unwrap_or(false);
                    if running && st.started_at.is_some() && st.started_at != started_at {
                        if started_at.is_some() {
                            tracing::warn!(container = %id, "container restarted by Docker; waiting for it to answer");
                            self.states.set(
                                id,
                                ContainerState::Restarting,
                                Some("container restarted".into()),
                            );
                            self.states.bump_restarts(id);
                            self.wait_ready(spec, cancel).await;
                        }
                        started_at = st.started_at;
                    }
                    running
                }
                Err(e) if is_not_found(&e) => false,
                Err(e) => {
                    self.states.set(
                        id,
                        ContainerState::Unavailable,
                        Some(format!("Docker engine error: {}", docker_message(&e))),
                    );
                    continue;
                }
            };
            if running {
                if self.states.get(id).map(|s| s.state) != Some(ContainerState::Ready)
                    && self.answers(spec).await
                {
                    self.states.set(id, ContainerState::Ready, None);
                }
                failures = 0;
                continue;
            }
            tracing::warn!(container = %id, "container is not running; restarting it");
            self.states.set(
                id,
                ContainerState::Restarting,
                Some("container stopped; restarting".into()),
            );
            match self.bring_up(spec, true).await {
                Ok(()) => {
                    self.states.bump_restarts(id);
                    self.wait_ready(spec, cancel).await;
                    started_at = self.started_at(id).await;
                    failures = 0;
                }
                Err(reason) => {
                    failures += 1;
                    self.states
                        .set(id, ContainerState::Unavailable, Some(reason));
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY.delay(failures)) => {},
                        _ = cancel.cancelled() => return,
                    }
                }
            }
        }
    }

    /// Stops the containers this node started (not removed, as Ritual does: a restart reuses them).
    pub async fn stop_started(&self, timeout: Duration) {
        let ids: Vec<String> = self.started.lock().map(|s| s.clone()).unwrap_or_default();
        let opts = StopContainerOptionsBuilder::default()
            .t(timeout.as_secs() as i32)
            .build();
        let stops = ids.iter().map(|id| {
            let opts = opts.clone();
            async move {
                match self.docker.stop_container(id, Some(opts)).await {
                    Ok(()) => tracing::info!(container = %id, "container stopped"),
                    Err(e) => tracing::warn!(container = %id, error = %docker_message(&e), "could not stop container"),
                }
                self.states.set(id, ContainerState::Stopped, None);
            }
        });
        futures::future::join_all(stops).await;
    }
}

/// The Docker create request for a container entry (Ritual's `docker run` settings).
pub fn create_body(spec: &ContainerConfig) -> ContainerCreateBody {
    let mut ports = HashMap::new();
    ports.insert(
        "3000/tcp".to_string(),
        Some(vec![PortBinding {
            host_ip: Some(spec.host_ip.clone()),
            host_port: Some(spec.port.to_string()),
        }]),
    );
    let host_config = HostConfig {
        port_bindings: Some(ports),
        binds: (!spec.volumes.is_empty()).then(|| spec.volumes.clone()),
        restart_policy: Some(RestartPolicy {
            name: Some(RestartPolicyNameEnum::ON_FAILURE),
            maximum_retry_count: Some(5),
        }),
        device_requests: spec.gpu.then(|| {
            vec![DeviceRequest {
                count: Some(-1),
                capabilities: Some(vec![vec!["gpu".to_string()]]),
                ..Default::default()
            }]
        }),
        ..Default::default()
    };
    let cmd = split_command(&spec.command);
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: (!cmd.is_empty()).then_some(cmd),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        exposed_ports: Some(vec!["3000/tcp".to_string()]),
        labels: Some(HashMap::from([(
            "infernet.managed".to_string(),
            "true".to_string(),
        )])),
        host_config: Some(host_config),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_splits_like_a_shell() {
        assert_eq!(
            split_command("--bind=0.0.0.0:3000 --workers=2"),
            vec!["--bind=0.0.0.0:3000", "--workers=2"]
        );
        assert_eq!(
            split_command(r#"--tag "two words" ''"#),
            vec!["--tag", "two words", ""]
        );
        assert!(split_command("   ").is_empty());
    }

    #[test]
    fn create_body_applies_every_setting() {
        let mut spec = ContainerConfig {
            id: "w".into(),
            image: "img:1".into(),
            port: 3055,
            gpu: true,
            command: "--workers 2".into(),
            volumes: vec!["/h:/c:ro".into()],
            ..Default::default()
        };
        spec.env.insert("A".into(), "1".into());
        let b = create_body(&spec);
        assert_eq!(b.image.as_deref(), Some("img:1"));
        assert_eq!(b.cmd, Some(vec!["--workers".to_string(), "2".to_string()]));
        assert_eq!(b.env, Some(vec!["A=1".to_string()]));
        let hc = b.host_config.unwrap();
        let bind = hc.port_bindings.unwrap()["3000/tcp"].clone().unwrap()[0].clone();
        assert_eq!(
            (bind.host_ip.as_deref(), bind.host_port.as_deref()),
            (Some("127.0.0.1"), Some("3055"))
        );
        assert_eq!(hc.binds, Some(vec!["/h:/c:ro".to_string()]));
        let gpu = &hc.device_requests.unwrap()[0];
        assert_eq!(gpu.count, Some(-1));
        assert_eq!(gpu.capabilities, Some(vec![vec!["gpu".to_string()]]));
        let rp = hc.restart_policy.unwrap();
        assert_eq!(
            (rp.name, rp.maximum_retry_count),
            (Some(RestartPolicyNameEnum::ON_FAILURE), Some(5))
        );
        spec.gpu = false;
        assert!(
            create_body(&spec)
                .host_config
                .unwrap()
                .device_requests
                .is_none()
        );
    }
}
