//! The control-plane agent's lifecycle on the node, decided here and carried out by
//! `infernet::control::agent`: register until it works; then heartbeat on an interval (backing
//! off on failure, registering again when the server forgot the node), poll for jobs and
//! commands; on stop, close the intake, let jobs finish, say goodbye. `draw` is the driver's
//! random number in [0, 1) for jitter, so tests pass fixed ones.
use crate::retry::{Jitter, delay};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Retries: 2 s, 4 s, 8 s … capped at 60 s, ±10 %.
const RETRY_BASE: Duration = Duration::from_secs(2);
const RETRY_MAX: Duration = Duration::from_secs(60);
/// ±10 % on every wait, so a fleet restarted together does not beat in step.
const SPREAD: f64 = 0.1;

/// How the node stands with its control plane (shown as the lowercase name).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    #[default]
    Connecting,
    Online,
    Offline,
    Stopped,
    /// The agent could not start (no identity, bad URL): the reason says why.
    Error,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Connecting => "connecting",
            Phase::Online => "online",
            Phase::Offline => "offline",
            Phase::Stopped => "stopped",
            Phase::Error => "error",
        }
    }
}

/// The configured pace (`control_plane.*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    pub heartbeat: Duration,
    pub poll_interval: Duration,
    pub poll_wait: Duration,
    pub command_interval: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The agent starts (or its supervisor restarted it).
    Start,
    /// The server accepted the registration at `at_ms` (it counts as a heartbeat).
    RegisterOk {
        at_ms: i64,
    },
    RegisterFailed(String),
    HeartbeatOk {
        at_ms: i64,
    },
    HeartbeatFailed(String),
    /// The heartbeat got 404: the server forgot this node (removed, or a new database).
    Forgotten,
    /// A job poll answered with `jobs` jobs after `waited`.
    Polled {
        jobs: usize,
        waited: Duration,
    },
    PollFailed(String),
    CommandsPolled,
    CommandsFailed(String),
    /// One of the agent's loops ended on its own (`how`: "ended", "panicked: …").
    LoopEnded {
        name: String,
        how: String,
    },
    /// The node is stopping: take no more work.
    Drain,
    /// The jobs finished (or were cancelled after the grace period).
    Drained,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Register {
        after: Duration,
    },
    /// The first registration worked: start heartbeats, job and command polls.
    StartLoops,
    Heartbeat {
        after: Duration,
    },
    Poll {
        after: Duration,
    },
    PollCommands {
        after: Duration,
    },
    /// Stop the loops and take no more jobs.
    CloseIntake,
    /// Tell the control plane the node is going offline.
    SendOffline,
    /// The agent's run ends with this error (its supervisor restarts it).
    Fail(String),
}

/// What the status shows, kept by the machine.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub phase: Phase,
    pub registered: bool,
    pub draining: bool,
    pub last_error: Option<String>,
    pub heartbeats_ok: u64,
    pub heartbeats_failed: u64,
    pub last_heartbeat_ms: Option<i64>,
    pub polls: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Failures {
    register: u32,
    heartbeat: u32,
    poll: u32,
    commands: u32,
}

#[derive(Debug, Clone)]
pub struct Agent {
    pace: Pace,
    view: View,
    failures: Failures,
    loops_started: bool,
    /// Registered, and no heartbeat has gone through since.
    fresh: bool,
}

fn retry(failures: u32, draw: f64) -> Duration {
    delay(
        RETRY_BASE,
        RETRY_MAX,
        Jitter::Around(SPREAD),
        failures,
        draw,
    )
}

fn spread(d: Duration, draw: f64) -> Duration {
    delay(d, d, Jitter::Around(SPREAD), 1, draw)
}

impl Agent {
    pub fn new(pace: Pace) -> Self {
        Agent {
            pace,
            view: View {
                phase: Phase::Connecting,
                registered: false,
                draining: false,
                last_error: None,
                heartbeats_ok: 0,
                heartbeats_failed: 0,
                last_heartbeat_ms: None,
                polls: 0,
            },
            failures: Failures::default(),
            loops_started: false,
            fresh: false,
        }
    }

    pub fn view(&self) -> &View {
        &self.view
    }

