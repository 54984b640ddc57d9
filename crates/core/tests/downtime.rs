//! Downtime on chain: BFT blocks whose consensus records skip views count their leaders' missed
//! turns in a row; past `downtime_jail_blocks` the validator is jailed (never slashed), sits out
//! from the next epoch boundary, and comes back after it unjails. A second ledger verifying
//! every block (the path other validators take) reaches the same app hashes.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::bft::Bft;
use common::*;
use depin_core::genesis::Allocation;
use depin_core::services::governance::GovernanceGenesis;
use depin_core::services::governance::actions::Unjail;
use depin_core::services::governance::election::tolerated;
use depin_core::services::governance::liveness::{
    RECORD_BYTES, Record, last_producers, leader_index, missed_in_a_row, parse_record,
    skipped_turns,
};
use depin_core::services::governance::records::GovernanceView;
use depin_core::{Action, Address, Genesis, Hash, Keypair, Ledger, State, StateRead, Transaction};
use proptest::prelude::*;

const LIMIT: u64 = 3;
const JAIL_BLOCKS: u64 = 5;
const EPOCH: u64 = 10;

fn validator_key(i: u8) -> Keypair {
    Keypair::from_seed([60 + i; 32])
}

fn bft_genesis(validators: u8) -> Genesis {
    genesis(|g| {
        g.consensus.validators = (0..validators)
            .map(|i| validator_key(i).address())
            .collect();
        g.consensus.epoch_length_blocks = EPOCH;
        g.modules.coverage = None;
        // Nothing minted: the supply only moves by the fees burned.
        g.economics = None;
        for i in 0..validators {
            g.allocations.push(Allocation {
                address: validator_key(i).address(),
                amount: "10".into(),
            });
        }
        let mut gov = GovernanceGenesis::devnet();
        gov.downtime_jail_blocks = LIMIT;
        gov.jail_blocks = JAIL_BLOCKS;
        g.modules.governance = Some(gov);
    })
}

/// The chain of `validators` validators the BFT driver would drive.
fn bft(validators: u8) -> Bft {
    Bft::new(bft_genesis(validators), (0..validators).map(validator_key))
}

fn unjail_tx(bft: &Bft, who: &Address) -> Transaction {
    bft.tx(who, Action::from(Unjail {}))
}

/// A validator that stops proposing is jailed after `LIMIT` skipped turns (not before), nothing
/// is slashed, it leaves the set at the next boundary, and after the jail period and an unjail
/// it is back in the set and proposing.
#[test]
fn a_silent_validator_is_jailed_not_slashed_and_can_come_back() {
    let mut bft = bft(4);
    let supply = bft.state().meta().total_supply;
    let gone = bft.participants[2];
    let balance = bft.state().account(&gone).unwrap().balance;
    let everyone = BTreeSet::new();
    for _ in 0..3 {
        bft.next_block(&everyone, Vec::new());
    }
    let down = BTreeSet::from([gone]);
    let mut turns = 0;
    let jailed_at = loop {
        let block = bft.next_block(&down, Vec::new());
        turns += bft.skipped.iter().filter(|a| **a == gone).count() as u64;
        if bft.state().jail_of(&gone).is_some() {
            break block.header.height;
        }
        assert_eq!(missed_in_a_row(bft.state(), &gone), turns);
        assert!(turns < LIMIT, "not jailed after {turns} skipped turns");
    };
    assert_eq!(turns, LIMIT, "jailed exactly at the limit");
    let jail = bft.state().jail_of(&gone).unwrap();
    assert_eq!(jail.reason, "downtime");
    assert_eq!(jail.until_height, jailed_at + JAIL_BLOCKS);
    assert_eq!(
        missed_in_a_row(bft.state(), &gone),
        0,
        "cleared once jailed"
    );
    assert!(
        bft.state().slashes(10).is_empty(),
        "downtime is never slashed"
    );
    assert_eq!(bft.state().account(&gone).unwrap().balance, balance);
    assert_eq!(bft.state().meta().total_supply, supply);
    for v in bft.participants.clone() {
        if v != gone {
            assert!(bft.state().jail_of(&v).is_none(), "{v} was never down");
            assert_eq!(missed_in_a_row(bft.state(), &v), 0);
        }
    }
    // Out of the set at the next boundary: a new consensus epoch of three.
    let epoch = bft.epoch;
    while bft.epoch == epoch {
        bft.next_block(&down, Vec::new());
    }
    assert_eq!(bft.participants.len(), 3);
    assert!(!bft.participants.contains(&gone));
    // Back up; it asks to come back once the jail period is over.
    while bft.state().height() < jail.until_height {
        bft.next_block(&everyone, Vec::new());
    }
    let tx = unjail_tx(&bft, &gone);
    let block = bft.next_block(&everyone, vec![tx.clone()]);
    assert!(block.txs.iter().any(|t| t.hash() == tx.hash()));
    assert!(bft.state().jail_of(&gone).is_none(), "unjailed");
    let epoch = bft.epoch;
    while bft.epoch == epoch {
        bft.next_block(&everyone, Vec::new());
    }
    assert_eq!(bft.participants.len(), 4, "back in the set");
    let mut proposed = false;
    for _ in 0..8 {
        proposed |= bft.next_block(&everyone, Vec::new()).header.proposer == gone;
    }
    assert!(proposed, "it proposes again");
    assert!(bft.state().slashes(10).is_empty());
    // Only the unjail's fee left its balance, burned.
    let fee = balance.0 - bft.state().account(&gone).unwrap().balance.0;
    assert!(fee > 0);
    assert_eq!(bft.state().meta().total_supply.0, supply.0 - fee);
}

