//! Storage (like Filecoin and Storj): providers rent out disk space, clients pay credits into
//! escrow for deals on shards, and providers are paid per period for shards they prove they
//! still hold, by opening randomly challenged chunks against the shard's BLAKE3 root.
//!
//! - [`actions`]: what storage transactions say (providers, collateral, deals, proofs,
//!   declarations, termination);
//! - [`params`]: the genesis parameters (windows, challenges, limits, collateral, price floor,
//!   fault fees);
//! - [`proof`]: BLAKE3 inclusion proofs and unbiased challenge sampling;
//! - [`records`]: providers, deals, outcomes and proven work in the state, and [`StorageView`];
//! - [`verify`]: every check, each with its [`StorageRejection`] reason;
//! - [`settle`]: each window's payments, fault fees, terminations and endings;
//! - [`epoch`]: window entropy, window closes, and shares per provider at the epoch's close.
//!
//! The design and its reasons are in `docs/STORAGE.md`.

pub mod actions;
pub mod epoch;
pub mod params;
pub mod proof;
pub mod records;
pub mod reject;
pub mod settle;
pub mod verify;

pub use params::{StorageGenesis, StorageParams};
pub use records::StorageView;
pub use reject::StorageRejection;

use crate::crypto::{Address, Signature};
use crate::genesis::GenesisInfo;
use crate::module::{BlockContext, EpochWork, FieldError, Module, TxContext};
use crate::rejection::Rejection;
use crate::state::State;

use actions::StorageAction;

/// The storage proof module.
pub struct Storage;

impl Module for Storage {
    const NAME: &'static str = "storage";
    const ID: u8 = 17;
    const PROOF: bool = true;
    type Genesis = StorageGenesis;
    type Params = StorageParams;
    type Action = StorageAction;
    type Rejection = StorageRejection;
    type Prepared = ();

    fn params(g: &StorageGenesis, network: &GenesisInfo) -> Result<StorageParams, FieldError> {
        if !network.modules.contains(&"demand") {
            return Err((
                "storage",
                "needs a [demand] section: deals are paid in credits, which only the demand service keeps".into(),
            ));
        }
        let p = g.to_params(network.decimals, network.epoch_length_blocks)?;
        if !p.onboard_fee.is_zero() {
            return Err((
                "storage.onboard_fee",
                "with a [demand] section fees are paid in credits: set storage.onboard_fee to \"0\" and use demand.onboard_fee_credits".into(),
            ));
        }
        Ok(p)
    }

    fn execute(
        state: &mut State,
        tx: TxContext<'_>,
        action: &StorageAction,
    ) -> Result<(), Rejection> {
        let (signer, ctx) = (tx.signer, tx.block);
        match action {
            StorageAction::RegisterProvider(a) => verify::register(state, signer, a, ctx),
            StorageAction::AddCollateral(a) => verify::add_collateral(state, signer, a),
            StorageAction::WithdrawCollateral(a) => verify::withdraw_collateral(state, signer, a),
            StorageAction::OpenDeal(a) => verify::open_deal(state, signer, a, tx.co_signed, ctx),
            StorageAction::SubmitStorageProof(a) => verify::submit_proof(state, signer, a, ctx),
            StorageAction::DeclareFaults(a) => verify::declare_faults(state, signer, a, ctx),
            StorageAction::DeclareRecovery(a) => verify::declare_recovery(state, signer, a, ctx),
            StorageAction::TerminateDeal(a) => verify::terminate(state, signer, a),
            StorageAction::SetEndpoint(a) => verify::set_endpoint(state, signer, a),
        }
    }

    fn co_signatures(
        chain_id: &str,
        action: &StorageAction,
        out: &mut Vec<(Address, Vec<u8>, Signature)>,
    ) {
        if let StorageAction::OpenDeal(a) = action {
            out.push((
                a.terms.provider,
                a.terms.message(chain_id),
                a.provider_signature,
            ));
        }
    }

    fn is_report(action: &StorageAction) -> bool {
        matches!(action, StorageAction::SubmitStorageProof(_))
    }

    fn begin_block(state: &mut State, ctx: BlockContext) {
        epoch::begin_block(state, ctx);
    }

    fn end_block(state: &mut State, ctx: BlockContext) {
        epoch::end_block(state, ctx);
    }

    fn epoch_work(state: &mut State, epoch: u64, _ctx: BlockContext) -> EpochWork {
        epoch::epoch_work(state, epoch)
    }

    fn device_retired(state: &mut State, device: &Address) {
        settle::retire_provider(state, device);
    }
}
