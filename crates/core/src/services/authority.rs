//! Who may change what governance has not taken over yet: one governor key per setting, named
//! in the genesis, checked the same way everywhere.

use crate::crypto::Address;
use crate::rejection::Rejection;

/// Refuses `signer` unless it is the `governor` a genesis named (none: nobody may change it).
pub fn check_governor(governor: Option<Address>, signer: &Address) -> Result<(), Rejection> {
    if governor == Some(*signer) {
        Ok(())
    } else {
        Err(Rejection::NotGovernor)
    }
}
