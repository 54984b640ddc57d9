//! Street-level mapping (like Hivemapper): dashcams upload signed bundles of GPS-tagged
//! keyframes, the ledger checks each frame's fix, motion and novelty, and pays each epoch for
//! the freshness of the H3 cells mapped, region by region, plus the bounties users escrow on
//! cells they need mapped.
//!
//! - [`actions`]: what mapping transactions say (onboarding, frame bundles, bounties, map
//!   access paid per cell served);
//! - [`params`]: the genesis parameters (frame limits, freshness, bounties, regions);
//! - [`records`]: what the module keeps in the state and the [`records::MappingView`] over it;
//! - [`verify`]: every check, each with its [`MappingRejection`] or [`FrameFault`] reason;
//! - [`epoch`]: the close (bounty payouts and refunds, region pools into shares) and the
//!   bounded forgetting at the end of each block;
//! - [`geo`]: integer distances between frames; [`preset`]: a ready-made section.

pub mod actions;
pub mod epoch;
pub mod geo;
pub mod params;
pub mod preset;
pub mod records;
pub mod reject;
pub mod verify;

pub use params::{MappingGenesis, MappingParams};
pub use reject::{FrameFault, MappingRejection};

use crate::crypto::{Address, Signature};
use crate::genesis::GenesisInfo;
use crate::module::{BlockContext, EpochWork, FieldError, Module, TxContext};
use crate::rejection::Rejection;
use crate::state::State;

use actions::{MappingAction, bundle_message};

/// The street-level mapping proof module.
pub struct Mapping;

impl Module for Mapping {
    const NAME: &'static str = "mapping";
    const ID: u8 = 18;
    const PROOF: bool = true;
    type Genesis = MappingGenesis;
    type Params = MappingParams;
    type Action = MappingAction;
    type Rejection = MappingRejection;
    type Prepared = verify::PreparedBundle;

    fn params(g: &MappingGenesis, network: &GenesisInfo) -> Result<MappingParams, FieldError> {
        let p = g.to_params(network.decimals)?;
        if network.modules.contains(&"demand") && !p.onboard_fee.is_zero() {
            return Err((
                "mapping.onboard_fee",
                "with a [demand] section fees are paid in credits: set mapping.onboard_fee to \"0\" and use demand.onboard_fee_credits".into(),
            ));
        }
        Ok(p)
    }

    fn execute(
        state: &mut State,
        tx: TxContext<'_>,
        action: &MappingAction,
    ) -> Result<(), Rejection> {
        Self::execute_prepared(state, tx, action, None)
    }

    /// A bundle's frame cells, their neighbourhoods and those cells' records.
    fn prepare(state: &State, action: &MappingAction) -> Option<verify::PreparedBundle> {
        match action {
            MappingAction::SubmitBundle(b) => verify::prepare(state, b),
            _ => None,
        }
    }

    /// A bundle's frame cells and neighbourhoods (its [`verify::Layout`]).
    fn warm(action: &MappingAction) {
        if let MappingAction::SubmitBundle(b) = action {
            b.layout();
        }
    }

    fn execute_prepared(
        state: &mut State,
        tx: TxContext<'_>,
        action: &MappingAction,
        prepared: Option<verify::PreparedBundle>,
    ) -> Result<(), Rejection> {
        let (signer, ctx) = (tx.signer, tx.block);
        match action {
            MappingAction::OnboardDashcam(a) => verify::onboard(state, signer, a, ctx),
            MappingAction::SubmitBundle(b) => {
                verify::submit_bundle(state, signer, b, tx.co_signed, prepared, ctx)
            }
            MappingAction::OpenBounty(a) => verify::open_bounty(state, signer, a, ctx),
            MappingAction::PayMapAccess(a) => verify::pay_map_access(state, signer, a, ctx),
        }
    }

    fn network_co_signatures(
        network: &crate::tx::Network,
        action: &MappingAction,
        out: &mut Vec<(Address, Vec<u8>, Signature)>,
    ) {
        if let MappingAction::SubmitBundle(b) = action {
            let message = bundle_message(network, &b.device, b.seq, &b.frames);
            out.push((b.device, message, b.device_signature));
        }
    }

    fn co_signature_count(action: &MappingAction) -> u64 {
        u64::from(matches!(action, MappingAction::SubmitBundle(_)))
    }

    fn is_report(action: &MappingAction) -> bool {
        matches!(action, MappingAction::SubmitBundle(_))
    }

    fn end_block(state: &mut State, ctx: BlockContext) {
        epoch::end_block(state, ctx);
    }

    fn epoch_work(state: &mut State, epoch: u64, ctx: BlockContext) -> EpochWork {
        epoch::epoch_work(state, epoch, ctx)
    }

    fn device_retired(state: &mut State, device: &Address) {
        epoch::forget_device(state, device);
    }
}
