//! Every transition of the tracker, and the fee and gas arithmetic.
use super::fees::{self, BUMP_PCT, DEFAULT_TIP, Fees};
use super::gas::{self, OverCap};
use super::*;

const CFG: Config = Config {
    confirmations: 2,
    replace_after_blocks: 3,
};

fn h(b: u8) -> TxHash {
    [b; 32]
}

fn signed(sub: u32, interval: u32, nonce: u64, hash: u8, block: u64) -> Signed {
    Signed {
        sub,
        interval,
        nonce,
        hash: h(hash),
        raw: vec![hash],
        block,
    }
}

fn block(
    t: &mut Tracker,
    number: u64,
    mined_nonce: u64,
    receipts: &[(u64, Receipt)],
) -> Vec<Effect> {
    t.handle(Event::Block {
        head: Head {
            number,
            timestamp: number * 12,
            base_fee: Some(1),
        },
        mined_nonce,
        receipts: receipts.iter().copied().collect(),
    })
}

fn receipt(hash: u8, ok: bool, mined_at: u64) -> Receipt {
    Receipt {
        hash: h(hash),
        ok,
        mined_at,
    }
}

/// A tracker with one delivery (sub 1, interval 1) sent at nonce 5 in block 10.
fn one_sent() -> Tracker {
    let mut t = Tracker::new(CFG);
    assert!(
        t.handle(Event::Submitted(signed(1, 1, 5, 0xa1, 10)))
            .is_empty()
    );
    t
}

fn resolve(sub: u32, interval: u32, outcome: Outcome) -> Effect {
    Effect::Resolve {
        sub,
        interval,
        outcome,
    }
}

fn replace(at: (u32, u32), nonce: u64, bumps: u32, raw: Vec<u8>) -> Effect {
    Effect::Replace {
        sub: at.0,
        interval: at.1,
        nonce,
        bumps,
        raw,
    }
}

// --- nonce and submission ---

#[test]
fn submit_uses_the_nonce_and_moves_it_on() {
    let mut t = Tracker::new(CFG);
    assert_eq!(t.nonce(), None, "unknown at start: read from the chain");
    assert!(t.is_idle());
    t.handle(Event::Submitted(signed(1, 1, 5, 0xa1, 10)));
    assert_eq!(t.nonce(), Some(6));
    t.handle(Event::Submitted(signed(1, 2, 6, 0xa2, 10)));
    assert_eq!(t.nonce(), Some(7));
    let p: Vec<_> = t
        .pending()
        .map(|p| (p.nonce, p.sent_block, p.broadcast_block))
        .collect();
    assert_eq!(p, vec![(5, 10, 10), (6, 10, 10)]);
}

#[test]
fn refusal_forgets_the_delivery_and_the_nonce() {
    let mut t = one_sent();
    assert!(t.handle(Event::Refused { nonce: 5 }).is_empty());
    assert_eq!(t.nonce(), None);
    assert!(t.is_idle());
    assert!(
        !t.in_flight(1, 1),
        "a refused delivery may be requested again"
    );
}

#[test]
fn plain_calls_move_the_nonce_or_reset_it() {
    let mut t = one_sent();
    t.handle(Event::CallSent { nonce: 6 });
    assert_eq!(t.nonce(), Some(7));
    t.handle(Event::CallRefused);
    assert_eq!(t.nonce(), None);
    assert!(
        t.in_flight(1, 1),
        "a call's refusal leaves deliveries alone"
    );
}

#[test]
fn a_delivery_in_flight_is_not_sent_twice() {
    let mut t = one_sent();
    assert!(t.in_flight(1, 1));
    assert!(!t.in_flight(1, 2));
    assert!(!t.in_flight(2, 1));
    // Once final, the same (sub, interval) may be asked for again.
    block(&mut t, 12, 6, &[(5, receipt(0xa1, true, 10))]);
    assert!(!t.in_flight(1, 1));
}

// --- receipts ---

#[test]
fn a_receipt_not_deep_enough_stays_pending() {
    let mut t = one_sent();
    assert!(block(&mut t, 11, 6, &[(5, receipt(0xa1, true, 11))]).is_empty());
    assert!(t.in_flight(1, 1));
}

#[test]
fn a_receipt_confirmations_deep_confirms() {
    let mut t = one_sent();
    let e = block(&mut t, 13, 6, &[(5, receipt(0xa1, true, 11))]);
    assert_eq!(e, vec![resolve(1, 1, Outcome::Confirmed(h(0xa1)))]);
    assert!(t.is_idle());
    assert_eq!(t.nonce(), Some(6), "a confirmation keeps the nonce");
}

