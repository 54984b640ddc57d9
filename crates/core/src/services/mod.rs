//! Shared services every module may call: the device registry with its denylist
//! ([`devices`]), the demand side with its credits, oracle and fees in credits ([`demand`]), and
//! the emergency-key check ([`authority`]), staking and governance ([`governance`]). Proof modules never import each other; they import these.

pub mod authority;
pub mod demand;
pub mod devices;
pub mod fees;
pub mod governance;
