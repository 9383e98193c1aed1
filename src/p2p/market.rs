//! The jobs topic, seen from the swarm loop: offers this node can serve get a bid (the
//! decision is `auction::Worker`'s), an accept naming this node starts the job, and the bids
//! and receipts for this node's own offers go to the buyer waiting on them. Direct streams
//! from workers are read here up to their header and handed to their job's buyer.
use super::Shared;
use super::buyer::{Heard, Routes};
use super::direct::{CHAT_PROTOCOL, Reader};
use super::worker::{Assignment, WorkerCtx};
use crate::clock::now_ms;
use futures::StreamExt;
use infernet_core::c0mpute::auction::{Terms, Worker};
use infernet_core::c0mpute::spec::InferenceSpec;
use infernet_core::c0mpute::{JobMessage, MAX_AGE_MS, MAX_MESSAGE_BYTES, Refused};
use libp2p::{PeerId, gossipsub};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long a stream may take to send its header.
const HEADER_WAIT: Duration = Duration::from_secs(10);

/// An offer this node bid on, until it is accepted (by us or another) or expires.
struct Bidding {
    buyer: PeerId,
    spec: InferenceSpec,
    until_ms: i64,
}

pub(super) struct Market {
    worker: Worker,
    ctx: Arc<WorkerCtx>,
    bidding: HashMap<String, Bidding>,
    running: Arc<AtomicUsize>,
    stop: CancellationToken,
}

impl Drop for Market {
    fn drop(&mut self) {
        // The swarm this market served is gone: its jobs cannot stream any more.
        self.stop.cancel();
    }
}

impl Market {
    pub fn new(ctx: WorkerCtx) -> Self {
        Self {
            worker: Worker::default(),
            ctx: Arc::new(ctx),
            bidding: HashMap::new(),
            running: Arc::new(AtomicUsize::new(0)),
            stop: CancellationToken::new(),
        }
    }

    pub fn me(&self) -> PeerId {
        self.ctx.me
    }