#[test]
fn a_reverted_receipt_asks_for_the_reason_from_the_newest_version() {
    let mut t = one_sent();
    t.handle(Event::Replaced {
        nonce: 5,
        hash: h(0xa2),
        raw: vec![0xa2],
        block: 13,
    });
    // The older version is the one mined; the replay uses the newest (same calldata).
    let e = block(&mut t, 15, 6, &[(5, receipt(0xa1, false, 13))]);
    assert_eq!(
        e,
        vec![resolve(1, 1, Outcome::Reverted { raw: vec![0xa2] })]
    );
    assert!(!Outcome::Reverted { raw: vec![] }.confirmed());
    assert!(t.is_idle());
}

#[test]
fn a_reorged_out_receipt_keeps_the_delivery_pending() {
    let mut t = one_sent();
    assert!(block(&mut t, 11, 6, &[(5, receipt(0xa1, true, 11))]).is_empty());
    // Block 11 is reorged out: no receipt, the mined nonce went back.
    let e = block(&mut t, 12, 5, &[]);
    assert_eq!(
        e,
        vec![Effect::Rebroadcast {
            nonce: 5,
            raw: vec![0xa1]
        }]
    );
    assert!(t.in_flight(1, 1));
    assert_eq!(t.nonce(), Some(6));
    // Mined again in block 12, final two blocks later.
    assert!(block(&mut t, 13, 6, &[(5, receipt(0xa1, true, 12))]).is_empty());
    let e = block(&mut t, 14, 6, &[(5, receipt(0xa1, true, 12))]);
    assert_eq!(e, vec![resolve(1, 1, Outcome::Confirmed(h(0xa1)))]);
}

// --- drops ---

#[test]
fn a_drop_the_chain_explains_is_confirmed() {
    let mut t = one_sent();
    let e = block(&mut t, 11, 6, &[]);
    assert_eq!(
        e,
        vec![Effect::CheckResponded {
            sub: 1,
            interval: 1
        }]
    );
    assert!(t.is_idle(), "no longer tracked while the chain is asked");
    let e = t.handle(Event::DroppedChecked {
        sub: 1,
        interval: 1,
        responded: Some(true),
    });
    assert_eq!(e, vec![resolve(1, 1, Outcome::FoundOnChain)]);
    assert!(Outcome::FoundOnChain.confirmed());
    assert_eq!(t.nonce(), Some(6));
}

#[test]
fn a_drop_the_chain_does_not_explain_fails_and_resets_the_nonce() {
    for responded in [Some(false), None] {
        let mut t = one_sent();
        block(&mut t, 11, 6, &[]);
        let e = t.handle(Event::DroppedChecked {
            sub: 1,
            interval: 1,
            responded,
        });
        assert_eq!(e, vec![resolve(1, 1, Outcome::Dropped)]);
        assert_eq!(t.nonce(), None, "{responded:?}");
    }
}

#[test]
fn a_mined_nonce_below_ours_is_no_drop() {
    let mut t = one_sent();
    assert!(block(&mut t, 11, 5, &[]).is_empty());
    assert!(t.in_flight(1, 1));
}

// --- stuck, replaced, rebroadcast ---

#[test]
fn a_stuck_delivery_is_replaced_with_one_bump_per_version() {
    let mut t = one_sent();
    assert!(block(&mut t, 11, 5, &[]).is_empty());
    let e = block(&mut t, 13, 5, &[]);
    assert_eq!(e, vec![replace((1, 1), 5, 1, vec![0xa1])]);
    t.handle(Event::Replaced {
        nonce: 5,
        hash: h(0xa2),
        raw: vec![0xa2],
        block: 13,
    });
    let p = t.pending().next().unwrap();
    assert_eq!((p.sent_block, p.broadcast_block), (13, 13));
    let hashes: Vec<_> = p.hashes_newest_first().copied().collect();
    assert_eq!(hashes, vec![h(0xa2), h(0xa1)]);
    // "Stuck" counts again from the replacement; the second one bumps twice.
    assert!(block(&mut t, 14, 5, &[]).is_empty());
    let e = block(&mut t, 16, 5, &[]);
    assert_eq!(e, vec![replace((1, 1), 5, 2, vec![0xa2])]);
}

