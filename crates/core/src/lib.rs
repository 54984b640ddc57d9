//! The depin protocol: a deterministic state machine `(state, block) -> state'` with its types,
//! canonical encoding, accounts and economics; no I/O, no clock, no randomness.
//!
//! Everything else (node drivers, store, API, simulator) drives this crate or reads it. The
//! determinism rules it follows are in `ARCHITECTURE.md`: time comes from block headers, maps are
//! ordered, and no floating point enters a state transition.

pub mod amount;
pub mod bench_support;
pub mod block;
pub mod codec;
pub mod crypto;
pub mod economics;
mod epoch;
pub mod exec;
pub mod genesis;
pub mod key_bytes;
pub mod ledger;
pub mod merkle;
pub mod module;
pub mod modules;
pub mod rejection;
pub mod services;
pub mod state;
pub mod tx;

pub use amount::Amount;
pub use block::{Block, Header, Receipt, ReceiptView};
pub use codec::{Decode, DecodeError, Encode};
pub use crypto::{Address, Hash, Keypair, Signature};
pub use exec::{
    Applied, BlockError, Signatures, apply_block, build_block, check_against_account,
    check_against_state, check_block, stage_block,
};
pub use genesis::{Genesis, Params};
pub use ledger::{Finalized, Ledger};
pub use rejection::{Explained, Rejection};
pub use state::{Account, State, StateRead};
pub use tx::{Action, Transaction};
