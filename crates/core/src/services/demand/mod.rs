//! The demand side (burn-and-mint, like Helium's data credits), a service every module shares:
//! oracles price the token in USD, users burn tokens for USD-pegged credits, payers spend
//! credits on the service devices delivered (with receipts both sign), fees are paid in
//! credits, and each epoch every proof module's demand pool follows what its devices were paid.
//!
//! - [`params`]: the genesis parameters (oracle, peg, prices, fees, pool shares and caps);
//! - [`actions`]: prices, credit purchases and delegations, co-signed usage receipts;
//! - [`records`]: what the module keeps in the state, and the oracle's quote;
//! - [`verify`]: every check, each with its [`DemandRejection`] reason, and fees in credits;
//! - [`epoch`]: what each device was paid for, and what it is worth, at the close of an epoch.

pub mod actions;
pub mod epoch;
pub mod hold;
pub mod params;
pub mod records;
pub mod reject;
pub mod verify;

pub use params::{DemandGenesis, MarketParams};
pub use records::DemandView;
pub use reject::DemandRejection;

use crate::crypto::{Address, Signature};
use crate::genesis::GenesisInfo;
use crate::module::{FieldError, Module, TxContext, actions};
use crate::rejection::Rejection;
use crate::state::State;

use actions::{BuyCredits, DelegateCredits, SetOracle, SubmitPrice, UsageReceipt};
use records::{OracleRecord, oracle_key};

/// The demand service as a module of the ledger (on networks whose genesis has `[demand]`).
pub struct Demand;

actions! {
    /// The demand side's actions.
    DemandAction, "demand action";
    0 => SubmitPrice(SubmitPrice),
    1 => SetOracle(SetOracle),
    2 => BuyCredits(BuyCredits),
    3 => DelegateCredits(DelegateCredits),
    4 => Usage(UsageReceipt),
}

impl Module for Demand {
    const NAME: &'static str = "demand";
    const ID: u8 = 9;
    const PROOF: bool = false;
    type Genesis = DemandGenesis;
    type Params = MarketParams;
    type Action = DemandAction;
    type Rejection = DemandRejection;
    type Prepared = ();

    fn params(g: &DemandGenesis, network: &GenesisInfo) -> Result<MarketParams, FieldError> {
        if !network.has_economics {
            return Err((
                "demand",
                "needs an [economics] section: the demand pools are shares of the emission".into(),
            ));
        }
        g.to_params()
    }

    fn init(state: &mut State, g: &DemandGenesis) {
        for oracle in &g.oracles {
            state.put(oracle_key(oracle), &OracleRecord::default());
            // Oracles sign their own submissions, so they need an account for the nonce.
            if state.account(oracle).is_none() {
                state.put_account(*oracle, Default::default());
            }
        }
    }

    fn execute(
        state: &mut State,
        tx: TxContext<'_>,
        action: &DemandAction,
    ) -> Result<(), Rejection> {
        let (signer, ctx) = (tx.signer, tx.block);
        match action {
            DemandAction::SubmitPrice(a) => verify::submit_price(state, signer, a, ctx),
            DemandAction::SetOracle(a) => verify::set_oracle(state, signer, a),
            DemandAction::BuyCredits(a) => verify::buy_credits(state, signer, a, ctx),
            DemandAction::DelegateCredits(a) => verify::delegate_credits(state, signer, a),
            DemandAction::Usage(a) => verify::usage(state, a, tx.co_signed, ctx),
        }
    }

    fn co_signatures(
        chain_id: &str,
        action: &DemandAction,
        out: &mut Vec<(Address, Vec<u8>, Signature)>,
    ) {
        if let DemandAction::Usage(r) = action {
            let message = r.message(chain_id);
            out.push((r.payer, message.clone(), r.payer_signature));
            out.push((r.device, message, r.device_signature));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::amount::Amount;
    use crate::crypto::Keypair;
    use crate::tx::{Action, Transaction, verify_co_signatures};

    use super::actions::UsageReceipt;

    fn network(chain_id: &str) -> crate::tx::Network {
        crate::tx::Network {
            chain_id: chain_id.into(),
            genesis_hash: crate::crypto::Hash([0; 32]),
        }
    }

    /// A usage receipt's payer and device signatures are checked in the block's batch with
    /// every other transaction's, and each verdict is exact.
    #[test]
    fn co_signatures_are_checked_together_and_each_verdict_is_exact() {
        let (payer, device) = (Keypair::from_seed([3; 32]), Keypair::from_seed([4; 32]));
        let good = UsageReceipt::signed("depin-test", &payer, &device, 1, 2, 5, 0);
        let mut bad = good.clone();
        bad.packets = 6;
        let transfer = Action::Transfer {
            to: device.address(),
            amount: Amount(1),
        };
        let txs: Vec<Transaction> = [
            Action::from(good.clone()),
            Action::from(bad),
            transfer,
            Action::from(good),
        ]
        .into_iter()
        .map(|a| Transaction::sign(&network("depin-test"), &payer, 0, 100, a))
        .collect();
        assert_eq!(
            verify_co_signatures(&network("depin-test"), &txs),
            vec![true, false, true, true]
        );
        assert_eq!(
            verify_co_signatures(&network("depin-other"), &txs[..1]),
            vec![false],
            "receipts are bound to their chain"
        );
    }
}