#[test]
fn a_replacement_that_was_not_recorded_is_tried_again() {
    let mut t = one_sent();
    let first = block(&mut t, 13, 5, &[]);
    // Signing or recording failed: no Replaced event; the next block asks again, same bumps.
    assert_eq!(block(&mut t, 14, 5, &[]), first);
}

#[test]
fn a_replacement_for_a_resolved_nonce_is_ignored() {
    let mut t = one_sent();
    block(&mut t, 13, 6, &[(5, receipt(0xa1, true, 11))]);
    t.handle(Event::Replaced {
        nonce: 5,
        hash: h(0xa2),
        raw: vec![],
        block: 13,
    });
    t.handle(Event::Rebroadcast {
        nonce: 5,
        block: 13,
    });
    assert!(t.is_idle());
}

#[test]
fn rebroadcast_only_after_a_block_without_one() {
    let mut t = Tracker::new(Config {
        confirmations: 2,
        replace_after_blocks: 100,
    });
    t.handle(Event::Submitted(signed(1, 1, 5, 0xa1, 10)));
    assert!(
        block(&mut t, 11, 5, &[]).is_empty(),
        "sent in the block before"
    );
    let again = vec![Effect::Rebroadcast {
        nonce: 5,
        raw: vec![0xa1],
    }];
    assert_eq!(block(&mut t, 12, 5, &[]), again);
    t.handle(Event::Rebroadcast {
        nonce: 5,
        block: 12,
    });
    assert!(block(&mut t, 13, 5, &[]).is_empty());
    assert_eq!(block(&mut t, 14, 5, &[]), again);
    // That broadcast failed (no event): the next block tries again.
    assert_eq!(block(&mut t, 15, 5, &[]), again);
}

#[test]
fn sends_come_before_verdicts_each_in_nonce_order() {
    let mut t = Tracker::new(CFG);
    t.handle(Event::Submitted(signed(1, 1, 5, 0xa1, 10)));
    t.handle(Event::Submitted(signed(1, 2, 6, 0xa2, 10)));
    t.handle(Event::Submitted(signed(1, 3, 7, 0xa3, 13)));
    t.handle(Event::Submitted(signed(1, 4, 8, 0xa4, 10)));
    let e = block(&mut t, 14, 7, &[(5, receipt(0xa1, true, 11))]);
    assert_eq!(
        e,
        vec![
            replace((1, 4), 8, 1, vec![0xa4]),
            resolve(1, 1, Outcome::Confirmed(h(0xa1))),
            Effect::CheckResponded {
                sub: 1,
                interval: 2
            },
        ]
    );
    let left: Vec<_> = t.pending().map(|p| p.nonce).collect();
    assert_eq!(left, vec![7, 8]);
}

#[test]
fn a_failed_block_check_decides_nothing_and_the_next_one_catches_up() {
    // An RPC error while reading is no event: blocks 11..=12 were never handed over. Block 13
    // decides from the head number alone, as if every block had been seen.
    let mut t = one_sent();
    let e = block(&mut t, 13, 5, &[]);
    assert_eq!(e, vec![replace((1, 1), 5, 1, vec![0xa1])]);
}

// --- restart ---

#[test]
fn restore_groups_versions_by_nonce_and_resumes() {
    let mut t = Tracker::new(CFG);
    t.handle(Event::Restored(vec![
        signed(1, 1, 3, 0xa1, 10),
        signed(1, 1, 3, 0xa2, 14),
        signed(2, 7, 4, 0xb1, 12),
    ]));
    assert_eq!(t.nonce(), None, "read from the chain after a restart");
    assert!(t.in_flight(1, 1) && t.in_flight(2, 7));
    let p: Vec<_> = t.pending().cloned().collect();
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].versions.len(), 2);
    assert_eq!((p[0].sent_block, p[0].broadcast_block), (14, 0));
    assert_eq!(p[0].hashes_newest_first().next(), Some(&h(0xa2)));
    assert_eq!((p[1].sub, p[1].interval, p[1].sent_block), (2, 7, 12));
    // Broadcast again at once (the crash may have come before the broadcast), newest version.
    let e = block(&mut t, 15, 3, &[]);
    assert_eq!(
        e,
        vec![
            Effect::Rebroadcast {
                nonce: 3,
                raw: vec![0xa2]
            },
            replace((2, 7), 4, 1, vec![0xb1]),
        ]
    );
    // The restored nonce 3 carries two versions: its replacement bumps twice.
    let e = block(&mut t, 17, 3, &[]);
    assert_eq!(e[0], replace((1, 1), 3, 2, vec![0xa2]));
}

