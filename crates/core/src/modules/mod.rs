//! Proof modules: the kinds of physical work the ledger pays for. Each is a folder with its
//! actions, state, verification rules (each with a reason code) and epoch scoring.

pub mod coverage;
