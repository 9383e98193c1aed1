//! A rogue c0mpute peer for the p2p tests: a bare libp2p swarm (TCP, Noise, Yamux, signed
//! gossipsub on c0mpute's topics) that the test scripts to publish what an honest node never
//! would: ads, offers, bids, accepts and receipts in another peer's name, stale ads, floods,
//! bids it does not honour. It is a real libp2p peer on loopback, not a stand-in for one.
use futures::StreamExt;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, gossipsub, identity::Keypair};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What the rogue hears.
#[derive(Debug)]
pub enum Seen {
    Subscribed {
        peer: PeerId,
        topic: String,
    },
    Message {
        source: Option<PeerId>,
        data: Vec<u8>,
    },
}

type Publish = (String, Vec<u8>, oneshot::Sender<Result<(), String>>);

pub struct Rogue {
    pub id: PeerId,
    cmds: mpsc::UnboundedSender<Publish>,
    pub seen: mpsc::UnboundedReceiver<Seen>,
}

/// The topics it joins (those every infernet node subscribes to).
pub const TOPICS: [&str; 3] = [
    "c0mpute/cap/v1",
    "c0mpute/heartbeat/v1",
    "c0mpute/jobs/infernet.inference",
];

impl Rogue {
    /// Joins by dialling `peers`.
    pub fn start(peers: &[Multiaddr]) -> Rogue {
        let keypair = Keypair::generate_secp256k1();
        let cfg = gossipsub::ConfigBuilder::default()
            .heartbeat_interval(Duration::from_millis(500))
            .validation_mode(gossipsub::ValidationMode::Strict)
            // Larger than the nodes take, so it can send them what they must drop.
            .max_transmit_size(256 * 1024)
            .build()
            .unwrap();
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair.clone())
            .with_tokio()
            .with_tcp(
                libp2p::tcp::Config::default(),
                libp2p::noise::Config::new,
                libp2p::yamux::Config::default,
            )
            .unwrap()
            .with_behaviour(|k| {
                gossipsub::Behaviour::<gossipsub::IdentityTransform>::new(
                    gossipsub::MessageAuthenticity::Signed(k.clone()),
                    cfg,
                )
                .unwrap()
            })
            .unwrap()
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(600)))
            .build();
        for t in TOPICS {
            swarm
                .behaviour_mut()
                .subscribe(&gossipsub::IdentTopic::new(t))
                .unwrap();
        }
        for p in peers {
            swarm.dial(p.clone()).unwrap();
        }
        let id = *swarm.local_peer_id();
        let (cmds, mut cmd_rx) = mpsc::unbounded_channel::<Publish>();
        let (seen_tx, seen) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    c = cmd_rx.recv() => {
                        let Some((topic, bytes, done)) = c else { return };
                        let r = swarm
                            .behaviour_mut()
                            .publish(gossipsub::IdentTopic::new(topic), bytes)
                            .map(|_| ())
                            .map_err(|e| e.to_string());
                        let _ = done.send(r);
                    }
                    ev = swarm.select_next_some() => {
                        let seen = match ev {
                            SwarmEvent::Behaviour(gossipsub::Event::Subscribed { peer_id, topic }) => {
                                Seen::Subscribed { peer: peer_id, topic: topic.into_string() }
                            }
                            SwarmEvent::Behaviour(gossipsub::Event::Message { message, .. }) => {
                                Seen::Message {
                                    source: message.source,
                                    data: message.data,
                                }
                            }
                            _ => continue,
                        };
                        if seen_tx.send(seen).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Rogue { id, cmds, seen }
    }

    pub async fn publish(&self, topic: &str, bytes: Vec<u8>) {
        let (done, answer) = oneshot::channel();
        self.cmds.send((topic.to_string(), bytes, done)).unwrap();
        answer
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("the rogue could not publish on {topic}: {e}"));
    }

    /// The next thing heard that `pick` takes, within `within` (what it passes over is
    /// dropped).
    pub async fn next<T>(
        &mut self,
        what: &str,
        within: Duration,
        mut pick: impl FnMut(&Seen) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let s = tokio::time::timeout_at(deadline, self.seen.recv())
                .await
                .unwrap_or_else(|_| panic!("the rogue did not hear {what} within {within:?}"))
                .unwrap();
            if let Some(t) = pick(&s) {
                return t;
            }
        }
    }

    /// Waits until each of `peers` has subscribed to every topic.
    pub async fn joined(&mut self, peers: &[PeerId]) {
        let mut want: Vec<(PeerId, String)> = peers
            .iter()
            .flat_map(|p| TOPICS.iter().map(move |t| (*p, t.to_string())))
            .collect();
        while !want.is_empty() {
            let got = self
                .next(
                    "the nodes' subscriptions",
                    Duration::from_secs(30),
                    |s| match s {
                        Seen::Subscribed { peer, topic } => Some((*peer, topic.clone())),
                        _ => None,
                    },
                )
                .await;
            want.retain(|w| *w != got);
        }
    }
}
