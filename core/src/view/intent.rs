//! What the UI asks of the node (`Intent`, imperative) and what the node tells the UI besides
//! the model (`Update`, facts). Both are plain data so they can cross the daemon's socket.
use super::answers::Answers;
use super::model::{JobDetail, Level};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Intent {
    /// Start a chat turn; the answer arrives as `Update::Chat` events for `chat`.
    SendChat {
        chat: u64,
        turn: u64,
        backend: Option<String>,
        model: Option<String>,
        messages: Vec<ChatMessage>,
    },
    /// Stop the chat turn in progress.
    CancelChat {
        chat: u64,
        turn: u64,
    },
    /// Load a job's input, intermediate results and output.
    LoadJob {
        id: String,
    },
    RestartContainer {
        id: String,
    },
    PullModel {
        backend: String,
        model: String,
    },
    /// Publish the model now instead of at the next refresh (`r`).
    Refresh,
    /// Fleet view: show box `index`'s dashboard.
    OpenBox {
        index: usize,
    },
    /// Probe the machine for LLM backends (wizard).
    DetectBackends,
    /// The wizard is done: write the config and start the node.
    FinishWizard(Box<Answers>),
    Quit,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ChatUpdate {
    Meta {
        backend: String,
        model: String,
    },
    Token(String),
    Done {
        reason: String,
        usage: Option<(u64, u64)>,
    },
    Error(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectedBackend {
    pub kind: String,
    pub url: String,
    pub models: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Update {
    Chat {
        chat: u64,
        turn: u64,
        event: ChatUpdate,
    },
    JobDetail(Box<JobDetail>),
    /// A one-line message for the status bar (results of actions, errors).
    Notice {
        level: Level,
        text: String,
    },
    Detected(Vec<DetectedBackend>),
    /// The wizard's config was written and the node is starting (or could not).
    WizardResult(Result<String, String>),
    /// The node was stopped from outside (`infernet stop`): leave the screen.
    Quit,
}