    /// Jobs this node runs now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    /// One message on the jobs topic; the bid to publish, if this node bids.
    pub fn on_message(
        &mut self,
        m: &gossipsub::Message,
        terms: &Terms,
        routes: &Routes,
        shared: &Arc<Mutex<Shared>>,
    ) -> Option<Vec<u8>> {
        let source = m.source.map(|p| p.to_string());
        let refuse = |what: &str, why: Refused| {
            super::note_refusal(shared, source.as_deref(), what, &why.to_string());
            None
        };
        if m.data.len() > MAX_MESSAGE_BYTES {
            return refuse("job message", Refused::Oversized(m.data.len()));
        }
        let Some(msg) = JobMessage::parse(&m.data) else {
            return refuse(
                "job message",
                Refused::Malformed("not a c0mpute job message".into()),
            );
        };
        let now = now_ms();
        match msg {
            JobMessage::Offer(o) => {
                let spec = match o.spec_inline.as_ref().map(InferenceSpec::parse) {
                    Some(Ok(s)) => s,
                    Some(Err(e)) => {
                        tracing::debug!(job = %o.job_id, "offer not served: {e}");
                        return None;
                    }
                    None => {
                        tracing::debug!(job = %o.job_id, "offer without an inline spec: not served");
                        return None;
                    }
                };
                let size = m.data.len();
                match self.worker.consider(
                    size,
                    source.as_deref(),
                    &o,
                    spec.model.as_deref(),
                    terms,
                    now,
                ) {
                    Ok(bid) => {
                        let Ok(buyer) = o.buyer_peer_id.parse::<PeerId>() else {
                            return refuse(
                                "offer",
                                Refused::Malformed("the buyer is not a peer id".into()),
                            );
                        };
                        self.bidding.retain(|_, b| b.until_ms > now);
                        self.bidding.insert(
                            o.job_id.clone(),
                            Bidding {
                                buyer,
                                spec,
                                until_ms: now + MAX_AGE_MS,
                            },
                        );
                        shared
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .view
                            .bids_sent += 1;
                        Some(JobMessage::Bid(bid).to_bytes())
                    }
                    // Forged, stale, oversized or flooding: refused loudly. Not ours to
                    // serve (another model, a price too low): quietly.
                    Err(why) if why.is_abuse() => refuse("offer", why),
                    Err(why) if why.to_string().contains("too many offers") => refuse("offer", why),
                    Err(why) => {
                        tracing::debug!(job = %o.job_id, "no bid: {why}");
                        None
                    }
                }
            }
            JobMessage::Accept(a) => {
                // Only the offer's buyer closes it: an accept from anyone else is refused
                // and changes nothing (a forged one must not cancel the real winner's job).
                let buyer = self.bidding.get(&a.job_id)?.buyer.to_string();
                if source.as_deref() != Some(buyer.as_str()) || a.buyer_peer_id != buyer {
                    return refuse(
                        "accept",
                        Refused::SourceMismatch {
                            from: source.clone().unwrap_or_default(),
                            claimed: a.buyer_peer_id.clone(),
                        },
                    );
                }
                let b = self.bidding.remove(&a.job_id)?;
                if a.winning_bidder_peer_id != self.ctx.me.to_string() {
                    return None;
                }
                shared
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .view
                    .jobs_won += 1;
                tracing::info!(job = %a.job_id, buyer = %a.buyer_peer_id, price = a.agreed_price_usd, "p2p job won");
                let (ctx, running, stop) =
                    (self.ctx.clone(), self.running.clone(), self.stop.clone());
                let job = Assignment {
                    job_id: a.job_id,
                    buyer: b.buyer,
                    spec: b.spec,
                };
                running.fetch_add(1, Ordering::Relaxed);
                crate::supervise::spawn_logged("p2p-job", async move {
                    super::worker::run(&ctx, job, &stop).await;
                    running.fetch_sub(1, Ordering::Relaxed);
                });
                None
            }
            JobMessage::Bid(ref b) => {
                let job = b.job_id.clone();
                route(routes, &job, source, m.data.len(), msg);
                None
            }
            JobMessage::Receipt(ref r) => {
                let job = r.job_id.clone();
                route(routes, &job, source, m.data.len(), msg);
                None
            }
        }
    }
}

fn route(routes: &Routes, job: &str, source: Option<String>, size: usize, msg: JobMessage) {
    let tx = routes
        .msgs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(job)
        .cloned();
    if let Some(tx) = tx {
        // A full queue drops the message: the buyer is flooded, the rest still reach it.
        let _ = tx.try_send(Heard { source, size, msg });
    }
}

/// Takes the direct streams workers open to this node: each is read up to its header and
/// handed to the buyer of that job (a stream for no job of ours is closed).
pub(super) fn accept_streams(
    mut control: libp2p_stream::Control,
    routes: Arc<Routes>,
    cancel: CancellationToken,
) -> Result<(), String> {
    let mut incoming = control
        .accept(CHAT_PROTOCOL)
        .map_err(|e| format!("cannot take job streams: {e}"))?;
    crate::supervise::spawn_logged("p2p-streams", async move {
        loop {
            let next = tokio::select! {
                n = incoming.next() => n,
                _ = cancel.cancelled() => return,
            };
            let Some((peer, stream)) = next else { return };
            let routes = routes.clone();
            crate::supervise::spawn_logged("p2p-stream", async move {
                match tokio::time::timeout(HEADER_WAIT, Reader::open(stream)).await {
                    Ok(Ok((job, reader))) => {
                        let tx = routes
                            .streams
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get(&job)
                            .cloned();
                        match tx {
                            Some(tx) => {
                                let _ = tx.send((peer, reader)).await;
                            }
                            None => {
                                tracing::warn!(%peer, %job, "a job stream for no offer of ours: closed")
                            }
                        }
                    }
                    Ok(Err(why)) => tracing::warn!(%peer, "a job stream refused: {why}"),
                    Err(_) => tracing::warn!(%peer, "a job stream sent no header in 10 s: closed"),
                }
            });
        }
    });
    Ok(())
}
