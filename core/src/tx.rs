//! The transaction tracker's decisions: per block, which sent deliveries are final, dropped,
//! to be replaced with bumped fees or rebroadcast; and the local nonce.
//!
//! The signer (driver) asks the chain and signs; the [`Tracker`] decides. Per new head the
//! driver reads the account's mined nonce, then each pending nonce's receipts (newest version
//! first), and hands them over as one [`Event::Block`]; an RPC error while reading means no
//! event, so nothing is decided on a partial view.
use crate::chain::Head;
use std::collections::BTreeMap;

pub mod fees;
pub mod gas;
#[cfg(test)]
mod tests;

pub type TxHash = [u8; 32];

/// When a sent delivery is final, and when a stuck one is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Blocks on top of the one holding a delivery before it counts as confirmed.
    pub confirmations: u64,
    /// Blocks without a receipt after which the transaction is replaced with bumped fees.
    pub replace_after_blocks: u64,
}

/// One signed version of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub hash: TxHash,
    /// The signed transaction (EIP-2718 bytes), kept to rebroadcast and to re-sign.
    pub raw: Vec<u8>,
}

/// A delivery transaction sent and not yet final; one per nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub sub: u32,
    pub interval: u32,
    pub nonce: u64,
    /// Every signed version (replacements), newest last.
    pub versions: Vec<Version>,
    /// Block of the newest version: "stuck" counts from here.
    pub sent_block: u64,
    /// Block of the last broadcast (0 after a restart: rebroadcast at once).
    pub broadcast_block: u64,
}

impl Pending {
    /// Hashes in the order the driver looks their receipts up.
    pub fn hashes_newest_first(&self) -> impl Iterator<Item = &TxHash> {
        self.versions.iter().rev().map(|v| &v.hash)
    }

    fn newest_raw(&self) -> Vec<u8> {
        self.versions
            .last()
            .map(|v| v.raw.clone())
            .unwrap_or_default()
    }
}

/// A signed delivery transaction as recorded in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub sub: u32,
    pub interval: u32,
    pub nonce: u64,
    pub hash: TxHash,
    pub raw: Vec<u8>,
    /// The head when it was signed.
    pub block: u64,
}

/// A receipt found for one of a nonce's versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub hash: TxHash,
    /// Status 1 (success).
    pub ok: bool,
    pub mined_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Pending transactions read back from the ledger after a restart, ordered by nonce then
    /// by the time they were recorded.
    Restored(Vec<Signed>),
    /// A delivery was signed and recorded; the driver broadcasts it next.
    Submitted(Signed),
    /// The RPC refused a delivery's broadcast (not a transient error): it will never be mined.
    Refused { nonce: u64 },
    /// A plain transaction (not tracked) was broadcast at `nonce`.
    CallSent { nonce: u64 },
    /// A plain transaction's broadcast failed: the nonce is unknown again.
    CallRefused,
    /// A new head, with the account's mined nonce and, per pending nonce, the receipt found
    /// for its newest mined version (absent: none of its versions is mined).
    Block {
        head: Head,
        mined_nonce: u64,
        receipts: BTreeMap<u64, Receipt>,
    },
    /// The answer to [`Effect::CheckResponded`]: `nodeResponded` for the dropped delivery
    /// (None: the view call failed).
    DroppedChecked {
        sub: u32,
        interval: u32,
        responded: Option<bool>,
    },
    /// A replacement of `nonce` was signed and recorded at `block`.
    Replaced {
        nonce: u64,
        hash: TxHash,
        raw: Vec<u8>,
        block: u64,
    },
    /// `nonce`'s newest version was broadcast again at `block`.
    Rebroadcast { nonce: u64, block: u64 },
}

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Mined with success, `confirmations` deep.
    Confirmed(TxHash),
    /// Mined and reverted: the driver replays `raw` (the newest version) to learn why.
    Reverted { raw: Vec<u8> },
    /// Its nonce was used by something else, yet the chain has this node's response.
    FoundOnChain,
    /// Its nonce was used by something else and the chain has no response: failed.
    Dropped,
}

