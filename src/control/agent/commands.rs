//! Node commands (model install/remove) with progress; a cancel echoed by the server stops one.

use super::*;

impl Agent {
    pub(super) async fn command_loop(self: &Arc<Self>, mut wait: Duration) {
        loop {
            if !self.pause(wait).await {
                return;
            }
            let poll = CommandPoll { limit: Some(5) };
            let event = match self
                .client
                .call::<_, Commands>("/api/v1/node/commands/poll", &poll, SHORT)
                .await
            {
                Ok(data) => {
                    for c in data.commands {
                        // Commands run side by side, not blocking each other or the poll.
                        let a = self.clone();
                        self.jobs.spawn(async move { a.run_command(c).await });
                    }
                    Event::CommandsPolled
                }
                Err(e) => {
                    tracing::debug!(error = %e, "command poll failed");
                    Event::CommandsFailed(e.to_string())
                }
            };
            match commands_wait(&self.decide(event)) {
                Some(w) => wait = w,
                None => return,
            }
        }
    }

    pub(super) async fn run_command(&self, c: NodeCommand) {
        let NodeCommand { id, command, args } = c;
        let model = args.model;
        tracing::info!(command = %command, model = %model, "node command received");
        let backend = self
            .backends
            .all()
            .iter()
            .find(|b| b.kind() == crate::backend::BackendKind::Ollama)
            .or_else(|| self.backends.all().first())
            .cloned();
        let result: Result<CommandResult, String> = match (command.as_str(), backend) {
            (_, None) => Err("this node has no LLM backend configured".into()),
            ("model_install", Some(b)) => self.install(&id, &model, b).await,
            ("model_remove", Some(b)) => b
                .remove(&model)
                .await
                .map(|_| {
                    CommandResult::Removed(RemovedModel {
                        removed: model.clone(),
                        backend: b.id().to_string(),
                    })
                })
                .map_err(|e| e.to_string()),
            (v, _) => Err(format!("unknown command '{v}'")),
        };
        let ok = result.is_ok();
        let body = match result {
            Ok(r) => Completion::completed(r),
            Err(e) => Completion::failed(e),
        };
        if let Err(e) = self
            .client
            .call::<_, CompleteAck>(
                &format!("/api/v1/node/commands/{id}/complete"),
                &body,
                SHORT,
            )
            .await
        {
            tracing::warn!(error = %e, "could not report the command's result");
        }
        self.status.update(|s| s.commands_run += 1);
        if ok {
            // Capabilities changed: tell the server now, not at the next beat.
            self.refresh_served(true).await;
            self.beat_now.notify_one();
        }
    }

    /// Pulls through the backend, posting progress at most every 2 s (and on phase changes);
    /// a `cancelled` status echoed by the server stops it.
    pub(super) async fn install(
        &self,
        id: &str,
        model: &str,
        b: Arc<dyn ChatBackend>,
    ) -> Result<CommandResult, String> {
        let path = format!("/api/v1/node/commands/{id}/progress");
        let mut stream = b.pull(model);
        let mut last: Option<(Instant, String)> = None;
        let mem = crate::system::Memory::probe();
        while let Some(p) = stream.next().await {
            let p = p.map_err(|e| e.to_string())?;
            // Refuse what cannot load here (the reference's installs OOMed on load).
            if mem.fits(p.total) == Some(false) {
                return Err(format!(
                    "'{model}' does not fit this node: {} is more than {} ({})",
                    crate::system::gb(p.total.unwrap_or(0)),
                    crate::system::gb(mem.fit_limit_bytes()),
                    mem.rule()
                ));
            }
            let due = last.as_ref().is_none_or(|(t, phase)| {
                t.elapsed() >= Duration::from_secs(2) || *phase != p.status
            });
            if due {
                let pct = match (p.completed, p.total) {
                    (Some(c), Some(t)) if t > 0 => Some((c as f64 / t as f64 * 100.0).round()),
                    _ => None,
                };
                let body = Progress {
                    status: "running".into(),
                    phase: p.status.clone(),
                    total: p.total,
                    completed: p.completed,
                    pct,
                };
                if let Ok(r) = self.client.call::<_, CommandAck>(&path, &body, SHORT).await
                    && r.status == "cancelled"
                {
                    return Err("cancelled by the operator".into());
                }
                last = Some((Instant::now(), p.status.clone()));
            }
        }
        Ok(CommandResult::Installed(Installed {
            installed: model.to_string(),
            backend: b.id().to_string(),
        }))
    }
}
