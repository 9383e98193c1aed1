//! What the setup wizard collected; the node turns it into config (and the wallet key into
//! the keyring). Plain data so it can cross the daemon socket.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendAnswer {
    pub kind: String,
    pub url: String,
    pub model: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerAnswer {
    pub id: String,
    pub image: String,
    pub port: u16,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainAnswer {
    pub rpc_url: String,
    pub registry_address: String,
    /// The wallet key: stored in the OS keyring (or a 0600 file), never in config.json.
    pub private_key: String,
}

impl std::fmt::Debug for ChainAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainAnswer")
            .field("rpc_url", &self.rpc_url)
            .field("registry_address", &self.registry_address)
            .field("private_key", &"<hidden>")
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answers {
    pub backend: Option<BackendAnswer>,
    pub containers: Vec<ContainerAnswer>,
    pub chain: Option<ChainAnswer>,
    pub node_name: String,
    pub port: u16,
    /// Create the node identity key if there is none.
    pub identity: bool,
}