/// A solo block (no consensus record) and a network without governance count nothing.
#[test]
fn solo_blocks_and_networks_without_governance_count_nothing() {
    let mut net = Net::new(bft_genesis(4));
    for _ in 0..20 {
        net.block(Vec::new());
    }
    for i in 0..4 {
        assert_eq!(missed_in_a_row(&net.state, &validator_key(i).address()), 0);
    }
    let mut bft = bft(4);
    let mut g = bft_genesis(4);
    g.modules.governance = None;
    bft.ledger = Ledger::new(State::genesis(&g).unwrap());
    bft.replica = Ledger::new(State::genesis(&g).unwrap());
    bft.genesis = g;
    let down = BTreeSet::from([bft.participants[1]]);
    for _ in 0..20 {
        bft.next_block(&down, Vec::new());
    }
    assert!(bft.state().jail_of(&bft.participants[1]).is_none());
    assert_eq!(missed_in_a_row(bft.state(), &bft.participants[1]), 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever validator is down at each block, the ledger's count (from the records, in
    /// closed form) equals the turns skipped view by view: a validator is jailed exactly when
    /// its skipped turns since it last proposed reach the limit, nobody is slashed, the supply
    /// is kept, and a verifying ledger agrees on every app hash.
    #[test]
    fn jails_follow_the_skipped_turns_view_by_view(
        downs in proptest::collection::vec(proptest::option::of(0usize..4), 30..70),
    ) {
        let mut bft = bft(4);
        let supply = bft.state().meta().total_supply;
        let mut run: BTreeMap<Address, u64> = BTreeMap::new();
        let mut jailed: BTreeSet<Address> = BTreeSet::new();
        for down in downs {
            // Someone must be up to propose.
            let down: BTreeSet<Address> = down
                .filter(|_| bft.participants.len() > 1)
                .map(|i| bft.participants[i % bft.participants.len()])
                .into_iter()
                .collect();
            let block = bft.next_block(&down, Vec::new());
            for leader in bft.skipped.clone() {
                if jailed.contains(&leader) {
                    continue;
                }
                let r = run.entry(leader).or_default();
                *r += 1;
                if *r >= LIMIT {
                    *r = 0;
                    jailed.insert(leader);
                }
            }
            run.insert(block.header.proposer, 0);
            for (v, r) in &run {
                prop_assert_eq!(missed_in_a_row(bft.state(), v), *r);
            }
            let on_chain: BTreeSet<Address> = bft
                .keys
                .keys()
                .filter(|v| bft.state().jail_of(v).is_some())
                .copied()
                .collect();
            prop_assert_eq!(&on_chain, &jailed);
        }
        prop_assert!(bft.state().slashes(10).is_empty());
        prop_assert_eq!(bft.state().meta().total_supply, supply);
    }
}

// The closed-form count of skipped turns, against the rotation view by view.
/// The turns each participant led, view by view (what the closed form must equal).
fn by_hand(epoch: u64, parent_view: u64, view: u64, n: usize) -> Vec<u64> {
    let mut out = vec![0; n];
    for v in parent_view + 1..view {
        out[leader_index(epoch, v, n)] += 1;
    }
    out
}

proptest! {
    #[test]
    fn skipped_turns_match_the_rotation_view_by_view(
        epoch in 0u64..1_000,
        parent_view in 0u64..1_000,
        gap in 0u64..300,
        n in 1usize..12,
    ) {
        let view = parent_view + gap;
        let turns = skipped_turns(epoch, parent_view, view, n);
        prop_assert_eq!(&turns, &by_hand(epoch, parent_view, view, n));
        prop_assert_eq!(turns.iter().sum::<u64>(), gap.saturating_sub(1));
    }
}

#[test]
fn a_block_on_the_view_after_its_parent_skipped_nothing() {
    assert_eq!(skipped_turns(3, 7, 8, 4), vec![0; 4]);
    assert_eq!(
        skipped_turns(3, 8, 8, 4),
        vec![0; 4],
        "wrong order: nothing"
    );
    assert_eq!(skipped_turns(0, 0, u64::MAX, 4), by_wrap_guard());
}

fn by_wrap_guard() -> Vec<u64> {
    // Epoch 0 never wraps: a huge gap is counted in closed form.
    let total = u64::MAX - 1;
    let full = total / 4;
    let start = leader_index(0, 1, 4);
    (0..4)
        .map(|i| full + u64::from((i + 4 - start) % 4 < (total % 4) as usize))
        .collect()
}

#[test]
fn records_read_back_and_reject_other_lengths() {
    let r = Record {
        epoch: 2,
        view: 9,
        parent_view: 7,
        set: Hash([5; 32]),
    };
    assert_eq!(parse_record(&r.to_bytes()), Some(r));
    assert_eq!(parse_record(&[]), None);
    assert_eq!(parse_record(&[0; RECORD_BYTES + 1]), None);
}

/// Downtime seed 551 of the BFT simulation on the ledger: validator 3 is down, jailed and out
/// (a set of three), and unjailed while still down; in the same epoch the live validator 0 gets
/// a block in and is then jailed for downtime (a set of three needs every vote, so a few lost
/// messages skip its turns). The boundary must not seat {1, 2, 3}: with 3 down that set never
/// reaches a quorum. 0 stays (still jailed) and the set of four tolerates the silent 3.
#[test]
fn a_boundary_keeps_a_live_jailed_validator_rather_than_halt_on_a_silent_one() {
    let mut bft = bft(4);
    let (v0, v3) = (validator_key(0).address(), validator_key(3).address());
    let everyone = BTreeSet::new();
    let three_down = BTreeSet::from([v3]);
    while bft.participants.len() == 4 {
        bft.next_block(&three_down, Vec::new());
    }
    assert!(bft.state().jail_of(&v3).is_some());
    let mut unjailed = false;
    let mut zero_produced = false;
    let epoch = bft.epoch;
    while bft.epoch == epoch {
        let height = bft.state().height() + 1;
        let unjail = (!unjailed && height >= bft.state().jail_of(&v3).unwrap().until_height)
            .then(|| unjail_tx(&bft, &v3));
        unjailed |= unjail.is_some();
        // 0 proposes once, then misses its turns until it is jailed.
        let zero_jailed = bft.state().jail_of(&v0).is_some();
        let block = bft.next_block_with(
            |leader| *leader == v3 || (zero_produced && !zero_jailed && *leader == v0),
            unjail.into_iter().collect(),
        );
        zero_produced |= block.header.proposer == v0;
    }
    assert!(
        unjailed && bft.state().jail_of(&v3).is_none(),
        "3 unjailed in that epoch"
    );
    let jail = bft
        .state()
        .jail_of(&v0)
        .expect("0 jailed for downtime in that epoch");
    assert_eq!(jail.reason, "downtime");
    let producers = last_producers(bft.state()).unwrap();
    assert!(producers.contains(&v0) && !producers.contains(&v3));
    // Without the guard the set would be {1, 2, 3}.
    assert_eq!(bft.participants.len(), 4, "0 stays, 3 comes back");
    assert!(bft.participants.contains(&v0) && bft.participants.contains(&v3));
    // The chain goes on with 3 still down (one silent member of four is tolerated), and 0
    // sits out at a boundary where the others were live.
    while bft.participants.contains(&v0) {
        bft.next_block(&everyone, Vec::new());
    }
    assert_eq!(bft.participants.len(), 3);
    assert!(bft.state().jail_of(&v0).is_some());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Whatever validators are down block by block, and whenever jailed ones ask to come back
    /// (while up or down): at every boundary the set that takes office has at most
    /// `tolerated(n)` members that got no block into the epoch that ended, so the members that
    /// were live reach a quorum (after a set of more than one). The verifying ledger agrees on
    /// every app hash (in the model).
    #[test]
    fn no_boundary_seats_more_silent_members_than_the_set_tolerates(
        downs in proptest::collection::vec((0u8..16, any::<bool>()), 60..160),
    ) {
        let mut bft = bft(4);
        let all: Vec<Address> = (0..4).map(|i| validator_key(i).address()).collect();
        let mut produced: BTreeSet<Address> = BTreeSet::new();
        let mut boundaries = 0;
        for (mask, unjail) in downs {
            let mut down: BTreeSet<Address> = (0..4)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| all[i])
                .collect();
            if bft.participants.iter().all(|p| down.contains(p)) {
                down.clear();
            }
            let height = bft.state().height() + 1;
            let tx = all
                .iter()
                .find(|a| bft.state().jail_of(a).is_some_and(|j| j.until_height <= height))
                .filter(|_| unjail)
                .map(|a| unjail_tx(&bft, a));
            let before: Vec<Address> = bft.state().validators().iter().map(|v| v.address).collect();
            let block = bft.next_block(&down, tx.into_iter().collect());
            // A set of one has no history of the others to go by (a solo chain handing
            // over): the guard leaves that choice to whoever made it.
            if (height - 1).is_multiple_of(EPOCH) && height > 1 && before.len() > 1 {
                boundaries += 1;
                let set: Vec<Address> =
                    bft.state().validators().iter().map(|v| v.address).collect();
                let silent = set.iter().filter(|a| !produced.contains(a)).count();
                prop_assert!(
                    silent <= tolerated(set.len()),
                    "height {}: set {:?} after {:?}, producers {:?}",
                    height, set, before, produced
                );
                produced.clear();
            }
            produced.insert(block.header.proposer);
        }
        prop_assert!(boundaries >= 1);
    }
}
