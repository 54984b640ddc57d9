//! Wireless coverage (like Helium): hotspots prove radio coverage with beacons their neighbours
//! witness, and earn by epoch in proportion to scored, density-scaled proof.
//!
//! - [`actions`]: what coverage transactions say (onboarding, location, beacons, witnesses,
//!   reveals) and the commit-reveal hashes;
//! - [`params`]: the genesis parameters (fees, limits, region plans, scoring);
//! - [`device`]: the hotspot and proof records in the state (the shared registry holds owner
//!   and location);
//! - [`verify`]: every check, each with its [`CoverageRejection`] reason;
//! - [`epoch`]: window entropy, and the end of an epoch: scoring into shares per hotspot;
//! - [`radio`] and [`rewards`]: the physics and the scoring the checks and payouts rest on.

pub mod actions;
pub mod density;
pub mod device;
pub mod epoch;
pub mod params;
pub mod preset;
pub mod radio;
pub mod reject;
pub mod rewards;
pub mod verify;

pub use params::{CoverageGenesis, CoverageParams};
pub use reject::CoverageRejection;

use crate::crypto::Address;
use crate::genesis::GenesisInfo;
use crate::module::{BlockContext, EpochWork, FieldError, Module, TxContext};
use crate::rejection::Rejection;
use crate::state::State;

use actions::CoverageAction;

/// The wireless coverage proof module.
pub struct Coverage;

impl Module for Coverage {
    const NAME: &'static str = "coverage";
    const ID: u8 = 16;
    const PROOF: bool = true;
    type Genesis = CoverageGenesis;
    type Params = CoverageParams;
    type Action = CoverageAction;
    type Rejection = CoverageRejection;
    type Prepared = ();

    fn params(g: &CoverageGenesis, network: &GenesisInfo) -> Result<CoverageParams, FieldError> {
        let p = g.to_params(network.decimals, network.epoch_length_blocks)?;
        if network.modules.contains(&"demand")
            && !(p.onboard_fee.is_zero() && p.location_fee.is_zero())
        {
            return Err((
                "coverage.onboard_fee",
                "with a [demand] section fees are paid in credits: set coverage.onboard_fee and coverage.location_fee to \"0\" and use demand.onboard_fee_credits and demand.location_fee_credits".into(),
            ));
        }
        Ok(p)
    }

    fn execute(
        state: &mut State,
        tx: TxContext<'_>,
        action: &CoverageAction,
    ) -> Result<(), Rejection> {
        let (signer, ctx) = (tx.signer, tx.block);
        match action {
            CoverageAction::OnboardDevice(a) => verify::onboard(state, signer, a, ctx),
            CoverageAction::AssertLocation(a) => verify::assert_location(state, signer, a, ctx),
            CoverageAction::Beacon(a) => verify::beacon(state, signer, a, ctx),
            CoverageAction::Witness(a) => verify::witness(state, signer, a, ctx),
            CoverageAction::Reveal(a) => verify::reveal(state, signer, a, ctx),
        }
    }

    fn is_report(action: &CoverageAction) -> bool {
        matches!(
            action,
            CoverageAction::Beacon(_) | CoverageAction::Witness(_) | CoverageAction::Reveal(_)
        )
    }

    fn begin_block(state: &mut State, ctx: BlockContext) {
        epoch::begin_block(state, ctx.height);
    }

    fn epoch_work(state: &mut State, epoch: u64, _ctx: BlockContext) -> EpochWork {
        epoch::epoch_work(state, epoch)
    }

    fn device_paid(state: &mut State, device: &Address, epoch: u64) {
        epoch::mark_active(state, device, epoch);
    }

    fn device_retired(state: &mut State, device: &Address) {
        epoch::forget(state, device);
    }
}