    /// Decides what follows `event`.
    pub fn handle(&mut self, event: Event, draw: f64) -> Vec<Effect> {
        if self.view.draining {
            return self.while_draining(event);
        }
        match event {
            Event::Start => {
                self.loops_started = false;
                vec![Effect::Register {
                    after: Duration::ZERO,
                }]
            }
            Event::RegisterOk { at_ms } => self.registered(at_ms, draw),
            Event::RegisterFailed(e) => self.register_failed(e, draw),
            Event::HeartbeatOk { at_ms } => {
                self.fresh = false;
                self.failures.heartbeat = 0;
                self.view.heartbeats_ok += 1;
                self.view.last_heartbeat_ms = Some(at_ms);
                self.online();
                vec![self.next_heartbeat(draw)]
            }
            Event::HeartbeatFailed(e) => self.heartbeat_failed(e, draw),
            // Forgotten again right after registering: a server that keeps losing the node
            // is not registered with in a loop; the heartbeat backs off, the next 404 registers.
            Event::Forgotten if self.fresh => {
                self.fresh = false;
                self.heartbeat_failed(
                    "the control plane forgot this node right after it registered".into(),
                    draw,
                )
            }
            Event::Forgotten => vec![Effect::Register {
                after: Duration::ZERO,
            }],
            Event::Polled { jobs, waited } => {
                self.failures.poll = 0;
                self.view.polls += 1;
                // A server that does not long-poll answered at once with nothing: pace it.
                let quick = waited < self.pace.poll_wait / 2 + Duration::from_millis(1);
                let after = if jobs == 0 && quick {
                    spread(self.pace.poll_interval, draw)
                } else {
                    Duration::ZERO
                };
                vec![Effect::Poll { after }]
            }
            Event::PollFailed(e) => {
                self.failures.poll += 1;
                self.view.polls += 1;
                self.view.last_error = Some(e);
                vec![Effect::Poll {
                    after: retry(self.failures.poll, draw),
                }]
            }
            Event::CommandsPolled => {
                self.failures.commands = 0;
                vec![Effect::PollCommands {
                    after: spread(self.pace.command_interval, draw),
                }]
            }
            Event::CommandsFailed(_) => {
                // Commands are optional (older servers lack them): no error shown.
                self.failures.commands += 1;
                vec![Effect::PollCommands {
                    after: retry(self.failures.commands, draw),
                }]
            }
            Event::LoopEnded { name, how } => {
                let why = format!("the control-plane {name} loop {how}");
                self.view.phase = Phase::Offline;
                self.view.last_error = Some(why.clone());
                vec![Effect::CloseIntake, Effect::Fail(why)]
            }
            Event::Drain => {
                self.view.draining = true;
                vec![Effect::CloseIntake]
            }
            Event::Drained => Vec::new(),
        }
    }

    /// While stopping, results of work already under way change the counters but schedule
    /// nothing; the end says goodbye when the server knows the node.
    fn while_draining(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::HeartbeatOk { at_ms } => {
                self.view.heartbeats_ok += 1;
                self.view.last_heartbeat_ms = Some(at_ms);
                Vec::new()
            }
            Event::Drained if self.view.phase != Phase::Stopped => {
                self.view.phase = Phase::Stopped;
                if self.view.registered {
                    vec![Effect::SendOffline]
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        }
    }

    fn online(&mut self) {
        self.view.phase = Phase::Online;
        self.view.last_error = None;
    }

    fn next_heartbeat(&self, draw: f64) -> Effect {
        let after = if self.failures.heartbeat == 0 {
            spread(self.pace.heartbeat, draw)
        } else {
            // Never wait longer than the interval: the server expires silent nodes.
            retry(self.failures.heartbeat, draw).min(self.pace.heartbeat)
        };
        Effect::Heartbeat { after }
    }

    fn registered(&mut self, at_ms: i64, draw: f64) -> Vec<Effect> {
        self.failures.register = 0;
        self.view.registered = true;
        self.view.last_heartbeat_ms = Some(at_ms);
        self.online();
        self.fresh = true;
        // A heartbeat at once: the reference's control plane keeps only the GPUs of the specs
        // a node registers with; the served models arrive with a heartbeat, and until then its
        // router has nothing to send the node.
        let beat = Effect::Heartbeat {
            after: Duration::ZERO,
        };
        if self.loops_started {
            // Registered again after the server forgot the node.
            return vec![beat];
        }
        self.loops_started = true;
        vec![
            Effect::StartLoops,
            beat,
            Effect::Poll {
                after: Duration::ZERO,
            },
            Effect::PollCommands {
                after: spread(self.pace.command_interval, draw),
            },
        ]
    }

    fn register_failed(&mut self, e: String, draw: f64) -> Vec<Effect> {
        if self.loops_started {
            // The re-registration stood in for a heartbeat.
            return self.heartbeat_failed(e, draw);
        }
        self.failures.register += 1;
        self.view.phase = Phase::Offline;
        self.view.last_error = Some(e);
        vec![Effect::Register {
            after: retry(self.failures.register, draw),
        }]
    }

    fn heartbeat_failed(&mut self, e: String, draw: f64) -> Vec<Effect> {
        self.failures.heartbeat += 1;
        self.view.heartbeats_failed += 1;
        self.view.phase = Phase::Offline;
        self.view.last_error = Some(e);
        vec![self.next_heartbeat(draw)]
    }
}

#[cfg(test)]
mod tests;
