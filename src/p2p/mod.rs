//! The c0mpute peer-to-peer substrate (reference infernet-protocol §8.4) on rust-libp2p: TCP
//! with Noise and Yamux, Kademlia as `/c0mpute/kad/1.0.0`, identify as `/c0mpute/id/1.0.0`,
//! gossipsub on c0mpute's topics. With `p2p.enabled` the node joins from its bootstrap
//! peers under the libp2p identity of its node key, advertises what it serves
//! (`c0mpute:role:infernet`, its models, its GPU class), keeps a table of the peers it
//! hears from, bids on `infernet.inference` offers it can serve and runs the jobs it wins
//! (streaming to the buyer, then a signed receipt), and buys: a chat offered to the swarm
//! goes to the cheapest bid and streams back here.
mod behaviour;
mod buyer;
pub mod client;
mod direct;
mod driver;
pub mod identity;
mod market;
mod worker;

use crate::backend::{Backends, ChatEvent, ChatRequest};
use crate::config::P2pConfig;
use crate::control::client::NodeKey;
use infernet_core::c0mpute::{PeerEntry, PeerTable};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// How often the models in the ad are listed again from the backends.
const MODELS_EVERY: Duration = Duration::from_secs(60);

/// What the ad says about this node.
#[derive(Debug, Clone, Default)]
struct Ad {
    models: Vec<String>,
    gpu_class: String,
    gpu_model: Option<String>,
    price_usd: f64,
    /// Told when the models change: the driver advertises at once.
    changed: Arc<tokio::sync::Notify>,
}

/// The node's side of the swarm, as `/api/p2p/peers`, `infernet peers` and the TUI show it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct P2pView {
    pub peer_id: String,
    /// Full addresses (with `/p2p/<id>`) others can dial.
    pub listen: Vec<String>,
    /// Peers connected now.
    pub connected: Vec<String>,
    pub ads_sent: u64,
    pub ads_taken: u64,
    /// Messages refused (forged source, expired, oversized, malformed), and the last reason.
    pub refused: u64,
    pub last_refusal: Option<String>,
    /// As a worker: bids sent, jobs won.
    pub bids_sent: u64,
    pub jobs_won: u64,
    /// As a buyer: receipts that verified, and those that did not.
    pub receipts_verified: u64,
    pub receipts_failed: u64,
}

/// What the buyer and the workers ask of the swarm loop.
pub(crate) enum Cmd {
    Publish {
        topic: String,
        bytes: Vec<u8>,
        done: oneshot::Sender<Result<(), String>>,
    },
}

/// Publishes `bytes` on `topic` through the swarm loop.
async fn publish(cmds: &mpsc::Sender<Cmd>, topic: &str, bytes: Vec<u8>) -> Result<(), String> {
    let (done, answer) = oneshot::channel();
    cmds.send(Cmd::Publish {
        topic: topic.to_string(),
        bytes,
        done,
    })
    .await
    .map_err(|_| "the p2p side is not running".to_string())?;
    answer
        .await
        .map_err(|_| "the p2p side stopped".to_string())?
}

#[derive(Debug, Default)]
struct Shared {
    view: P2pView,
    table: PeerTable,
}

/// A message refused from `from` (`what` it was): counted, kept as the last refusal, logged.
fn note_refusal(shared: &Mutex<Shared>, from: Option<&str>, what: &str, why: &str) {
    tracing::warn!(
        from = from.unwrap_or("an unsigned message"),
        "p2p {what} refused: {why}"
    );
    let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
    s.view.refused += 1;
    s.view.last_refusal = Some(format!("{what}: {why}"));
}

/// The view and the live peers.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct P2pPeers {
    /// Always true here (a node without p2p answers `enabled: false` and why).
    pub enabled: bool,
    #[serde(flatten)]
    pub view: P2pView,
    pub peers: Vec<PeerEntry>,
}

#[derive(Clone)]
pub struct P2pHandle {
    shared: Arc<Mutex<Shared>>,
    buyer: Arc<buyer::BuyerCtx>,
}

impl std::fmt::Debug for P2pHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P2pHandle")
            .field("peer_id", &self.buyer.me)
            .finish()
    }
}

impl P2pHandle {
    pub fn peers(&self) -> P2pPeers {
        let mut s = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        let peers = s.table.live(crate::clock::now_ms());
        P2pPeers {
            enabled: true,
            view: s.view.clone(),
            peers,
        }
    }

    /// One chat bought from the swarm: offered, the cheapest bid accepted, the winner's
    /// stream passed on (the last event is `done` or `error`).
    pub fn chat(
        &self,
        req: ChatRequest,
        cancel: CancellationToken,
    ) -> futures::stream::BoxStream<'static, ChatEvent> {
        let ctx = self.buyer.clone();
        crate::backend::spawned(move |tx| async move {
            buyer::buy(&ctx, req, &tx, &cancel).await;
        })
    }
}

/// `nvidia`, `amd`, `apple` or `none`, from the GPU probe.
fn gpu_class(r: &crate::system::gpu::Report) -> (String, Option<String>) {
    match r.gpus.first() {
        Some(g) => (g.vendor.to_lowercase(), Some(g.model.clone())),
        None => ("none".into(), None),
    }
}

