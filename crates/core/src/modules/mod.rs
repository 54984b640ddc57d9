//! Proof modules: the kinds of physical work the ledger pays for, and the demand side that pays
//! for it. Each is a folder with its actions, state, verification rules (each with a reason
//! code) and epoch accounting.

pub mod coverage;
pub mod demand;

/// Where in the chain an action executes.
#[derive(Clone, Copy, Debug)]
pub struct BlockContext {
    /// Height of the block being applied.
    pub height: u64,
    /// The block's time, milliseconds since the Unix epoch.
    pub time_ms: u64,
}
