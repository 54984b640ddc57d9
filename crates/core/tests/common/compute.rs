//! The compute test network shared by the compute module's tests and the slashing tests: the
//! requester's and providers' keys, short-timeout compute parameters, and a demand network
//! running `[compute]` with those keys funded.

use depin_core::Keypair;
use depin_core::genesis::{Allocation, Genesis};
use depin_core::modules::compute::ComputeGenesis;

use super::demand_genesis;

/// The key that posts jobs.
pub fn requester() -> Keypair {
    Keypair::from_seed([50; 32])
}

/// The account that owns provider `i`.
pub fn owner_of(i: u8) -> Keypair {
    Keypair::from_seed([60 + i; 32])
}

/// Provider `i`'s device key.
pub fn device(i: u8) -> Keypair {
    Keypair::from_seed([90 + i; 32])
}

/// The compute parameters of the tests: short timeouts, a cheap challenge.
pub fn test_params() -> ComputeGenesis {
    ComputeGenesis {
        bond_multiple: 10,
        min_spot_check_bps: 1_000,
        work_fee_bps: 500,
        stake_per_score_credits: 100,
        tier_min_benchmark: vec![1, 10, 100],
        claim_timeout_blocks: 4,
        reveal_timeout_blocks: 4,
        approval_timeout_blocks: 6,
        max_job_blocks: 200,
        abandon_penalty_bps: 1_000,
        challenge_window_blocks: 3,
        challenge_hashes_per_score: 4,
    }
}

/// The demand test network with `[compute]` ([`test_params`]), a small onboarding fee, and
/// 1,000 tokens for the requester and the owners of providers `0..providers`.
pub fn compute_genesis(providers: u8, edit: impl FnOnce(&mut Genesis)) -> Genesis {
    demand_genesis(1, |g| {
        g.modules.compute = Some(test_params());
        g.modules.demand.as_mut().unwrap().onboard_fee_credits = 10_000;
        for key in std::iter::once(requester()).chain((0..providers).map(owner_of)) {
            g.allocations.push(Allocation {
                address: key.address(),
                amount: "1000".into(),
            });
        }
        edit(g)
    })
}