/// Joins the swarm (supervised: a failure is reported and retried with backoff).
pub fn spawn(
    cfg: &P2pConfig,
    key: &NodeKey,
    backends: Backends,
    sup: &crate::supervise::Supervisor,
) -> Result<P2pHandle, String> {
    let keypair = identity::keypair(key)?;
    let peer_id = keypair.public().to_peer_id().to_string();
    let parse = |what: &str, list: &[String]| -> Result<Vec<libp2p::Multiaddr>, String> {
        list.iter()
            .map(|a| a.parse().map_err(|e| format!("p2p.{what}: '{a}': {e}")))
            .collect()
    };
    let me = keypair.public().to_peer_id();
    let routes = Arc::new(buyer::Routes::default());
    let settings = Arc::new(driver::Settings {
        keypair,
        listen: parse("listen", &cfg.listen)?,
        bootstrap: parse("bootstrap", &cfg.bootstrap)?,
        ad_interval: Duration::from_secs_f64(cfg.ad_interval.max(1.0)),
        price_usd: cfg.price_usd,
        backends: backends.clone(),
        routes: routes.clone(),
    });
    // The command queue outlives a swarm that fails and is started again.
    let (cmd_tx, cmd_rx) = mpsc::channel::<Cmd>(256);
    let cmd_rx = Arc::new(tokio::sync::Mutex::new(cmd_rx));
    let shared = Arc::new(Mutex::new(Shared {
        view: P2pView {
            peer_id,
            ..Default::default()
        },
        table: PeerTable::default(),
    }));
    let ad = Arc::new(Mutex::new(Ad {
        price_usd: cfg.price_usd,
        gpu_class: "none".into(),
        ..Default::default()
    }));
    {
        let ad = ad.clone();
        sup.restart::<_, _, String>(
            "p2p-models",
            crate::supervise::Backoff::default(),
            move |cancel| {
                let (ad, backends) = (ad.clone(), backends.clone());
                async move {
                    let report = tokio::task::spawn_blocking(crate::system::gpu::probe)
                        .await
                        .map_err(|e| e.to_string())?;
                    let (class, model) = gpu_class(&report);
                    loop {
                        let models: Vec<String> = crate::backend::served::list(&backends)
                            .await
                            .into_iter()
                            .map(|(m, _)| m)
                            .collect();
                        {
                            let mut a = ad.lock().unwrap_or_else(|e| e.into_inner());
                            if a.models != models || a.gpu_class != class {
                                a.models = models;
                                a.gpu_class = class.clone();
                                a.gpu_model = model.clone();
                                a.changed.notify_one();
                            }
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(MODELS_EVERY) => {}
                            _ = cancel.cancelled() => return Ok(()),
                        }
                    }
                }
            },
        );
    }
    {
        let (shared, ad, tx) = (shared.clone(), ad.clone(), cmd_tx.clone());
        sup.restart::<_, _, String>("p2p", crate::supervise::Backoff::default(), move |cancel| {
            let (s, shared, ad) = (settings.clone(), shared.clone(), ad.clone());
            let (tx, rx) = (tx.clone(), cmd_rx.clone());
            async move {
                let mut rx = rx.lock().await;
                driver::run(&s, &shared, &ad, (&tx, &mut rx), &cancel).await
            }
        });
    }
    let buyer = Arc::new(buyer::BuyerCtx {
        me,
        cmds: cmd_tx,
        routes,
        window_ms: (cfg.bid_window.max(0.1) * 1000.0) as i64,
        stream_wait: Duration::from_secs_f64(cfg.stream_wait.max(0.1)),
        max_price_usd: cfg.max_price_usd,
        topic: infernet_core::c0mpute::jobs_topic(infernet_core::c0mpute::WORKLOAD_INFERENCE),
        shared: shared.clone(),
    });
    Ok(P2pHandle { shared, buyer })
}

/// The swarm as a chat backend (`/backend p2p` in the TUI's chat, `infernet chat --p2p` on
/// the node): a turn is bought from the cheapest peer serving the model. It lists the
/// models live peers advertise; it is never one of the backends this node serves from.
impl crate::backend::ChatBackend for P2pHandle {
    fn id(&self) -> &str {
        "p2p"
    }
    fn kind(&self) -> crate::config::BackendKind {
        crate::config::BackendKind::Remote
    }
    fn url(&self) -> &str {
        "c0mpute"
    }
    fn default_model(&self) -> Option<&str> {
        None
    }
    fn chat(
        &self,
        req: ChatRequest,
        cancel: CancellationToken,
    ) -> futures::stream::BoxStream<'static, ChatEvent> {
        P2pHandle::chat(self, req, cancel)
    }
    fn models(
        &self,
    ) -> futures::future::BoxFuture<
        '_,
        Result<Vec<crate::backend::ModelInfo>, crate::backend::BackendError>,
    > {
        let mut names: Vec<String> = self
            .peers()
            .peers
            .into_iter()
            .flat_map(|p| p.models)
            .collect();
        names.sort();
        names.dedup();
        Box::pin(async move {
            Ok(names
                .into_iter()
                .map(|name| crate::backend::ModelInfo {
                    name,
                    size_bytes: None,
                })
                .collect())
        })
    }
}
