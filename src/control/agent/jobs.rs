//! Chat jobs from the control plane: polled at the pace the lifecycle sets, run on the local
//! backends (in-flight ids never twice), events batched, `complete` retried idempotently.

use super::runs::Claimed;
use super::*;

/// Where a run posts its events, and for which lease.
pub(super) struct Post {
    path: String,
    attempt: Option<i64>,
}

/// A done event's `reason` on the wire.
pub(super) fn reason_name(r: DoneReason) -> &'static str {
    match r {
        DoneReason::Stop => "stop",
        DoneReason::Length => "length",
        DoneReason::Cancel => "cancel",
    }
}

impl Agent {
    pub(super) async fn job_loop(self: &Arc<Self>, mut wait: Duration) {
        let wait_ms = (self.cfg.poll_wait * 1000.0) as u64;
        loop {
            if !self.pause(wait).await {
                return;
            }
            // Wait for a free slot before asking for work.
            let permit = tokio::select! {
                p = self.slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
                _ = self.intake.cancelled() => return,
            };
            let free = self.slots.available_permits() + 1;
            drop(permit);
            let started = Instant::now();
            let body = JobPoll {
                limit: Some(free as i64),
                wait_ms: Some(wait_ms),
            };
            let timeout = Duration::from_millis(wait_ms) + SHORT;
            let r = tokio::select! {
                r = self.client.call::<_, Jobs<AssignedJob>>("/api/v1/node/jobs/poll", &body, timeout) => r,
                _ = self.intake.cancelled() => return,
            };
            let event = match r {
                Ok(data) => {
                    let mut new = 0;
                    for j in data.jobs {
                        new += usize::from(self.start_job(j).await);
                    }
                    // Only jobs started here count: a job the server hands out again while
                    // it runs is no reason to ask again at once.
                    Event::Polled {
                        jobs: new,
                        waited: started.elapsed(),
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "job poll failed");
                    Event::PollFailed(e.to_string())
                }
            };
            match poll_wait(&self.decide(event)) {
                Some(w) => wait = w,
                None => return,
            }
        }
    }

    /// Starts `job` unless this lease of it already runs here; true when it started. A job
    /// handed out again at a new attempt while it runs here was re-queued (its lease ran
    /// out): the old run is cancelled and the job starts over (`runs.rs`).
    pub(super) async fn start_job(self: &Arc<Self>, job: AssignedJob) -> bool {
        if job.id.is_empty() {
            return false;
        }
        let id = job.id.clone();
        let claimed = self
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .claim(&id, job.attempt, &self.abort_jobs);
        let ticket = match claimed {
            Claimed::Duplicate => {
                tracing::debug!(job = %id, "job already running here; not started twice");
                return false;
            }
            Claimed::Start(t) => t,
            Claimed::Restart { ticket, old } => {
                tracing::warn!(
                    job = %id,
                    attempt = ?job.attempt,
                    old_attempt = ?old,
                    "job leased to this node again while its earlier attempt still ran here (that lease ran out): restarting it"
                );
                ticket
            }
        };
        let Ok(permit) = self.slots.clone().acquire_owned().await else {
            // Stopping: the run never starts, so it holds no place.
            self.in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .finish(&id, ticket.serial);
            return false;
        };
        self.moved(&id);
        self.status.update(|s| {
            s.jobs_picked += 1;
            s.active_jobs.push(id.clone());
        });
        let a = self.clone();
        self.jobs.spawn(async move {
            let ok = a.run_job(&id, &job, &ticket.cancel).await;
            drop(permit);
            let last = a
                .in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .finish(&id, ticket.serial);
            if last {
                a.progress
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
            }
            a.status.update(|s| {
                // One entry: a restarted job has one per run.
                if let Some(i) = s.active_jobs.iter().position(|j| j == &id) {
                    s.active_jobs.remove(i);
                }
                match ok {
                    Some(true) => s.jobs_completed += 1,
                    Some(false) => s.jobs_failed += 1,
                    None => s.jobs_lost += 1,
                }
            });
        });
        true
    }