impl Outcome {
    pub fn confirmed(&self) -> bool {
        matches!(self, Outcome::Confirmed(_) | Outcome::FoundOnChain)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Final: close the ledger rows and tell the scheduler.
    Resolve {
        sub: u32,
        interval: u32,
        outcome: Outcome,
    },
    /// Dropped: ask the chain whether this node's response landed anyway, answer with
    /// [`Event::DroppedChecked`].
    CheckResponded { sub: u32, interval: u32 },
    /// Stuck: re-sign the newest version (`raw`) with `bumps` fee bumps, record it, answer
    /// with [`Event::Replaced`], then broadcast it.
    Replace {
        sub: u32,
        interval: u32,
        nonce: u64,
        bumps: u32,
        raw: Vec<u8>,
    },
    /// Broadcast the newest version again; answer with [`Event::Rebroadcast`] when it went out.
    Rebroadcast { nonce: u64, raw: Vec<u8> },
}

/// The signer's pending deliveries and local nonce.
#[derive(Debug, Clone)]
pub struct Tracker {
    config: Config,
    pending: BTreeMap<u64, Pending>,
    /// The next nonce to use; None: read the account's pending nonce from the chain (at start,
    /// after a refusal, after a drop).
    nonce: Option<u64>,
}

impl Tracker {
    pub fn new(config: Config) -> Self {
        Self {
            config,
            pending: BTreeMap::new(),
            nonce: None,
        }
    }

    /// The next nonce to sign with, if known locally.
    pub fn nonce(&self) -> Option<u64> {
        self.nonce
    }

    pub fn is_idle(&self) -> bool {
        self.pending.is_empty()
    }

    pub fn pending(&self) -> impl Iterator<Item = &Pending> {
        self.pending.values()
    }

    /// A delivery for (sub, interval) is already sent and not final: do not send another.
    pub fn in_flight(&self, sub: u32, interval: u32) -> bool {
        self.pending
            .values()
            .any(|p| p.sub == sub && p.interval == interval)
    }

    pub fn handle(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Restored(rows) => {
                self.restore(rows);
                Vec::new()
            }
            Event::Submitted(s) => {
                self.nonce = Some(s.nonce.saturating_add(1));
                self.pending.insert(s.nonce, first_version(s));
                Vec::new()
            }
            Event::Refused { nonce } => {
                self.pending.remove(&nonce);
                self.nonce = None;
                Vec::new()
            }
            Event::CallSent { nonce } => {
                self.nonce = Some(nonce.saturating_add(1));
                Vec::new()
            }
            Event::CallRefused => {
                self.nonce = None;
                Vec::new()
            }
            Event::Block {
                head,
                mined_nonce,
                receipts,
            } => self.on_block(head.number, mined_nonce, &receipts),
            Event::DroppedChecked {
                sub,
                interval,
                responded,
            } => vec![self.dropped(sub, interval, responded)],
            Event::Replaced {
                nonce,
                hash,
                raw,
                block,
            } => {
                if let Some(p) = self.pending.get_mut(&nonce) {
                    p.versions.push(Version { hash, raw });
                    p.sent_block = block;
                    p.broadcast_block = block;
                }
                Vec::new()
            }
            Event::Rebroadcast { nonce, block } => {
                if let Some(p) = self.pending.get_mut(&nonce) {
                    p.broadcast_block = block;
                }
                Vec::new()
            }
        }
    }

    /// Versions of one nonce are grouped; "stuck" counts from the newest one.
    fn restore(&mut self, rows: Vec<Signed>) {
        for s in rows {
            let p = self.pending.entry(s.nonce).or_insert(Pending {
                sub: s.sub,
                interval: s.interval,
                nonce: s.nonce,
                versions: Vec::new(),
                sent_block: s.block,
                broadcast_block: 0,
            });
            p.versions.push(Version {
                hash: s.hash,
                raw: s.raw,
            });
            p.sent_block = p.sent_block.max(s.block);
        }
    }

