//! `EngineCommand`: everything the daemon, the CLI and the TUI bridge ask of a running engine,
//! through one entry point (`EngineHandle::command`). Reads of state go through the snapshot
//! (`EngineHandle::snapshot`); anything that acts or reads the store is a command here.
use super::EngineHandle;
use crate::backend::{BackendError, PullProgress};
use crate::store::{JobRecord, JobSummary};
use futures::stream::BoxStream;
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineCommand {
    /// Restart a container this node manages in Docker.
    RestartContainer { id: String },
    /// Pull a model on a configured backend; the reply streams its progress.
    PullModel { backend: String, model: String },
    /// One stored job with its input.
    JobDetail { id: String },
    /// The newest jobs, without their results.
    RecentJobs { limit: u32 },
    /// Stop taking requests, let running jobs finish, stop the containers, flush the store.
    Shutdown,
}

/// A stored job and the input it was given.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDetail {
    pub record: JobRecord,
    pub input: Option<Value>,
}

pub enum CommandReply {
    Done,
    /// A pull started on backend `backend`: progress until the stream ends.
    Pull {
        backend: String,
        progress: BoxStream<'static, Result<PullProgress, BackendError>>,
    },
    Job(Box<JobDetail>),
    Jobs(Vec<JobSummary>),
}

impl std::fmt::Debug for CommandReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandReply::Done => f.write_str("Done"),
            CommandReply::Pull { backend, .. } => write!(f, "Pull({backend})"),
            CommandReply::Job(j) => write!(f, "Job({})", j.record.id),
            CommandReply::Jobs(v) => write!(f, "Jobs({})", v.len()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(
        "container '{0}' is not managed by this node (manage_containers is false, or no such id)"
    )]
    NotManaged(String),
    #[error("the Docker engine is not connected yet")]
    DockerNotConnected,
    #[error("Docker could not restart '{id}': {reason}")]
    Docker { id: String, reason: String },
    #[error("no configured backend '{0}'")]
    NoBackend(String),
    #[error("job '{0}' is no longer stored (pruned after its retention)")]
    NoJob(String),
    #[error("cannot read job '{id}': {source}")]
    ReadJob {
        id: String,
        source: crate::store::Error,
    },
    #[error("cannot read recent jobs: {0}")]
    ReadJobs(crate::store::Error),
}

impl EngineHandle {
    /// Carries out one command.
    pub async fn command(&self, cmd: EngineCommand) -> Result<CommandReply, CommandError> {
        match cmd {
            EngineCommand::RestartContainer { id } => {
                self.restart_container(&id).await?;
                Ok(CommandReply::Done)
            }
            EngineCommand::PullModel { backend, model } => {
                let b = self
                    .backends
                    .get(&backend)
                    .ok_or(CommandError::NoBackend(backend))?;
                Ok(CommandReply::Pull {
                    backend: b.id().to_string(),
                    progress: b.pull(&model),
                })
            }
            EngineCommand::JobDetail { id } => self.job_detail(id).await,
            EngineCommand::RecentJobs { limit } => self
                .store
                .recent(limit)
                .await
                .map(CommandReply::Jobs)
                .map_err(CommandError::ReadJobs),
            EngineCommand::Shutdown => {
                self.shutdown().await;
                Ok(CommandReply::Done)
            }
        }
    }

    async fn job_detail(&self, id: String) -> Result<CommandReply, CommandError> {
        let read = |source| CommandError::ReadJob {
            id: id.clone(),
            source,
        };
        let record = self
            .store
            .get_many(None, std::slice::from_ref(&id))
            .await
            .map_err(read)?
            .into_iter()
            .next()
            .ok_or_else(|| CommandError::NoJob(id.clone()))?;
        let input = self.store.job_input(&id).await.map_err(read)?;
        Ok(CommandReply::Job(Box::new(JobDetail { record, input })))
    }

    /// Restarts a managed container; the supervisor sees the new start and waits for the
    /// container to answer before jobs go to it again.
    async fn restart_container(&self, id: &str) -> Result<(), CommandError> {
        if !self.managed.iter().any(|m| m == id) {
            return Err(CommandError::NotManaged(id.to_string()));
        }
        let docker = self.docker.get().ok_or(CommandError::DockerNotConnected)?;
        tracing::info!(container = %id, "restart requested");
        docker
            .docker()
            .restart_container(
                id,
                None::<bollard::query_parameters::RestartContainerOptions>,
            )
            .await
            .map_err(|e| CommandError::Docker {
                id: id.to_string(),
                reason: e.to_string(),
            })
    }

    /// Stops taking requests, lets running jobs finish (up to `jobs.shutdown_grace`), stops the
    /// containers this node started, marks what is left as failed and flushes the store.
    pub async fn shutdown(&self) {
        tracing::info!("shutting down");
        if let Some(agent) = &self.control {
            agent.drain(self.grace).await;
        }
        let drained = self.jobs.drain(self.grace).await;
        if !drained {
            tracing::warn!(
                grace_s = self.grace.as_secs_f64(),
                "jobs still running after the grace period"
            );
        }
        self.cancel.cancel();
        if let Some(d) = self.docker.get() {
            d.stop_started(Duration::from_secs(10)).await;
        }
        self.tasks.close();
        if tokio::time::timeout(Duration::from_secs(5), self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some tasks did not stop within 5 s");
        }
        match self
            .store
            .fail_running("node stopped before the job finished")
            .await
        {
            Ok(n) if n > 0 => tracing::warn!(jobs = n, "unfinished jobs marked failed"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "could not mark unfinished jobs"),
        }
        if let Err(e) = self.store.flush().await {
            tracing::error!(error = %e, "could not flush the store");
        }
        tracing::info!("stopped");
    }
}
