//! Downtime read from the chain itself: a BFT block's consensus record names the view it was
//! proposed in and its parent's view, so the views between them are views the chain skipped,
//! and their leaders (a fixed rotation over the validator set) did not get a block in. Each
//! validator's skipped turns are counted in a row; past `downtime_jail_blocks` it is jailed
//! (never slashed) and sits out from the next epoch boundary until it unjails.
//!
//! Every validator computes the same count from the block alone: the record is part of the
//! signed header, the driver refuses a block whose record is not the engine's round (so a
//! finalized record is certified by the validator set), and the rotation is commonware
//! simplex's round-robin elector (=2026.10.0, unshuffled, one view per leader):
//! `participants[(epoch + view) % n]` over the participants sorted by key. `depin-bft` tests
//! that this matches the engine's elector.

use crate::crypto::{Address, Hash};
use crate::module::{Module, module_key};
use crate::state::{State, StateRead};

use super::Governance;
use super::records::GovernanceView;
use super::stake::note_downtime;

/// Length of a BFT block's consensus record.
pub const RECORD_BYTES: usize = 56;

/// Table of the missed-turn counters under governance's prefix (kept apart from the tables
/// in `records.rs`, which count up from 0).
const MISSED: u8 = 64;
/// Table of each validator's leader turns in the reward epoch so far (cleared at its close).
const TURNS: u8 = 65;
/// The validators that got a block into the epoch closed last (one entry, rewritten at each
/// close): the liveness guard at the next boundary reads it.
const PRODUCED: u8 = 66;

/// A validator's leader turns in one reward epoch: blocks it proposed, and views it led that
/// the chain skipped. Validator rewards follow `produced` over every turn of the epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Turns {
    pub produced: u64,
    pub skipped: u64,
}
crate::codec::struct_codec!(Turns {
    produced: u64,
    skipped: u64,
});

fn turns_key(validator: &Address) -> Vec<u8> {
    module_key(Governance::ID, TURNS, &[&validator.0])
}

/// `validator`'s turns in the reward epoch so far.
pub fn turns_of<S: StateRead>(state: &S, validator: &Address) -> Turns {
    state.get(&turns_key(validator)).unwrap_or_default()
}

fn add_turns(state: &mut State, validator: &Address, produced: u64, skipped: u64) {
    let mut t = turns_of(&*state, validator);
    t.produced = t.produced.saturating_add(produced);
    t.skipped = t.skipped.saturating_add(skipped);
    state.with_writer(Governance::ID, |s| s.put(turns_key(validator), &t));
}

fn produced_key() -> Vec<u8> {
    module_key(Governance::ID, PRODUCED, &[])
}

/// The validators that got at least one block into the epoch closed last, in address order
/// (`None` before the first close of a network with governance).
pub fn last_producers<S: StateRead>(state: &S) -> Option<Vec<Address>> {
    state.get(&produced_key())
}

/// Every validator's turns in the reward epoch that closes now, in address order; the counters
/// start again from zero, and those that produced a block are kept as [`last_producers`].
pub fn take_turns(state: &mut State) -> Vec<(Address, Turns)> {
    let prefix = module_key(Governance::ID, TURNS, &[]);
    let rows: Vec<(Address, Turns)> = state
        .scan_prefix(&prefix, usize::MAX)
        .iter()
        .map(|(k, v)| {
            (
                crate::module::address_suffix(k),
                <Turns as crate::codec::Decode>::from_bytes(v).expect("written by the ledger"),
            )
        })
        .collect();
    let producers: Vec<Address> = rows
        .iter()
        .filter(|(_, t)| t.produced > 0)
        .map(|(a, _)| *a)
        .collect();
    let governed = state.params().modules.governance.is_some();
    state.with_writer(Governance::ID, |s| {
        for (a, _) in &rows {
            s.put_raw(turns_key(a), None);
        }
        if governed {
            s.put(produced_key(), &producers);
        }
    });
    rows
}

/// What a BFT block records in its header's `consensus` field (56 bytes, big-endian): the
/// consensus epoch, the view it was proposed in, its parent's view and the hash of the
/// validator set that runs the epoch. A solo block's record is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    pub epoch: u64,
    pub view: u64,
    pub parent_view: u64,
    pub set: Hash,
}

impl Record {
    /// The record's bytes, as a header carries them.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(RECORD_BYTES);
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(&self.view.to_be_bytes());
        out.extend_from_slice(&self.parent_view.to_be_bytes());
        out.extend_from_slice(&self.set.0);
        out
    }
}

/// Reads a consensus record (`None` for anything else, such as a solo block's empty record).
pub fn parse_record(bytes: &[u8]) -> Option<Record> {
    if bytes.len() != RECORD_BYTES {
        return None;
    }
    let word = |i: usize| u64::from_be_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    Some(Record {
        epoch: word(0),
        view: word(1),
        parent_view: word(2),
        set: Hash(bytes[24..].try_into().expect("32 bytes")),
    })
}