    /// Job `id` made progress now (its lease is worth renewing).
    fn moved(&self, id: &str) {
        self.progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), Instant::now());
    }

    /// Runs one chat job: Some(true) completed, Some(false) failed, None when the lease was
    /// lost (another node has it now) or the node stopped first.
    pub(super) async fn run_job(
        &self,
        id: &str,
        job: &AssignedJob,
        cancel: &CancellationToken,
    ) -> Option<bool> {
        let attempt = job.attempt;
        let spec = match InputSpec::deserialize(&job.input_spec) {
            Ok(s) => s,
            Err(e) => {
                return self
                    .fail(
                        id,
                        attempt,
                        &format!("the job's input_spec is malformed: {e}"),
                    )
                    .await;
            }
        };
        let model = job.model_name.clone();
        let served = self.refresh_served(false).await;
        let Some((model_name, backend)) = served.backend(model.as_deref()) else {
            let msg = format!(
                "this node does not serve '{}' (serves: {})",
                model.as_deref().unwrap_or("any model"),
                served.names().join(", ")
            );
            return self.fail(id, attempt, &msg).await;
        };
        if spec.messages.is_empty() {
            return self.fail(id, attempt, "the job has no messages").await;
        }
        let req = ChatRequest {
            id: id.to_string(),
            messages: spec
                .messages
                .iter()
                .map(|m: &ChatMessage| Message::new(&m.role, &m.content))
                .collect(),
            model: Some(model_name.clone()),
            temperature: spec.temperature,
            max_tokens: spec.max_tokens().map(|n| n.min(u32::MAX as u64) as u32),
        };
        // Its own token: giving up a stalled stream is not losing the lease.
        let backend_cancel = cancel.child_token();
        let mut stream = backend.chat(req, backend_cancel.clone());
        let mut idle_at = tokio::time::Instant::now() + self.stream_idle;
        let started = Instant::now();
        let post = Post {
            path: format!("/api/v1/node/jobs/{id}/events"),
            attempt,
        };
        let mut batch = crate::control::batch::Batch::default();
        let mut tokens = 0u64;
        // Events posted so far in this attempt: each batch carries its first one's number.
        let mut seq = 0u64;
        let mut outcome: Option<Result<ChatResult, String>> = None;
        loop {
            let due = batch.deadline();
            let flush_at = tokio::time::Instant::from_std(due.unwrap_or_else(Instant::now));
            let ev = tokio::select! {
                ev = stream.next() => ev,
                _ = tokio::time::sleep_until(flush_at), if due.is_some() => {
                    if !self.flush(&post, batch.take(), &mut seq, cancel).await { return None; }
                    continue;
                }
                _ = tokio::time::sleep_until(idle_at) => {
                    backend_cancel.cancel();
                    let why = format!(
                        "the backend sent nothing for {} s (stalled stream; jobs.stream_idle_timeout)",
                        self.stream_idle.as_secs_f64()
                    );
                    tracing::warn!(job = %id, backend = %backend.id(), "{why}");
                    let (event, _, end) = self.job_event(
                        ChatEvent::Error { id: id.to_string(), message: why },
                        tokens,
                        started,
                    );
                    outcome = end;
                    batch.push(event, true, Instant::now());
                    break;
                }
            };
            let Some(ev) = ev else { break };
            idle_at = tokio::time::Instant::now() + self.stream_idle;
            self.moved(id);
            if matches!(ev, ChatEvent::Token { .. }) {
                tokens += 1;
            }
            let (event, urgent, end) = self.job_event(ev, tokens, started);
            if end.is_some() {
                outcome = end;
            }
            if batch.push(event, urgent, Instant::now())
                && !self.flush(&post, batch.take(), &mut seq, cancel).await
            {
                return None;
            }
        }
        if !batch.is_empty() && !self.flush(&post, batch.take(), &mut seq, cancel).await {
            return None;
        }
        if cancel.is_cancelled() {
            // Stopped before the end: the lease runs out and another node runs it.
            return None;
        }
        let outcome =
            outcome.unwrap_or_else(|| Err("the backend ended the stream without a result".into()));
        if outcome.is_ok() {
            let secs = started.elapsed().as_secs_f64();
            if tokens > 0 && secs > 0.0 {
                let mut b = self.bench.lock().unwrap_or_else(|e| e.into_inner());
                b.push(tokens as f64 / secs);
                let n = b.len();
                if n > 32 {
                    b.drain(..n - 32);
                }
            }
        }
        let body = match outcome {
            Ok(result) => Completion::completed(result),
            Err(e) => Completion::failed(e),
        }
        .of_attempt(attempt);
        self.complete(id, &body).await
    }

    /// A backend's event as the job event to post (true: post it now), and the job's
    /// outcome when the event ends it.
    pub(super) fn job_event(
        &self,
        ev: ChatEvent,
        tokens: u64,
        started: Instant,
    ) -> (JobEvent, bool, Option<Result<ChatResult, String>>) {
        match ev {
            ChatEvent::Meta {
                model,
                backend,
                started_at,
                ..
            } => {
                let meta = MetaData {
                    provider_node_id: Some(self.node_id.clone()),
                    provider_name: Some(self.name.clone()),
                    model: Some(model),
                    started_at: Some(started_at),
                    engine: Some(backend),
                };
                (JobEvent::Meta(meta), true, None)
            }
            // The first token goes out at once (the client's time to first token); the rest
            // are batched.
            ChatEvent::Token { text, .. } => {
                (JobEvent::Token(TokenData { text }), tokens == 1, None)
            }
            ChatEvent::Done {
                reason,
                text,
                usage,
                finished_at,
                ..
            } => {
                let usage = usage.map(|u| Usage {
                    prompt_tokens: u.prompt_tokens,
                    completion_tokens: u.completion_tokens,
                });
                let result = ChatResult {
                    kind: "chat".into(),
                    text: Some(text.clone()),
                    token_count: usage.map(|u| u.completion_tokens).unwrap_or(tokens),
                    duration_ms: started.elapsed().as_millis() as u64,
                    completed_by: self.node_id.clone(),
                    usage,
                };
                let done = DoneData {
                    text: Some(text),
                    reason: Some(reason_name(reason).to_string()),
                    finished_at: Some(finished_at),
                    // Sent as null when the backend reported none.
                    usage: Some(usage),
                };
                (JobEvent::Done(done), true, Some(Ok(result)))
            }
            ChatEvent::Error { message, .. } => {
                let data = ErrorData {
                    message: Some(message.clone()),
                };
                (JobEvent::Error(data), true, Some(Err(message)))
            }
        }
    }

    /// Posts a batch of events; false when the job is no longer ours (lease lost: the
    /// backend is cancelled) or the node is stopping.
    /// `seq`: the number of the batch's first event; advanced past it once it is stored, so a
    /// retry (even through another replica) stores nothing twice.
    pub(super) async fn flush(
        &self,
        post: &Post,
        events: Vec<JobEvent>,
        seq: &mut u64,
        cancel: &CancellationToken,
    ) -> bool {
        let n = events.len() as u64;
        let body = JobEvents {
            events,
            first_seq: Some(*seq),
            attempt: post.attempt,
        };
        let mut failures = 0;
        loop {
            match self
                .client
                .call::<_, EventsAck>(&post.path, &body, SHORT)
                .await
            {
                Ok(_) => {
                    *seq += n;
                    return true;
                }
                Err(e) if e.retryable() && failures < 5 && !cancel.is_cancelled() => {
                    failures += 1;
                    tracing::warn!(error = %e, "could not post job events; retrying");
                    tokio::time::sleep(EVENTS_RETRY.delay(failures)).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "job events refused; the job was given to another node");
                    cancel.cancel();
                    return false;
                }
            }
        }
    }

    pub(super) async fn fail(&self, id: &str, attempt: Option<i64>, msg: &str) -> Option<bool> {
        let path = format!("/api/v1/node/jobs/{id}/events");
        let ev = JobEvents {
            events: vec![JobEvent::Error(ErrorData {
                message: Some(msg.to_string()),
            })],
            first_seq: None,
            attempt,
        };
        let _ = self.client.call::<_, EventsAck>(&path, &ev, SHORT).await;
        self.complete(id, &Completion::failed(msg.to_string()).of_attempt(attempt))
            .await
    }

    /// `complete`, retried on transport errors; the server makes repeats no-ops.
    pub(super) async fn complete(&self, id: &str, body: &Completion<ChatResult>) -> Option<bool> {
        let path = format!("/api/v1/node/jobs/{id}/complete");
        let ok = body.status.is_ok();
        let mut failures = 0;
        loop {
            match self.client.call::<_, CompleteAck>(&path, body, SHORT).await {
                Ok(_) => return Some(ok),
                Err(e) if e.retryable() && failures < 8 && !self.stop.is_cancelled() => {
                    failures += 1;
                    tracing::warn!(job = %id, error = %e, "complete failed; retrying");
                    tokio::time::sleep(COMPLETE_RETRY.delay(failures)).await;
                }
                Err(e) => {
                    tracing::warn!(job = %id, error = %e, "complete refused");
                    return None;
                }
            }
        }
    }
}