#[test]
fn a_restored_delivery_mined_while_down_is_confirmed() {
    let mut t = Tracker::new(CFG);
    t.handle(Event::Restored(vec![signed(1, 1, 3, 0xa1, 10)]));
    let e = block(&mut t, 20, 4, &[(3, receipt(0xa1, true, 11))]);
    assert_eq!(e, vec![resolve(1, 1, Outcome::Confirmed(h(0xa1)))]);
}

// --- broadcast answers ---

#[test]
fn already_known_means_sent() {
    assert!(already_known("Already Known"));
    assert!(already_known("transaction already imported"));
    assert!(already_known("ErrAlreadyKnown"));
    assert!(already_known("known transaction: 0xabc"));
    assert!(!already_known("nonce too low"));
}

#[test]
fn a_nonce_taken_by_another_sender_is_recognised() {
    assert!(nonce_taken("error code -32003: nonce too low"));
    assert!(nonce_taken(
        "Nonce too low. Expected nonce to be 7 but got 6."
    ));
    assert!(nonce_taken("replacement transaction underpriced"));
    assert!(nonce_taken("ErrOldNonce"));
    assert!(!nonce_taken("insufficient funds for gas * price + value"));
    assert!(!nonce_taken("already known"));
}

// --- fees ---

#[test]
fn bumps_compound_and_always_grow() {
    assert_eq!(BUMP_PCT, 25);
    assert_eq!(fees::bumped(100, 0), 100);
    assert_eq!(fees::bumped(100, 1), 126);
    assert_eq!(fees::bumped(100, 2), 126 + 31 + 1);
    // +1 per step: a zero or tiny fee still grows, as a replacement must.
    assert_eq!(fees::bumped(0, 3), 3);
    assert_eq!(fees::bumped(u128::MAX, 1), u128::MAX);
}

#[test]
fn dynamic_fees_leave_room_for_the_base_fee_to_double() {
    let gwei = 1_000_000_000u128;
    assert_eq!(
        fees::dynamic(10_000_000_000, Some(2 * gwei), 0),
        Fees {
            max_fee: 22 * gwei,
            tip: 2 * gwei
        }
    );
    let tip = 2 * gwei + gwei / 2 + 1;
    assert_eq!(
        fees::dynamic(10_000_000_000, Some(2 * gwei), 1),
        Fees {
            max_fee: 25 * gwei + 1 + tip,
            tip
        }
    );
    // No suggestion from the RPC: 1 gwei; a zero suggestion: 1 wei.
    assert_eq!(fees::dynamic(0, None, 0).tip, DEFAULT_TIP);
    assert_eq!(fees::dynamic(0, Some(0), 0), Fees { max_fee: 1, tip: 1 });
}

#[test]
fn legacy_price_is_the_quote_bumped() {
    assert_eq!(fees::legacy(1_000, 0), 1_000);
    assert_eq!(fees::legacy(1_000, 2), fees::bumped(1_251, 1));
}

// --- gas ---

#[test]
fn gas_is_the_estimate_plus_margin_within_the_cap() {
    assert_eq!(gas::GAS_MARGIN_PCT, 25);
    assert_eq!(gas::limit(100_000, 1_000_000), Ok(125_000));
    // The cap cuts the margin ...
    assert_eq!(gas::limit(900_000, 1_000_000), Ok(1_000_000));
    assert_eq!(gas::limit(1_000_000, 1_000_000), Ok(1_000_000));
    // ... but not the estimate.
    let over = gas::limit(1_000_001, 1_000_000);
    assert_eq!(
        over,
        Err(OverCap {
            needed: 1_000_001,
            cap: 1_000_000
        })
    );
    assert_eq!(
        over.unwrap_err().to_string(),
        "delivery needs 1000001 gas, more than chain.wallet.max_gas_limit 1000000"
    );
}

#[test]
fn allowed_sim_errors_match_case_insensitively_and_skip_empty_entries() {
    let allowed = vec![String::new(), "InsufficientBalance".to_string()];
    assert!(gas::sim_error_allowed(
        &allowed,
        "revert: insufficientbalance()"
    ));
    assert!(gas::sim_error_allowed(&allowed, "INSUFFICIENTBALANCE"));
    assert!(!gas::sim_error_allowed(&allowed, "IntervalMismatch()"));
    assert!(!gas::sim_error_allowed(&[String::new()], "anything"));
    assert!(!gas::sim_error_allowed(&[], "anything"));
}
