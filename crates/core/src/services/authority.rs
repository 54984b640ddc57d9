//! The one shortcut past governance: the network's emergency key (`[governance] emergency_key`,
//! for devnets) may make a governed change (the denylists, a bond forfeit, the oracle set)
//! directly; everyone else proposes it and the stakers vote. Checked the same way everywhere.

use crate::crypto::Address;
use crate::rejection::Rejection;
use crate::state::StateRead;

/// The network's emergency key, if its genesis names one (only under `[governance]`).
pub fn emergency_key(state: &impl StateRead) -> Option<Address> {
    state
        .params()
        .modules
        .governance
        .as_deref()
        .and_then(|p| p.emergency_key)
}

/// Refuses `signer` unless it is the network's emergency key (none named: nobody may make the
/// change directly; it takes a proposal).
pub fn check_emergency_key(state: &impl StateRead, signer: &Address) -> Result<(), Rejection> {
    if emergency_key(state) == Some(*signer) {
        Ok(())
    } else {
        Err(Rejection::NotEmergencyKey)
    }
}
