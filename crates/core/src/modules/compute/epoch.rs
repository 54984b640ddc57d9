//! Block and epoch boundaries of the compute module: keeping each block's hash as entropy (the
//! spot-check pick and the capacity challenge's seed), and at the end of an epoch the shares of
//! the providers that proved their capacity.
//!
//! Shares pay proven available capacity, not paid work: paid work is already paid from the
//! demand pool (worth at most the tokens burned for it), and a bootstrap share that followed
//! paid work could be bought by a requester paying its own providers (see `docs/COMPUTE.md`).

use crate::module::{BlockContext, DeviceWork, EpochWork, Module};
use crate::services::devices::DevicesView;
use crate::state::State;

use super::Compute;
use super::records::{ComputeView, activity_key, challenge_answers, entropy_key};

/// Records the hash of the previous block as its entropy and drops entropy too old to matter.
pub fn begin_block(state: &mut State, ctx: BlockContext) {
    let Some(p) = state.params().modules.compute.clone() else {
        return;
    };
    let previous = ctx.height - 1;
    let hash = state.last_block_hash();
    state.put(entropy_key(previous), &hash);
    if let Some(old) = previous.checked_sub(p.entropy_keep_blocks())
        && state.entropy(old).is_some()
    {
        state.put_raw(entropy_key(old), None);
    }
}

/// The providers that answered `epoch`'s capacity challenge, each with its proven benchmark as
/// shares; the epoch's answers and activity are taken out of the state.
pub fn epoch_work(state: &mut State, epoch: u64, _ctx: BlockContext) -> EpochWork {
    let answers = challenge_answers(state, epoch);
    let activity = state.activity(epoch);
    let mut devices = Vec::with_capacity(answers.len());
    for (device, benchmark) in &answers {
        state.put_raw(super::records::challenge_key(epoch, device), None);
        match state.device_entry(device) {
            Some(entry) if entry.module == Compute::ID && !state.is_denied(device) => {
                devices.push(DeviceWork {
                    device: *device,
                    owner: entry.owner,
                    shares: u128::from(*benchmark),
                });
            }
            _ => {}
        }
    }
    state.put_raw(activity_key(epoch), None);
    let proven = devices.len() as u64;
    EpochWork {
        devices,
        counters: vec![
            ("providers_proven".into(), proven),
            ("jobs_posted".into(), activity.jobs_posted),
            ("results_paid".into(), activity.results_paid),
            ("results_slashed".into(), activity.results_slashed),
            ("claims_abandoned".into(), activity.claims_abandoned),
            (
                "credits_paid".into(),
                u64::try_from(activity.credits_paid).unwrap_or(u64::MAX),
            ),
        ],
    }
}
