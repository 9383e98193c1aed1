//! The buyer's side of a chat over the swarm: offer the job on `c0mpute/jobs/
//! infernet.inference`, collect bids for the window, accept the cheapest (the earliest on a
//! tie), take the winner's direct stream and pass its events on as one coherent answer. A
//! winner that never streams, or whose stream breaks before the end, is left out and the job
//! is offered again (its text continues where the reader is, or the answer ends with the
//! reason if it differs). The winner's signed receipt is then checked: its signature
//! against the key in its peer id, its output hash against the text received.
use super::direct::Reader;
use super::{Cmd, Shared, publish, worker::output_hash};
use crate::backend::{ChatEvent, ChatRequest};
use crate::clock::now_ms;
use infernet_core::c0mpute::auction::Auction;
use infernet_core::c0mpute::spec::{InferenceSpec, SpecMessage};
use infernet_core::c0mpute::{
    JobAccept, JobMessage, JobOffer, JobReceipt, ROLE_TAG, ReceiptStatus, WORKLOAD_INFERENCE,
    receipt,
};
use infernet_core::continuity::Continuity;
use libp2p::PeerId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Offers made for one request before it fails.
const MAX_OFFERS: usize = 3;
/// How long a stream may stay silent before the worker counts as gone.
const SILENCE: Duration = Duration::from_secs(60);
/// How long the receipt may take after the answer.
const RECEIPT_WAIT: Duration = Duration::from_secs(10);
/// How long an offer stays open to workers.
const OFFER_TTL_MS: i64 = 5 * 60 * 1000;

pub(super) const DIVERGED: &str = "the node running this job went away and the next one's output differs from what was already sent; send the request again";

/// A job message heard on the jobs topic for one of our offers.
#[derive(Debug)]
pub(super) struct Heard {
    pub source: Option<String>,
    pub size: usize,
    pub msg: JobMessage,
}

/// Where the swarm loop and the stream acceptor hand our offers' messages and streams.
#[derive(Default)]
pub(super) struct Routes {
    pub msgs: Mutex<HashMap<String, mpsc::Sender<Heard>>>,
    pub streams: Mutex<HashMap<String, mpsc::Sender<(PeerId, Reader)>>>,
}

/// Removes one offer's routes when the offer is done with.
struct Route<'a> {
    routes: &'a Routes,
    job: String,
}

impl Drop for Route<'_> {
    fn drop(&mut self) {
        self.routes
            .msgs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.job);
        self.routes
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.job);
    }
}

pub(super) struct BuyerCtx {
    pub me: PeerId,
    pub cmds: mpsc::Sender<Cmd>,
    pub routes: Arc<Routes>,
    pub window_ms: i64,
    /// How long the winner has to start streaming (`p2p.stream_wait`).
    pub stream_wait: Duration,
    pub max_price_usd: f64,
    pub topic: String,
    pub shared: Arc<Mutex<Shared>>,
}

