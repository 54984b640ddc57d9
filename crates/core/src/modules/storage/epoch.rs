//! Block and epoch boundaries of the storage module: recording each proving window's entropy
//! when it opens, settling its deals when it closes, and at the end of an epoch turning each
//! provider's proven bytes into shares (the ledger's one close pays them).

use crate::module::{BlockContext, DeviceWork, EpochWork, address_suffix};
use crate::services::devices::DevicesView;
use crate::state::{State, StateRead};

use super::records::{EpochProof, StorageView, entropy_key, epoch_proof_prefix};
use super::settle::close_window;

/// The window a height falls in: (period, deadline).
fn window_of(height: u64, length: u64, window_blocks: u64) -> (u64, u64) {
    let h = height - 1;
    (h / length, (h % length) / window_blocks)
}

/// Before a block's transactions: a block that opens a proving window records its entropy, the
/// hash of the block before it, which nobody knew before that block was produced.
pub(crate) fn begin_block(state: &mut State, ctx: BlockContext) {
    let Some(p) = state.params().modules.storage.clone() else {
        return;
    };
    if !(ctx.height - 1).is_multiple_of(p.window_blocks) {
        return;
    }
    let length = state.params().epoch_length_blocks;
    let (period, deadline) = window_of(ctx.height, length, p.window_blocks);
    let entropy = state.last_block_hash();
    state.put(entropy_key(period, deadline), &entropy);
}

/// After a block's transactions: a block that closes a proving window settles its deals, and
/// the window's entropy is no longer needed.
pub(crate) fn end_block(state: &mut State, ctx: BlockContext) {
    let Some(p) = state.params().modules.storage.clone() else {
        return;
    };
    if !ctx.height.is_multiple_of(p.window_blocks) {
        return;
    }
    let length = state.params().epoch_length_blocks;
    let (period, deadline) = window_of(ctx.height, length, p.window_blocks);
    close_window(state, &p, period, deadline, ctx);
    if state.window_entropy(period, deadline).is_some() {
        state.put_raw(entropy_key(period, deadline), None);
    }
}

/// Each provider's shares for `epoch`: the credits verified clients (those with a governed
/// verified-data allowance) paid for the periods it proved, that is proven bytes x time weighted
/// by the price paid. Raw bytes would let a self-dealer buy shares at the price floor with data
/// it generates (0.002 tokens bought 77% of the pool); credits of any client still let it buy
/// them through a second key while the bootstrap pool is worth more than the paid demand
/// (measured in `docs/STORAGE.md`, "Self-dealing"). Deals of other clients earn only their demand
/// share, which is never more than the tokens burned for them. Providers retired or denied
/// before the close earn nothing; their records stay as the explanation.
pub(crate) fn epoch_work(state: &mut State, epoch: u64) -> EpochWork {
    let mut devices = Vec::new();
    let mut totals = EpochProof::default();
    let mut providers = 0u64;
    for (key, value) in state.scan_prefix(&epoch_proof_prefix(epoch), usize::MAX) {
        let device = address_suffix(&key);
        let work: EpochProof =
            crate::codec::Decode::from_bytes(&value).expect("the ledger wrote it");
        totals.deals_proven += work.deals_proven;
        totals.bytes_proven = totals.bytes_proven.saturating_add(work.bytes_proven);
        totals.faults_declared += work.faults_declared;
        totals.faults_detected += work.faults_detected;
        providers += 1;
        if work.credits_verified == 0 || state.is_denied(&device) {
            continue;
        }
        let Some(entry) = state.device_entry(&device) else {
            continue;
        };
        devices.push(DeviceWork {
            device,
            owner: entry.owner,
            shares: work.credits_verified,
        });
    }
    let counters = vec![
        ("providers".to_string(), providers),
        ("deals_proven".to_string(), u64::from(totals.deals_proven)),
        ("bytes_proven".to_string(), totals.bytes_proven),
        (
            "faults_declared".to_string(),
            u64::from(totals.faults_declared),
        ),
        (
            "faults_detected".to_string(),
            u64::from(totals.faults_detected),
        ),
    ];
    EpochWork { devices, counters }
}