/// The consensus participants of a validator set: the addresses that are ed25519 keys, sorted
/// by their bytes (the engine's order), each once. An address that is not a key could never
/// sign a vote and is left out, by every validator alike.
pub fn participants<'a>(validators: impl Iterator<Item = &'a Address>) -> Vec<Address> {
    let mut keys: Vec<Address> = validators
        .filter(|a| ed25519_zebra::VerificationKey::try_from(a.0).is_ok())
        .copied()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The hash a consensus record names its validator set by: the participants' keys in order.
pub fn set_hash(participants: &[Address]) -> Hash {
    let keys: Vec<&[u8]> = participants.iter().map(|k| k.0.as_slice()).collect();
    Hash::tagged("depin/bft/validator-set/v1", &keys)
}

/// The index (in the participants' order) of the leader of `view` in `epoch` among `n`
/// participants: commonware's unshuffled round-robin, `(epoch + view) mod n`.
pub fn leader_index(epoch: u64, view: u64, n: usize) -> usize {
    let n = u64::try_from(n.max(1)).expect("a set size fits in u64");
    usize::try_from(epoch.wrapping_add(view) % n).expect("below the set size")
}

/// How many of the views strictly between `parent_view` and `view` each of `n` participants
/// led (by participant index): the turns the chain skipped. Computed in closed form, so a long
/// outage costs no more than a short one. Empty (all zeros) when the views are in the wrong
/// order or so high that `epoch + view` would wrap (the elector's sum wraps there; no chain
/// gets near 2^64 views).
pub fn skipped_turns(epoch: u64, parent_view: u64, view: u64, n: usize) -> Vec<u64> {
    let mut out = vec![0u64; n];
    if n == 0 || view <= parent_view.saturating_add(1) || epoch.checked_add(view).is_none() {
        return out;
    }
    let first = parent_view + 1;
    let total = view - first;
    let n64 = n as u64;
    let (full, rest) = (total / n64, total % n64);
    let start = leader_index(epoch, first, n) as u64;
    for (i, count) in out.iter_mut().enumerate() {
        // Position of participant i in the rotation that starts at `start`.
        let offset = (i as u64 + n64 - start) % n64;
        *count = full + u64::from(offset < rest);
    }
    out
}

fn missed_key(validator: &Address) -> Vec<u8> {
    module_key(Governance::ID, MISSED, &[&validator.0])
}

/// The turns in a row `validator` led that the chain skipped (0 once it gets a block in).
pub fn missed_in_a_row<S: StateRead>(state: &S, validator: &Address) -> u64 {
    state.get(&missed_key(validator)).unwrap_or(0)
}

fn put_missed(state: &mut State, validator: &Address, missed: u64) {
    state.with_writer(Governance::ID, |s| {
        if missed == 0 {
            s.put_raw(missed_key(validator), None);
        } else {
            s.put(missed_key(validator), &missed);
        }
    });
}

/// Counts the downtime a block shows, before its transactions run (so on its parent's
/// validator set, the set its epoch runs with): every participant that led a view the chain
/// skipped since the parent gets those turns added to its count in a row and is jailed once
/// the count reaches `downtime_jail_blocks`; the proposer's count is cleared. The reward
/// epoch's [`Turns`] get the proposer's produced turn and everyone's skipped ones. Does nothing
/// on a network without governance or for a record naming another set than the one in state;
/// a block without a consensus record (the solo driver's) is only a produced turn of its
/// proposer. Returns who was jailed.
pub fn note_block(
    state: &mut State,
    proposer: &Address,
    consensus: &[u8],
    height: u64,
) -> Vec<Address> {
    let mut jailed = Vec::new();
    if state.params().modules.governance.is_none() {
        return jailed;
    }
    let Some(record) = parse_record(consensus) else {
        // A solo block: its one validator's turn, which it produced (a solo chain that is down
        // makes no blocks at all, so there is no skipped turn to see).
        add_turns(state, proposer, 1, 0);
        return jailed;
    };
    let set = participants(state.validators().iter().map(|v| &v.address));
    if set.is_empty() || set_hash(&set) != record.set {
        return jailed;
    }
    let turns = skipped_turns(record.epoch, record.parent_view, record.view, set.len());
    add_turns(state, proposer, 1, 0);
    for (validator, skipped) in set.iter().zip(turns) {
        if skipped > 0 {
            add_turns(state, validator, 0, skipped);
        }
        // The proposer just got a block in: it is live, whatever it missed before.
        if skipped == 0 || validator == proposer {
            continue;
        }
        if state.jail_of(validator).is_some() {
            // Already sitting out from the next boundary: nothing more to count.
            put_missed(state, validator, 0);
            continue;
        }
        let missed = missed_in_a_row(&*state, validator).saturating_add(skipped);
        if note_downtime(state, validator, missed, height) {
            put_missed(state, validator, 0);
            jailed.push(*validator);
        } else {
            put_missed(state, validator, missed);
        }
    }
    if missed_in_a_row(&*state, proposer) != 0 {
        put_missed(state, proposer, 0);
    }
    jailed
}
