//! The libp2p behaviours a c0mpute peer runs, under c0mpute's protocol names: gossipsub
//! (ads, beats, jobs), Kademlia as `/c0mpute/kad/1.0.0`, identify as `/c0mpute/id/1.0.0`,
//! and ping.
use infernet_core::c0mpute::{ID_PROTOCOL, KAD_PROTOCOL, MAX_MESSAGE_BYTES};
use libp2p::identity::Keypair;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{StreamProtocol, gossipsub, identify, kad, ping};
use std::time::Duration;

#[derive(NetworkBehaviour)]
pub struct Behaviour {
    pub gossipsub: gossipsub::Behaviour,
    pub kad: kad::Behaviour<kad::store::MemoryStore>,
    pub identify: identify::Behaviour,
    pub ping: ping::Behaviour,
    /// Direct streams (a job's events from its worker to its buyer).
    pub stream: libp2p_stream::Behaviour,
}

impl Behaviour {
    pub fn new(key: &Keypair) -> Result<Self, String> {
        let peer_id = key.public().to_peer_id();
        // A small mesh suits a handful of peers and still holds for many; a new peer's
        // subscription grafts it at once, and published messages flood to every subscriber.
        let gossip_cfg = gossipsub::ConfigBuilder::default()
            .heartbeat_interval(Duration::from_millis(500))
            .validation_mode(gossipsub::ValidationMode::Strict)
            // Twice the largest message taken: one over our limit still reaches us, to be
            // refused, counted and logged (beyond this the codec drops it unseen).
            .max_transmit_size(2 * MAX_MESSAGE_BYTES)
            .mesh_n(4)
            .mesh_n_low(2)
            .mesh_n_high(8)
            .mesh_outbound_min(1)
            .build()
            .map_err(|e| format!("gossipsub config: {e}"))?;
        let gossipsub = gossipsub::Behaviour::new(
            gossipsub::MessageAuthenticity::Signed(key.clone()),
            gossip_cfg,
        )
        .map_err(|e| format!("gossipsub: {e}"))?;
        let kad_cfg = kad::Config::new(StreamProtocol::new(KAD_PROTOCOL));
        let mut kad =
            kad::Behaviour::with_config(peer_id, kad::store::MemoryStore::new(peer_id), kad_cfg);
        // Answer DHT queries from the start (client mode waits for a confirmed public
        // address, which a node on a LAN or loopback never gets).
        kad.set_mode(Some(kad::Mode::Server));
        let identify = identify::Behaviour::new(
            identify::Config::new(ID_PROTOCOL.to_string(), key.public())
                .with_agent_version(format!("infernet/{}", env!("CARGO_PKG_VERSION"))),
        );
        Ok(Self {
            gossipsub,
            kad,
            identify,
            ping: ping::Behaviour::new(ping::Config::new()),
            stream: libp2p_stream::Behaviour::new(),
        })
    }
}
