//! Compute (like Render and Akash): providers with idle GPUs and CPUs run requesters' jobs for
//! credits held in escrow, and are paid only for results that verify.
//!
//! - [`actions`]: what compute transactions say (providers, jobs, claims, commit and reveal,
//!   verdicts, settlement, the capacity challenge);
//! - [`params`]: the genesis parameters (bond, spot-check floor, timeouts, challenge);
//! - [`records`]: providers, jobs, tasks and their slots in the state, and [`ComputeView`];
//! - [`reject`]: every refusal, with its [`ComputeRejection`] reason;
//! - [`fate`]: what became of each slot and task, with its code and sentence;
//! - [`verify`]: every check, then the state change;
//! - [`settle`]: verification modes, timeouts and the money each verdict moves;
//!   escrow, stake and payments go through the demand service's holds
//!   ([`crate::services::demand::hold`]);
//! - [`epoch`]: block entropy, and the epoch's shares for proven capacity.
//!
//! The protocol, its design decisions and the attacks measured against it are in
//! `docs/COMPUTE.md`.

pub mod actions;
pub mod epoch;
pub mod fate;
pub mod params;
pub mod records;
pub mod reject;
pub mod settle;
pub mod verify;

pub use params::{ComputeGenesis, ComputeParams};
pub use records::ComputeView;
pub use reject::ComputeRejection;

use crate::crypto::Address;
use crate::genesis::GenesisInfo;
use crate::module::{BlockContext, EpochWork, FieldError, Module, TxContext};
use crate::rejection::Rejection;
use crate::state::State;

use actions::ComputeAction;
use records::provider_key;

/// The compute proof module.
pub struct Compute;

impl Module for Compute {
    const NAME: &'static str = "compute";
    const ID: u8 = 19;
    const PROOF: bool = true;
    type Genesis = ComputeGenesis;
    type Params = ComputeParams;
    type Action = ComputeAction;
    type Rejection = ComputeRejection;
    type Prepared = ();

    fn params(g: &ComputeGenesis, network: &GenesisInfo) -> Result<ComputeParams, FieldError> {
        if !verify::needs_demand(&network.modules) {
            return Err((
                "compute",
                "needs a [demand] section: jobs are priced, escrowed and staked in credits".into(),
            ));
        }
        g.check()?;
        if network.epoch_length_blocks <= g.challenge_window_blocks {
            return Err((
                "compute.challenge_window_blocks",
                "must be shorter than an epoch, so each epoch has its own challenge".into(),
            ));
        }
        Ok(g.clone())
    }

    fn execute(
        state: &mut State,
        tx: TxContext<'_>,
        action: &ComputeAction,
    ) -> Result<(), Rejection> {
        let (signer, ctx) = (tx.signer, tx.block);
        match action {
            ComputeAction::RegisterProvider(a) => verify::register(state, signer, a, ctx),
            ComputeAction::AddStake(a) => verify::add_stake(state, signer, a),
            ComputeAction::WithdrawStake(a) => verify::withdraw_stake(state, signer, a),
            ComputeAction::PostJob(a) => verify::post_job(state, signer, a, ctx),
            ComputeAction::ClaimTask(a) => verify::claim(state, signer, a, ctx),
            ComputeAction::CommitResult(a) => verify::commit(state, signer, a, ctx),
            ComputeAction::RevealResult(a) => verify::reveal(state, signer, a, ctx),
            ComputeAction::JudgeTasks(a) => verify::judge(state, signer, a, ctx),
            ComputeAction::RevealCanaries(a) => verify::reveal_canaries(state, signer, a, ctx),
            ComputeAction::SettleTask(a) => verify::settle(state, a, ctx),
            ComputeAction::CloseJob(a) => verify::close_job(state, a, ctx),
            ComputeAction::AnswerChallenge(a) => verify::answer_challenge(state, signer, a, ctx),
            ComputeAction::ClaimTasks(a) => verify::claim_many(state, signer, a, ctx),
            ComputeAction::CommitResults(a) => verify::commit_many(state, signer, a, ctx),
            ComputeAction::RevealResults(a) => verify::reveal_many(state, signer, a, ctx),
        }
    }

    /// A batch's items each pay for what they store ([`params::BATCH_ITEM_WEIGHT`]): they share
    /// one envelope and one signature check, not the execution.
    fn extra_weight(action: &ComputeAction) -> u64 {
        let items = match action {
            ComputeAction::ClaimTasks(a) => a.items.len(),
            ComputeAction::CommitResults(a) => a.items.len(),
            ComputeAction::RevealResults(a) => a.items.len(),
            _ => 0,
        };
        (items as u64).saturating_mul(params::BATCH_ITEM_WEIGHT)
    }

    /// A batch's bounds and order are refused at the mempool's door.
    fn check_stateless(action: &ComputeAction) -> Result<(), Rejection> {
        match action {
            ComputeAction::ClaimTasks(a) => verify::check_batch(&a.items),
            ComputeAction::CommitResults(a) => verify::check_batch(&a.items),
            ComputeAction::RevealResults(a) => verify::check_batch(&a.items),
            _ => Ok(()),
        }
    }

    fn is_report(action: &ComputeAction) -> bool {
        matches!(
            action,
            ComputeAction::ClaimTask(_)
                | ComputeAction::CommitResult(_)
                | ComputeAction::RevealResult(_)
                | ComputeAction::AnswerChallenge(_)
                | ComputeAction::ClaimTasks(_)
                | ComputeAction::CommitResults(_)
                | ComputeAction::RevealResults(_)
        )
    }

    fn begin_block(state: &mut State, ctx: BlockContext) {
        epoch::begin_block(state, ctx);
    }

    fn epoch_work(state: &mut State, epoch: u64, ctx: BlockContext) -> EpochWork {
        epoch::epoch_work(state, epoch, ctx)
    }

    fn device_retired(state: &mut State, device: &Address) {
        // The stake stays withdrawable by the last owner; bonded claims settle as usual.
        if let Some(mut p) = state.provider(device) {
            p.retired = true;
            state.put(provider_key(device), &p);
        }
    }
}
