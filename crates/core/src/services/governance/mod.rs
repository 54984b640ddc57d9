//! Staking and on-ledger governance, a shared service: tokens locked as voting weight and
//! validator backing, the validator set elected from stake, validator rewards for produced
//! turns, proposals that change any module's parameters (checked by that module),
//! the economics, the oracle set, the denylists, the treasury and the validator set, applied at
//! epoch boundaries; and slashing of the stake behind proven misbehaviour.
//!
//! A service rather than a proof module because proof modules call it: storage, compute and the
//! consensus driver slash through [`stake::slash_account`] and [`stake::slash_validator`], and
//! modules never import each other. See docs/GOVERNANCE.md.

pub mod actions;
pub mod change;
pub mod election;
pub mod evidence;
pub mod liveness;
pub mod p2p;
pub mod params;
pub mod proposal;
pub mod records;
pub mod reject;
pub mod rewards;
pub mod stake;

use crate::genesis::GenesisInfo;
use crate::module::{BlockContext, FieldError, Module, TxContext};
use crate::rejection::Rejection;
use crate::state::State;

pub use actions::{Choice, GovernanceAction, ProposalKind};
pub use change::{check_change, check_change_on, params_after};
pub use params::{GovernanceGenesis, GovernanceParams, SlashTo};
pub use records::{
    Candidacy, Election, GovernanceView, Proposal, SlashRecord, SlashRule, Stake, Status,
    stake_escrow,
};
pub use reject::GovernanceRejection;
pub use stake::{note_downtime, slash_account, slash_validator};

use actions::{MAX_SECTION_BYTES, MAX_TITLE_BYTES};
use reject::GovernanceRejection as R;

/// Governance as a module of the ledger (on networks whose genesis has `[governance]`).
pub struct Governance;

fn too_long(field: &str, len: usize, max: u32) -> Result<(), Rejection> {
    if len > max as usize {
        return Err(R::FieldTooLong {
            field: field.into(),
            max,
        }
        .into());
    }
    Ok(())
}

fn check_change_size(change: &ProposalKind) -> Result<(), Rejection> {
    match change {
        ProposalKind::ModuleParams { module, section } => {
            too_long("module", module.len(), 64)?;
            too_long("section", section.len(), MAX_SECTION_BYTES)
        }
        ProposalKind::Economics { section } => {
            too_long("section", section.len(), MAX_SECTION_BYTES)
        }
        _ => Ok(()),
    }
}

impl Module for Governance {
    const NAME: &'static str = "governance";
    const ID: u8 = 20;
    const PROOF: bool = false;
    type Genesis = GovernanceGenesis;
    type Params = GovernanceParams;
    type Action = GovernanceAction;
    type Rejection = GovernanceRejection;
    type Prepared = ();

    fn params(
        g: &GovernanceGenesis,
        network: &GenesisInfo,
    ) -> Result<GovernanceParams, FieldError> {
        params::check(g, network)
    }

    fn check_stateless(action: &GovernanceAction) -> Result<(), Rejection> {
        match action {
            GovernanceAction::Propose(a) => {
                too_long("title", a.title.len(), MAX_TITLE_BYTES)?;
                check_change_size(&a.change)
            }
            GovernanceAction::EmergencyEnact(a) => {
                too_long("title", a.title.len(), MAX_TITLE_BYTES)?;
                check_change_size(&a.change)
            }
            _ => Ok(()),
        }
    }

    fn extra_weight(action: &GovernanceAction) -> u64 {
        match action {
            // A vote scans the voter's devices; a proposal parses and checks a section.
            GovernanceAction::Vote(_) => 2_000,
            GovernanceAction::Propose(_) | GovernanceAction::EmergencyEnact(_) => 20_000,
            // Two vote signatures to check.
            GovernanceAction::ReportEquivocation(_) => 2 * crate::tx::SIGNATURE_WEIGHT,
            _ => 0,
        }
    }

    fn execute(
        state: &mut State,
        tx: TxContext<'_>,
        action: &GovernanceAction,
    ) -> Result<(), Rejection> {
        Self::check_stateless(action)?;
        let p = state
            .params()
            .modules
            .governance
            .as_deref()
            .cloned()
            .expect("the registry runs governance only where it is on");
        match action {
            GovernanceAction::LockStake(a) => stake::lock(state, tx.signer, a.amount, tx.block),
            GovernanceAction::DelegateStake(a) => stake::delegate(state, tx.signer, a.validator),
            GovernanceAction::UnbondStake(a) => {
                stake::unbond(state, tx.signer, a.amount, &p, tx.block)
            }
            GovernanceAction::WithdrawStake(_) => {
                stake::withdraw(state, tx.signer, tx.block).map(|_| ())
            }
            GovernanceAction::Propose(a) => {
                proposal::propose(state, tx.signer, &a.title, &a.change, false, tx.block)
                    .map(|_| ())
            }
            GovernanceAction::Vote(a) => {
                proposal::vote(state, tx.signer, a.proposal, a.choice, tx.block)
            }
            GovernanceAction::Unjail(_) => stake::unjail(state, tx.signer, tx.block),
            GovernanceAction::P2pEndpoint(a) => p2p::set_p2p_endpoint(state, tx.signer, &a.p2p),
            GovernanceAction::Candidate(a) => {
                stake::set_candidate(state, tx.signer, a.candidate, &p, tx.block)
            }
            GovernanceAction::SetCommission(a) => {
                rewards::set_commission(state, tx.signer, a.commission_bps, tx.block)
            }
            GovernanceAction::ReportEquivocation(a) => evidence::report(state, a, tx.block.height),
            GovernanceAction::EmergencyEnact(a) => {
                proposal::propose(state, tx.signer, &a.title, &a.change, true, tx.block).map(|_| ())
            }
        }
    }

    fn end_block(state: &mut State, ctx: BlockContext) {
        proposal::decide_due(state, ctx);
    }

    fn epoch_start(state: &mut State, epoch: u64, ctx: BlockContext) {
        proposal::apply_due(state, epoch, ctx);
    }
}