    /// Sends (replacements, rebroadcasts) first, then the final verdicts, each in nonce order.
    fn on_block(
        &mut self,
        head: u64,
        mined_nonce: u64,
        receipts: &BTreeMap<u64, Receipt>,
    ) -> Vec<Effect> {
        let mut sends = Vec::new();
        let mut finals = Vec::new();
        for (n, p) in &self.pending {
            let step = match receipts.get(n) {
                Some(r) => self.mined(p, r, head),
                None => self.unmined(p, head, mined_nonce),
            };
            match step {
                Step::Wait => {}
                Step::Send(e) => sends.push(e),
                Step::Final(e) => finals.push((*n, e)),
            }
        }
        for (n, _) in &finals {
            self.pending.remove(n);
        }
        sends.extend(finals.into_iter().map(|(_, e)| e));
        sends
    }

    /// Final only `confirmations` blocks deep: a delivery in a block that gets reorged out is
    /// still pending, and is re-sent if it vanishes.
    fn mined(&self, p: &Pending, r: &Receipt, head: u64) -> Step {
        if head < r.mined_at.saturating_add(self.config.confirmations) {
            return Step::Wait;
        }
        let outcome = if r.ok {
            Outcome::Confirmed(r.hash)
        } else {
            Outcome::Reverted {
                raw: p.newest_raw(),
            }
        };
        Step::Final(Effect::Resolve {
            sub: p.sub,
            interval: p.interval,
            outcome,
        })
    }

    fn unmined(&self, p: &Pending, head: u64, mined_nonce: u64) -> Step {
        // Not mined, yet its nonce was used: another version or transaction took it. (The
        // driver reads the nonce before the receipts, so a transaction mined between the two
        // reads shows up as a receipt, never as a drop.)
        if mined_nonce > p.nonce {
            return Step::Final(Effect::CheckResponded {
                sub: p.sub,
                interval: p.interval,
            });
        }
        if head.saturating_sub(p.sent_block) >= self.config.replace_after_blocks {
            let bumps = u32::try_from(p.versions.len()).unwrap_or(u32::MAX);
            return Step::Send(Effect::Replace {
                sub: p.sub,
                interval: p.interval,
                nonce: p.nonce,
                bumps,
                raw: p.newest_raw(),
            });
        }
        if head > p.broadcast_block.saturating_add(1) {
            return Step::Send(Effect::Rebroadcast {
                nonce: p.nonce,
                raw: p.newest_raw(),
            });
        }
        Step::Wait
    }

    /// A drop the chain does not explain also means the local nonce is wrong.
    fn dropped(&mut self, sub: u32, interval: u32, responded: Option<bool>) -> Effect {
        let outcome = if responded == Some(true) {
            Outcome::FoundOnChain
        } else {
            self.nonce = None;
            Outcome::Dropped
        };
        Effect::Resolve {
            sub,
            interval,
            outcome,
        }
    }
}

enum Step {
    Wait,
    Send(Effect),
    Final(Effect),
}

fn first_version(s: Signed) -> Pending {
    Pending {
        sub: s.sub,
        interval: s.interval,
        nonce: s.nonce,
        versions: vec![Version {
            hash: s.hash,
            raw: s.raw,
        }],
        sent_block: s.block,
        broadcast_block: s.block,
    }
}

/// A broadcast error that means another transaction from this key took the nonce (the operator
/// ran `infernet wallet …` or another program with the node's key): sign again with the
/// chain's next nonce; the delivery itself is fine.
pub fn nonce_taken(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    [
        "nonce too low",
        "nonce has already been used",
        "replacement transaction underpriced",
        "oldnonce",
        "invalid nonce",
    ]
    .iter()
    .any(|k| lower.contains(k))
}

/// A broadcast error that means the transaction is already in the pool (geth/erigon "already
/// known", anvil "already imported"): as good as sent.
pub fn already_known(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    [
        "already known",
        "already imported",
        "alreadyknown",
        "known transaction",
    ]
    .iter()
    .any(|k| lower.contains(k))
}
