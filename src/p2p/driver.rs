//! The swarm's event loop: listens, dials the bootstrap peers, keeps Kademlia fed from
//! identify, publishes this node's capability ad (every `p2p.ad_interval`, and at once when a
//! new peer subscribes, so it learns of us without waiting), and takes the ads it hears into
//! the peer table; job messages go to the market (bids, accepted jobs, our offers' bids
//! and receipts), publishes from the buyer and the workers arrive as commands. Every
//! decision about a message is `infernet_core::c0mpute`'s.
use super::behaviour::{Behaviour, BehaviourEvent};
use super::market::Market;
use super::{Ad, Cmd, Shared};
use crate::clock::now_ms;
use futures::StreamExt;
use infernet_core::c0mpute::auction::Terms;
use infernet_core::c0mpute::{
    CapabilityAd, KAD_PROTOCOL, ROLE_TAG, TOPIC_CAP, TOPIC_HEARTBEAT, WORKLOAD_INFERENCE, gpu_tag,
    jobs_topic, model_tag,
};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm, gossipsub, identify, kad};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The least time between two ads sent because peers subscribed.
const AD_EAGER_GAP: Duration = Duration::from_secs(1);
/// How often the DHT looks for more peers.
const KAD_EVERY: Duration = Duration::from_secs(60);

pub(super) struct Settings {
    pub keypair: libp2p::identity::Keypair,
    pub listen: Vec<Multiaddr>,
    pub bootstrap: Vec<Multiaddr>,
    pub ad_interval: Duration,
    /// What this node asks per job (its bid).
    pub price_usd: f64,
    pub backends: crate::backend::Backends,
    pub routes: Arc<super::buyer::Routes>,
}

fn build(s: &Settings) -> Result<Swarm<Behaviour>, String> {
    let swarm = libp2p::SwarmBuilder::with_existing_identity(s.keypair.clone())
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default(),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .map_err(|e| format!("p2p transport: {e}"))?
        .with_behaviour(|k| {
            Behaviour::new(k).map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })
        })
        .map_err(|e| format!("p2p behaviour: {e}"))?
        // Peers stay connected while idle: gossip needs the links, ping alone does not
        // keep them.
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(600)))
        .build();
    Ok(swarm)
}