/// One chat over the swarm, as chat events (the last is `done` or `error`).
pub(super) async fn buy(
    ctx: &BuyerCtx,
    req: ChatRequest,
    tx: &mpsc::Sender<ChatEvent>,
    cancel: &CancellationToken,
) {
    let id = req.id.clone();
    let fail = |message: String| ChatEvent::Error {
        id: id.clone(),
        message,
    };
    let spec = InferenceSpec {
        model: req.model.clone(),
        messages: req
            .messages
            .iter()
            .map(|m| SpecMessage {
                role: m.role.clone(),
                content: m.content.clone(),
            })
            .collect(),
        max_tokens: req.max_tokens,
        temperature: req.temperature,
    };
    let spec_json = serde_json::to_value(&spec).unwrap_or_default();
    let spec_hash = blake3::hash(&serde_json::to_vec(&spec_json).unwrap_or_default())
        .to_hex()
        .to_string();
    let mut cont = Continuity::default();
    let mut excluded: Vec<String> = Vec::new();
    let mut meta_sent = false;
    for attempt in 1..=MAX_OFFERS {
        cont.reset();
        let job_id = uuid::Uuid::new_v4().to_string();
        let (mtx, mut mrx) = mpsc::channel::<Heard>(256);
        let (stx, mut srx) = mpsc::channel::<(PeerId, Reader)>(4);
        ctx.routes
            .msgs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(job_id.clone(), mtx);
        ctx.routes
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(job_id.clone(), stx);
        let _route = Route {
            routes: &ctx.routes,
            job: job_id.clone(),
        };
        let now = now_ms();
        let offer = JobOffer {
            job_id: job_id.clone(),
            workload_type: WORKLOAD_INFERENCE.into(),
            buyer_peer_id: ctx.me.to_string(),
            buyer_did: None,
            spec_hash: spec_hash.clone(),
            spec_inline: Some(spec_json.clone()),
            required_capabilities: vec![ROLE_TAG.into()],
            max_price_usd: ctx.max_price_usd,
            deadline_unix_ms: now + OFFER_TTL_MS,
            published_at_ms: now,
        };
        let bytes = JobMessage::Offer(offer.clone()).to_bytes();
        if let Err(e) = publish(&ctx.cmds, &ctx.topic, bytes).await {
            let _ = tx.send(fail(format!("cannot offer the job: {e}"))).await;
            return;
        }
        tracing::info!(job = %job_id, attempt, "p2p offer published");
        let mut auction = Auction::open(offer, now, ctx.window_ms, excluded.clone());
        let closes = tokio::time::Instant::now()
            + Duration::from_millis(auction.closes_at().saturating_sub(now_ms()).max(0) as u64);
        loop {
            tokio::select! {
                h = mrx.recv() => {
                    let Some(h) = h else { break };
                    if let JobMessage::Bid(b) = h.msg {
                        let who = b.bidder_peer_id.clone();
                        match auction.bid(h.size, h.source.as_deref(), b, now_ms()) {
                            Ok(()) => {}
                            Err(why) if why.is_abuse() => super::note_refusal(
                                &ctx.shared,
                                h.source.as_deref(),
                                "bid",
                                &format!("{why} (job {job_id})"),
                            ),
                            Err(why) => {
                                tracing::info!(job = %job_id, bidder = %who, "bid not taken: {why}")
                            }
                        }
                    }
                }
                _ = tokio::time::sleep_until(closes) => break,
                _ = cancel.cancelled() => return,
            }
        }
        let Some(winner) = auction.winner(now_ms().max(auction.closes_at())).cloned() else {
            let model = spec.model.as_deref().unwrap_or("any model");
            let _ = tx
                .send(fail(format!(
                    "no peer bid on the offer for {model} within {} s",
                    ctx.window_ms / 1000
                )))
                .await;
            return;
        };
        {
            let mut s = ctx.shared.lock().unwrap_or_else(|e| e.into_inner());
            s.table.bid_outcome(&winner.bidder_peer_id, true);
            for l in auction.losers(&winner.bidder_peer_id) {
                s.table.bid_outcome(&l, false);
            }
        }
        tracing::info!(job = %job_id, winner = %winner.bidder_peer_id, price = winner.price_usd, "p2p bid accepted");
        let accept = JobAccept {
            job_id: job_id.clone(),
            buyer_peer_id: ctx.me.to_string(),
            winning_bidder_peer_id: winner.bidder_peer_id.clone(),
            agreed_price_usd: winner.price_usd,
            workload_type: WORKLOAD_INFERENCE.into(),
            spec_inline: Some(spec_json.clone()),
            published_at_ms: now_ms(),
        };
        if let Err(e) = publish(&ctx.cmds, &ctx.topic, JobMessage::Accept(accept).to_bytes()).await
        {
            let _ = tx.send(fail(format!("cannot accept the bid: {e}"))).await;
            return;
        }
        let from_winner = async {
            loop {
                let (peer, reader) = srx.recv().await?;
                if peer.to_string() == winner.bidder_peer_id {
                    return Some(reader);
                }
                tracing::warn!(job = %job_id, %peer, "a stream from a peer that did not win: closed");
            }
        };
        let mut reader = match tokio::time::timeout(ctx.stream_wait, from_winner).await {
            Ok(Some(r)) => r,
            _ => {
                tracing::warn!(job = %job_id, winner = %winner.bidder_peer_id, "the winner never streamed; offering again");
                excluded.push(winner.bidder_peer_id.clone());
                continue;
            }
        };
        // Relay, keeping one coherent text across offers.
        let done = loop {
            let ev = tokio::select! {
                ev = tokio::time::timeout(SILENCE, reader.next()) => ev.ok().flatten(),
                _ = cancel.cancelled() => return,
            };
            match ev {
                Some(Ok(ChatEvent::Meta {
                    backend,
                    model,
                    started_at,
                    ..
                })) => {
                    if !meta_sent {
                        meta_sent = true;
                        let meta = ChatEvent::Meta {
                            id: id.clone(),
                            backend: format!("p2p:{backend}@{}", winner.bidder_peer_id),
                            model,
                            started_at,
                        };
                        if tx.send(meta).await.is_err() {
                            return;
                        }
                    }
                }
                Some(Ok(ChatEvent::Token { text, .. })) => match cont.token(&text) {
                    Ok(s) if s.is_empty() => {}
                    Ok(s) => {
                        if tx
                            .send(ChatEvent::Token {
                                id: id.clone(),
                                text: s,
                            })
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    Err(_) => {
                        let _ = tx.send(fail(DIVERGED.into())).await;
                        return;
                    }
                },
                Some(Ok(ChatEvent::Done {
                    reason,
                    text,
                    usage,
                    finished_at,
                    ..
                })) => {
                    break Some(ChatEvent::Done {
                        id: id.clone(),
                        reason,
                        text,
                        usage,
                        finished_at,
                    });
                }
                Some(Ok(ChatEvent::Error { message, .. })) => {
                    let _ = tx.send(fail(format!("the worker failed: {message}"))).await;
                    return;
                }
                Some(Err(why)) => {
                    tracing::warn!(job = %job_id, "the worker's stream is malformed: {why}");
                    break None;
                }
                None => break None,
            }
        };
        let Some(done) = done else {
            tracing::warn!(job = %job_id, winner = %winner.bidder_peer_id, "the worker's stream ended early; offering again");
            excluded.push(winner.bidder_peer_id.clone());
            continue;
        };
        let text = match &done {
            ChatEvent::Done { text, .. } => text.clone(),
            _ => String::new(),
        };
        let verdict = tokio::time::timeout(RECEIPT_WAIT, async {
            while let Some(h) = mrx.recv().await {
                if let JobMessage::Receipt(r) = h.msg {
                    // Only the winner's own receipt is judged: one sent by anyone else is
                    // refused, and the winner's is still awaited.
                    if h.source.as_deref() != Some(winner.bidder_peer_id.as_str()) {
                        super::note_refusal(
                            &ctx.shared,
                            h.source.as_deref(),
                            "receipt",
                            &format!(
                                "job {job_id}: sent in the place of the winner {}",
                                winner.bidder_peer_id
                            ),
                        );
                        continue;
                    }
                    return Some(check_receipt(
                        &r,
                        h.source.as_deref(),
                        &winner.bidder_peer_id,
                        &text,
                    ));
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| Err("no receipt within 10 s".into()));
        {
            let mut s = ctx.shared.lock().unwrap_or_else(|e| e.into_inner());
            match &verdict {
                Ok(()) => s.view.receipts_verified += 1,
                Err(why) => {
                    s.view.receipts_failed += 1;
                    s.view.last_refusal = Some(format!("receipt of {job_id}: {why}"));
                }
            }
        }
        match verdict {
            Ok(()) => {
                tracing::info!(job = %job_id, worker = %winner.bidder_peer_id, "p2p receipt verified")
            }
            Err(why) => {
                tracing::warn!(job = %job_id, worker = %winner.bidder_peer_id, "p2p receipt not verified: {why}")
            }
        }
        let _ = tx.send(done).await;
        return;
    }
    let _ = tx
        .send(fail(format!(
            "no peer delivered the answer after {MAX_OFFERS} offers"
        )))
        .await;
}

/// A receipt is good when the winner sent and signed it (the key is in its peer id), it
/// says completed, and its output hash is that of the text received.
pub(super) fn check_receipt(
    r: &JobReceipt,
    source: Option<&str>,
    winner: &str,
    text: &str,
) -> Result<(), String> {
    if r.worker_peer_id != winner || source != Some(winner) {
        return Err(format!(
            "sent by {} for {}, not by the winner",
            source.unwrap_or("an unsigned message"),
            r.worker_peer_id
        ));
    }
    if r.status != ReceiptStatus::Completed {
        return Err(format!("it says {:?}", r.status));
    }
    if r.output_hash.as_deref() != Some(output_hash(text).as_str()) {
        return Err("its output hash is not that of the text received".into());
    }
    let sig = r
        .signature
        .as_deref()
        .and_then(unhex)
        .ok_or("it is not signed")?;
    let peer: PeerId = winner
        .parse()
        .map_err(|_| "the winner's id is not a peer id")?;
    let key = public_key(&peer).ok_or("the winner's peer id does not carry its key")?;
    if key.verify(&receipt::signing_bytes(r), &sig) {
        Ok(())
    } else {
        Err("its signature does not verify".into())
    }
}

/// The public key inside a peer id (secp256k1 and ed25519 ids carry it, unhashed).
fn public_key(peer: &PeerId) -> Option<libp2p::identity::PublicKey> {
    let mh = peer.as_ref();
    if mh.code() != 0 {
        return None;
    }
    libp2p::identity::PublicKey::try_decode_protobuf(mh.digest()).ok()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(kp: &libp2p::identity::Keypair, text: &str) -> JobReceipt {
        let mut r = JobReceipt {
            job_id: "j".into(),
            worker_peer_id: kp.public().to_peer_id().to_string(),
            worker_did: None,
            buyer_peer_id: "b".into(),
            output_hash: Some(output_hash(text)),
            status: ReceiptStatus::Completed,
            completed_at_ms: 1,
            signature: None,
        };
        let sig = kp.sign(&receipt::signing_bytes(&r)).unwrap();
        r.signature = Some(super::super::worker::hex(&sig));
        r
    }

    #[test]
    fn a_receipt_verifies_only_from_the_winner_for_the_text_received() {
        let kp = libp2p::identity::Keypair::generate_secp256k1();
        let me = kp.public().to_peer_id().to_string();
        let r = signed(&kp, "hello");
        assert_eq!(check_receipt(&r, Some(&me), &me, "hello"), Ok(()));
        assert!(
            check_receipt(&r, Some(&me), &me, "hullo")
                .unwrap_err()
                .contains("output hash")
        );
        assert!(
            check_receipt(&r, Some("x"), &me, "hello")
                .unwrap_err()
                .contains("not by the winner")
        );
        let mut forged = r.clone();
        forged.completed_at_ms = 2;
        assert!(
            check_receipt(&forged, Some(&me), &me, "hello")
                .unwrap_err()
                .contains("signature")
        );
        // Signed by someone else in the winner's name.
        let other = libp2p::identity::Keypair::generate_secp256k1();
        let mut theirs = signed(&other, "hello");
        theirs.worker_peer_id = me.clone();
        let sig = other.sign(&receipt::signing_bytes(&theirs)).unwrap();
        theirs.signature = Some(super::super::worker::hex(&sig));
        assert!(
            check_receipt(&theirs, Some(&me), &me, "hello")
                .unwrap_err()
                .contains("signature")
        );
        let mut unsigned = r;
        unsigned.signature = None;
        assert!(
            check_receipt(&unsigned, Some(&me), &me, "hello")
                .unwrap_err()
                .contains("not signed")
        );
    }
}
