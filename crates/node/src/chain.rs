//! The chain as one writer sees it: the state, the store, and the proposer's key.

use depin_core::{
    Address, Applied, Block, Genesis, Keypair, Signatures, State, Transaction, build_block,
};
use depin_store::{Store, StoreError};

/// Builds, applies and durably commits blocks. Only one exists per store.
pub struct Producer {
    state: State,
    store: std::sync::Arc<Store>,
    key: Keypair,
}

/// A block that is committed, with what it did.
pub struct Committed {
    pub block: Block,
    pub applied: Applied,
    /// The signers of the block's transactions with their nonces after it.
    pub nonces: Vec<(Address, u64)>,
}

impl Producer {
    /// Opens the chain at its last committed block (writing genesis into an empty store).
    pub fn open(
        store: std::sync::Arc<Store>,
        genesis: &Genesis,
        key: Keypair,
    ) -> Result<Producer, StoreError> {
        let state = store.load_or_init(genesis)?;
        Ok(Producer { state, store, key })
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// Builds the next block from `txs` (whose signatures the mempool verified), then commits it.
    /// If the commit fails the in-memory state is ahead of the disk: the caller must stop.
    pub fn produce(
        &mut self,
        txs: Vec<Transaction>,
        time_ms: u64,
    ) -> Result<Committed, StoreError> {
        let (block, applied) = build_block(
            &mut self.state,
            txs,
            time_ms,
            &self.key,
            Signatures::AlreadyVerified,
        );
        self.store.commit_block(&block, &applied)?;
        let mut nonces: Vec<(Address, u64)> = block
            .txs
            .iter()
            .map(|tx| {
                let nonce = self.state.account(&tx.signer).map_or(0, |a| a.nonce);
                (tx.signer, nonce)
            })
            .collect();
        nonces.sort_unstable();
        nonces.dedup();
        Ok(Committed {
            block,
            applied,
            nonces,
        })
    }
}
