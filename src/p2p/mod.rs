//! The c0mpute peer-to-peer substrate (reference infernet-protocol §8.4) on rust-libp2p: TCP
//! with Noise and Yamux, Kademlia as `/c0mpute/kad/1.0.0`, identify as `/c0mpute/id/1.0.0`,
//! gossipsub on c0mpute's topics. With `p2p.enabled` the node joins from its bootstrap
//! peers under the libp2p identity of its node key, advertises what it serves
//! (`c0mpute:role:infernet`, its models, its GPU class), and keeps a table of the peers it
//! hears from.
mod behaviour;
mod driver;
pub mod identity;

use crate::backend::Backends;
use crate::config::P2pConfig;
use crate::control::client::NodeKey;
use infernet_core::c0mpute::{PeerEntry, PeerTable};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
}

#[derive(Debug, Default)]
struct Shared {
    view: P2pView,
    table: PeerTable,
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

#[derive(Debug, Clone)]
pub struct P2pHandle {
    shared: Arc<Mutex<Shared>>,
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
    let settings = Arc::new(driver::Settings {
        keypair,
        listen: parse("listen", &cfg.listen)?,
        bootstrap: parse("bootstrap", &cfg.bootstrap)?,
        ad_interval: Duration::from_secs_f64(cfg.ad_interval.max(1.0)),
    });
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
        let (shared, ad) = (shared.clone(), ad.clone());
        sup.restart::<_, _, String>("p2p", crate::supervise::Backoff::default(), move |cancel| {
            let (s, shared, ad) = (settings.clone(), shared.clone(), ad.clone());
            async move { driver::run(&s, &shared, &ad, &cancel).await }
        });
    }
    Ok(P2pHandle { shared })
}