/// Runs until `cancel`; an error (a listen address that cannot be bound) ends the run and
/// the supervisor starts it again.
pub(super) async fn run(
    s: &Settings,
    shared: &Arc<Mutex<Shared>>,
    ad: &Arc<Mutex<Ad>>,
    cmds: (&mpsc::Sender<Cmd>, &mut mpsc::Receiver<Cmd>),
    cancel: &CancellationToken,
) -> Result<(), String> {
    let (cmd_tx, cmd_rx) = cmds;
    let mut swarm = build(s)?;
    let me = *swarm.local_peer_id();
    let jobs_topic = gossipsub::IdentTopic::new(jobs_topic(WORKLOAD_INFERENCE));
    let control = swarm.behaviour().stream.new_control();
    let mut market = Market::new(super::worker::WorkerCtx {
        backends: s.backends.clone(),
        control: control.clone(),
        keypair: s.keypair.clone(),
        me,
        cmds: cmd_tx.clone(),
        topic: jobs_topic.to_string(),
    });
    super::market::accept_streams(control, s.routes.clone(), cancel.clone())?;
    for l in &s.listen {
        swarm
            .listen_on(l.clone())
            .map_err(|e| format!("cannot listen on {l}: {e}"))?;
    }
    let cap = gossipsub::IdentTopic::new(TOPIC_CAP);
    let beat = gossipsub::IdentTopic::new(TOPIC_HEARTBEAT);
    for t in [&cap, &beat, &jobs_topic] {
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(t)
            .map_err(|e| format!("cannot subscribe to {t}: {e}"))?;
    }
    for b in &s.bootstrap {
        if let Some(Protocol::P2p(peer)) = b.iter().last() {
            swarm.behaviour_mut().kad.add_address(&peer, b.clone());
        }
        if let Err(e) = swarm.dial(b.clone()) {
            tracing::warn!(addr = %b, error = %e, "cannot dial a p2p bootstrap peer");
        }
    }
    let mut ad_tick = tokio::time::interval(s.ad_interval);
    let mut kad_tick = tokio::time::interval(KAD_EVERY);
    let mut last_ad: Option<Instant> = None;
    let mut eager = false;
    let changed = ad.lock().unwrap_or_else(|e| e.into_inner()).changed.clone();
    loop {
        // An ad wanted within the gap of the last one goes out when the gap has passed.
        let held = last_ad
            .filter(|_| eager)
            .map(|t| tokio::time::Instant::from_std(t + AD_EAGER_GAP));
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = changed.notified() => eager = true,
            _ = tokio::time::sleep_until(held.unwrap_or_else(tokio::time::Instant::now)), if held.is_some() => {}
            c = cmd_rx.recv() => {
                if let Some(Cmd::Publish { topic, bytes, done }) = c {
                    let r = swarm
                        .behaviour_mut()
                        .gossipsub
                        .publish(gossipsub::IdentTopic::new(topic), bytes)
                        .map(|_| ())
                        .map_err(|e| match e {
                            gossipsub::PublishError::NoPeersSubscribedToTopic => {
                                "no peer is listening on the jobs topic yet".to_string()
                            }
                            e => e.to_string(),
                        });
                    let _ = done.send(r);
                }
            }
            _ = ad_tick.tick() => eager = true,
            _ = kad_tick.tick() => {
                // Err while the table is empty: nothing to ask yet.
                let _ = swarm.behaviour_mut().kad.bootstrap();
            }
            ev = swarm.select_next_some() => {
                if on_event(&mut swarm, ev, me, shared, &mut market, s, ad) {
                    eager = true;
                }
            }
        }
        let due = last_ad.is_none_or(|t| t.elapsed() >= AD_EAGER_GAP);
        if eager && due {
            eager = false;
            // Not sent (nobody subscribed yet): the next subscription asks again.
            if publish_ad(&mut swarm, &cap, me, ad, shared) {
                last_ad = Some(Instant::now());
            }
        }
    }
}

fn publish_ad(
    swarm: &mut Swarm<Behaviour>,
    cap: &gossipsub::IdentTopic,
    me: PeerId,
    ad: &Arc<Mutex<Ad>>,
    shared: &Arc<Mutex<Shared>>,
) -> bool {
    let a = ad.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut tags = vec![ROLE_TAG.to_string(), gpu_tag(&a.gpu_class)];
    tags.extend(a.models.iter().map(|m| model_tag(m)));
    let msg = CapabilityAd {
        peer_id: me.to_string(),
        tags,
        hardware: serde_json::json!({
            "models": a.models,
            "gpu": a.gpu_class,
            "gpu_model": a.gpu_model,
            "price_usd": a.price_usd,
            "agent": format!("infernet/{}", env!("CARGO_PKG_VERSION")),
        }),
        published_at_ms: now_ms(),
    };
    let bytes = serde_json::to_vec(&msg).unwrap_or_default();
    match swarm.behaviour_mut().gossipsub.publish(cap.clone(), bytes) {
        Ok(_) => {
            shared
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .view
                .ads_sent += 1;
            true
        }
        // Nobody subscribed yet: the next subscription sends it.
        Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => false,
        Err(e) => {
            tracing::debug!(error = %e, "capability ad not published");
            false
        }
    }
}

