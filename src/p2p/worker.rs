//! A job this node won: run it on the backend that serves its model, stream every event to
//! the buyer over a direct stream, then publish a signed `JobReceipt` (blake3 of the output).
use super::direct::{CHAT_PROTOCOL, Writer};
use super::{Cmd, publish};
use crate::backend::{Backends, ChatEvent, ChatRequest, Message};
use futures::StreamExt;
use infernet_core::c0mpute::spec::InferenceSpec;
use infernet_core::c0mpute::{JobMessage, JobReceipt, ReceiptStatus, receipt};
use libp2p::PeerId;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub(super) struct Assignment {
    pub job_id: String,
    pub buyer: PeerId,
    pub spec: InferenceSpec,
}

pub(super) struct WorkerCtx {
    pub backends: Backends,
    pub control: libp2p_stream::Control,
    pub keypair: libp2p::identity::Keypair,
    pub me: PeerId,
    pub cmds: mpsc::Sender<Cmd>,
    pub topic: String,
}

/// blake3 of the output, hex: what a receipt commits to.
pub fn output_hash(text: &str) -> String {
    blake3::hash(text.as_bytes()).to_hex().to_string()
}

pub(super) async fn run(ctx: &WorkerCtx, a: Assignment, stop: &CancellationToken) {
    let status = deliver(ctx, &a, stop).await;
    let (status, hash) = match status {
        Ok(text) => (ReceiptStatus::Completed, Some(output_hash(&text))),
        Err(why) => {
            tracing::warn!(job = %a.job_id, "p2p job not delivered: {why}");
            (ReceiptStatus::Failed, None)
        }
    };
    let mut r = JobReceipt {
        job_id: a.job_id.clone(),
        worker_peer_id: ctx.me.to_string(),
        worker_did: None,
        buyer_peer_id: a.buyer.to_string(),
        output_hash: hash,
        status,
        completed_at_ms: crate::clock::now_ms(),
        signature: None,
    };
    match ctx.keypair.sign(&receipt::signing_bytes(&r)) {
        Ok(sig) => r.signature = Some(hex(&sig)),
        Err(e) => tracing::warn!(error = %e, "cannot sign a p2p receipt"),
    }
    let bytes = JobMessage::Receipt(r).to_bytes();
    if let Err(e) = publish(&ctx.cmds, &ctx.topic, bytes).await {
        tracing::warn!(job = %a.job_id, "p2p receipt not published: {e}");
    }
}

/// Runs the job and streams it; the output text when it completed.
async fn deliver(
    ctx: &WorkerCtx,
    a: &Assignment,
    stop: &CancellationToken,
) -> Result<String, String> {
    let served = crate::backend::served::list(&ctx.backends).await;
    let (model, backend) = match a.spec.model.as_deref() {
        Some(m) => served.iter().find(|(n, _)| n == m),
        None => served.first(),
    }
    .cloned()
    .ok_or_else(|| {
        format!(
            "no backend serves {}",
            a.spec.model.as_deref().unwrap_or("any model")
        )
    })?;
    let mut control = ctx.control.clone();
    let stream = control
        .open_stream(a.buyer, CHAT_PROTOCOL)
        .await
        .map_err(|e| format!("cannot reach the buyer: {e}"))?;
    let mut w = Writer::open(stream, &a.job_id)
        .await
        .map_err(|e| format!("cannot write to the buyer: {e}"))?;
    let req = ChatRequest {
        id: a.job_id.clone(),
        messages: a
            .spec
            .messages
            .iter()
            .map(|m| Message::new(&m.role, &m.content))
            .collect(),
        model: Some(model),
        temperature: a.spec.temperature,
        max_tokens: a.spec.max_tokens,
    };
    let cancel = stop.child_token();
    let mut events = backend.chat(req, cancel.clone());
    let mut outcome = Err("the backend ended without a result".to_string());
    while let Some(ev) = events.next().await {
        if let Err(e) = w.event(&ev).await {
            cancel.cancel();
            return Err(format!("the buyer's stream broke: {e}"));
        }
        match ev {
            ChatEvent::Done { text, .. } => outcome = Ok(text),
            ChatEvent::Error { message, .. } => outcome = Err(message),
            _ => {}
        }
    }
    let _ = w.close().await;
    outcome
}

pub(super) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
