//! The validator set, kept in the state so that every driver reads the same one: one validator
//! for a solo network (the genesis `consensus.validator`), several for a BFT network; governance
//! will change it at epoch boundaries.

use serde::{Deserialize, Serialize};

use crate::codec::struct_codec;
use crate::crypto::Address;
use crate::module::module_key;
use crate::state::{StateRead, table};

/// A key that may propose and sign blocks, with its voting power.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validator {
    pub address: Address,
    /// Consensus weight (stake, once staking exists; 1 each until then).
    pub power: u64,
}

const VALIDATORS: u8 = 2;

/// The key of the validator set.
pub fn validators_key() -> Vec<u8> {
    module_key(table::LEDGER, VALIDATORS, &[])
}

/// The validator set, in the executing state or a store snapshot.
pub trait ValidatorsView {
    fn validators(&self) -> Vec<Validator>;
}

impl<R: StateRead> ValidatorsView for R {
    fn validators(&self) -> Vec<Validator> {
        self.get(&validators_key()).unwrap_or_default()
    }
}

struct_codec!(Validator {
    address: Address,
    power: u64,
});