/// Handles one swarm event; true when an ad should go out now (a peer subscribed to ads).
fn on_event(
    swarm: &mut Swarm<Behaviour>,
    ev: SwarmEvent<BehaviourEvent>,
    me: PeerId,
    shared: &Arc<Mutex<Shared>>,
    market: &mut Market,
    s: &Settings,
    ad: &Arc<Mutex<Ad>>,
) -> bool {
    let lock = || shared.lock().unwrap_or_else(|e| e.into_inner());
    match ev {
        SwarmEvent::NewListenAddr { address, .. } => {
            let full = address.with(Protocol::P2p(me));
            tracing::info!(addr = %full, "p2p listening");
            lock().view.listen.push(full.to_string());
        }
        SwarmEvent::ConnectionEstablished { peer_id, .. } => {
            let mut s = lock();
            let id = peer_id.to_string();
            if !s.view.connected.contains(&id) {
                s.view.connected.push(id);
                s.view.connected.sort();
            }
            drop(s);
            let _ = swarm.behaviour_mut().kad.bootstrap();
        }
        SwarmEvent::ConnectionClosed {
            peer_id,
            num_established: 0,
            ..
        } => {
            let id = peer_id.to_string();
            lock().view.connected.retain(|p| *p != id);
        }
        SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
            tracing::debug!(peer = ?peer_id, error = %error, "p2p dial failed");
        }
        SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
            peer_id,
            info,
            ..
        })) => identified(swarm, peer_id, info),
        SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::RoutingUpdated { peer, .. })) => {
            found(swarm, peer, me)
        }
        SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Subscribed {
            topic,
            ..
        })) => {
            return topic == gossipsub::IdentTopic::new(TOPIC_CAP).hash();
        }
        SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
            message,
            ..
        })) => {
            if message.topic == gossipsub::IdentTopic::new(TOPIC_CAP).hash() {
                heard(&message, shared);
            } else if message.topic == gossipsub::IdentTopic::new(TOPIC_HEARTBEAT).hash() {
                beat(&message, shared);
            } else if let Some(bid) =
                market.on_message(&message, &terms(s, ad, market), &s.routes, shared)
            {
                let topic = message.topic.clone();
                if let Err(e) = swarm.behaviour_mut().gossipsub.publish(topic, bid) {
                    tracing::warn!(error = %e, "p2p bid not published");
                }
            }
        }
        _ => {}
    }
    false
}

/// Kademlia learns a peer's listen addresses from identify (it cannot see them on a
/// connection the peer dialled).
fn identified(swarm: &mut Swarm<Behaviour>, peer: PeerId, info: identify::Info) {
    if info.protocols.iter().any(|p| p.as_ref() == KAD_PROTOCOL) {
        for a in info.listen_addrs {
            swarm.behaviour_mut().kad.add_address(&peer, a);
        }
    }
}

/// A peer found through the DHT: connect, so gossip has a direct link to it.
fn found(swarm: &mut Swarm<Behaviour>, peer: PeerId, me: PeerId) {
    if !swarm.is_connected(&peer) && peer != me {
        let _ = swarm.dial(peer);
    }
}

/// What this node bids with now: its ad's tags and models, its price, an ETA from its load.
fn terms(s: &Settings, ad: &Arc<Mutex<Ad>>, market: &Market) -> Terms {
    let a = ad.lock().unwrap_or_else(|e| e.into_inner());
    let mut tags = vec![ROLE_TAG.to_string(), gpu_tag(&a.gpu_class)];
    tags.extend(a.models.iter().map(|m| model_tag(m)));
    Terms {
        me: market.me().to_string(),
        tags,
        models: a.models.clone(),
        price_usd: s.price_usd,
        eta_seconds: 5 + 5 * market.running() as u64,
    }
}

/// A heartbeat: its peer is seen now. A forged or stale one is refused (counted, logged);
/// one in another shape is passed over quietly (c0mpute does not fix the beat's shape).
fn beat(message: &gossipsub::Message, shared: &Arc<Mutex<Shared>>) {
    let source = message.source.map(|p| p.to_string());
    let r = shared.lock().unwrap_or_else(|e| e.into_inner()).table.beat(
        source.as_deref(),
        &message.data,
        now_ms(),
    );
    match r {
        Ok(_) => {}
        Err(why) if why.is_abuse() => {
            super::note_refusal(shared, source.as_deref(), "heartbeat", &why.to_string())
        }
        Err(why) => tracing::debug!(from = ?source, "heartbeat not read: {why}"),
    }
}

/// A capability ad: to the peer table (or refused, counted and logged).
fn heard(message: &gossipsub::Message, shared: &Arc<Mutex<Shared>>) {
    let source = message.source.map(|p| p.to_string());
    let taken = {
        let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
        let r = s.table.ad(source.as_deref(), &message.data, now_ms());
        if r.is_ok() {
            s.view.ads_taken += 1;
        }
        r
    };
    if let Err(why) = taken {
        super::note_refusal(shared, source.as_deref(), "capability ad", &why.to_string());
    }
}
