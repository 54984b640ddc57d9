//! Re-executing the stored chain from genesis: the proof that the committed state is exactly what
//! the committed blocks produce.

use depin_core::{Genesis, Hash, Signatures, State, apply_block};

use crate::{Store, StoreError};

/// What a replay found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayReport {
    /// Blocks re-executed.
    pub blocks: u64,
    /// Transactions re-executed.
    pub txs: u64,
    /// App hash after the last block, from re-execution.
    pub app_hash: Hash,
}

/// Applies every stored block to a fresh genesis state, verifying all signatures, and checks
/// each block's receipts and app hash against the stored ones; finally the result must equal the
/// committed state.
pub fn replay_from_genesis(store: &Store, genesis: &Genesis) -> Result<ReplayReport, StoreError> {
    let mut state =
        State::genesis(genesis).map_err(|e| StoreError::Corrupt(format!("genesis: {e}")))?;
    let top = store.height()?;
    let mut txs = 0u64;
    for height in 1..=top {
        let block = store
            .block(height)?
            .ok_or_else(|| StoreError::Corrupt(format!("block {height} is missing")))?;
        let applied = apply_block(&mut state, &block, Signatures::Verify)
            .map_err(|e| StoreError::Corrupt(format!("block {height} does not replay: {e}")))?;
        let stored = store.receipts(height)?;
        if stored.as_ref() != Some(&applied.receipts) {
            return Err(StoreError::Corrupt(format!(
                "receipts of block {height} differ from re-execution"
            )));
        }
        txs += block.txs.len() as u64;
    }
    let app_hash = state.app_hash();
    let committed = store.app_hash()?;
    if app_hash != committed {
        return Err(StoreError::Corrupt(format!(
            "replayed app hash {app_hash} differs from the committed {committed}"
        )));
    }
    Ok(ReplayReport {
        blocks: top,
        txs,
        app_hash,
    })
}
