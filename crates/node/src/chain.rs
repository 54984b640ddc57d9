//! The chain as one writer sees it: the ledger (finalized state and pending blocks), the store,
//! and this node's block-signing key. Drivers call it: the solo driver produces (proposes and
//! finalizes at once); a BFT driver proposes, verifies and finalizes when its engine says.

use depin_core::{
    Address, Applied, Block, BlockError, Finalized, Genesis, Hash, Keypair, Ledger, Signatures,
    State, Transaction,
};
use depin_store::{Store, StoreError};
use std::time::{Duration, Instant};

/// Builds, verifies and durably commits blocks. Only one exists per store.
pub struct Producer {
    ledger: Ledger,
    store: std::sync::Arc<Store>,
    key: Keypair,
}

/// A block that is committed, with what it did.
pub struct Committed {
    pub block: Block,
    pub applied: Applied,
    /// The signers of the block's transactions with their nonces after it.
    pub nonces: Vec<(Address, u64)>,
    /// Where this node's time on the block went.
    pub timing: BlockTiming,
}

/// Where a node's time on one block went (what benchmarks break a block's time into).
#[derive(Clone, Copy, Debug, Default)]
pub struct BlockTiming {
    /// Executing the transactions and computing the state root (zero for a block finalized
    /// from the pending set, executed when it was verified).
    pub execute: Duration,
    /// Writing the block and its state changes to the store, durably.
    pub commit: Duration,
}

impl Producer {
    /// Opens the chain at its last committed block (writing genesis into an empty store).
    pub fn open(
        store: std::sync::Arc<Store>,
        genesis: &Genesis,
        key: Keypair,
    ) -> Result<Producer, StoreError> {
        let state = store.load_or_init(genesis)?;
        Ok(Producer {
            ledger: Ledger::new(state),
            store,
            key,
        })
    }

    /// The state as of the last finalized (committed) block.
    pub fn state(&self) -> &State {
        self.ledger.state()
    }

    /// Proposes a block of `txs` on `parent` (the finalized block or a pending one), signed by
    /// this node's key, and keeps it pending. The transactions come from this node's mempool,
    /// which verified their signatures.
    pub fn propose(
        &mut self,
        parent: Hash,
        txs: Vec<Transaction>,
        time_ms: u64,
        consensus: Vec<u8>,
    ) -> Result<Block, BlockError> {
        self.ledger.propose(
            parent,
            txs,
            time_ms,
            &self.key,
            consensus,
            Signatures::AlreadyVerified,
        )
    }

    /// Whether `hash` is a pending block.
    pub fn is_pending(&self, hash: &Hash) -> bool {
        self.ledger.is_pending(hash)
    }

    /// The validator set as of the finalized block or a pending one (`None` for neither).
    pub fn validators_at(&self, hash: &Hash) -> Option<Vec<depin_core::state::Validator>> {
        self.ledger.validators_at(hash)
    }

    /// This node's key (a BFT validator signs its equivocation reports with it).
    pub fn key(&self) -> &Keypair {
        &self.key
    }

    /// The address this node proposes blocks as.
    pub fn address(&self) -> Address {
        self.key.address()
    }

    /// Checks a block another validator proposed and keeps it pending.
    pub fn verify(&mut self, block: &Block) -> Result<Hash, BlockError> {
        self.ledger.verify(block, Signatures::Verify)
    }

    /// [`Producer::verify`], without checking again the signatures of the transactions this
    /// node already verified (`known[i]` for the block's transaction `i`: its mempool admitted
    /// that transaction; a hash covers the signature, so the same hash is the same verified
    /// bytes). The others are verified in parallel batches first; if one fails, the block is
    /// verified in full, as a replay would, so the receipts are the same either way.
    pub fn verify_known(&mut self, block: &Block, known: &[bool]) -> Result<Hash, BlockError> {
        let unknown: Vec<Transaction> = block
            .txs
            .iter()
            .zip(known.iter().chain(std::iter::repeat(&false)))
            .filter(|(_, known)| !**known)
            .map(|(tx, _)| tx.clone())
            .collect();
        let genesis_hash = self.state().meta().genesis_hash;
        let signatures = if unknown.is_empty()
            || depin_core::tx::verify_signatures(&genesis_hash, &unknown)
                .into_iter()
                .all(|ok| ok)
        {
            Signatures::AlreadyVerified
        } else {
            Signatures::Verify
        };
        self.ledger.verify(block, signatures)
    }

    /// Forgets a pending block.
    pub fn drop_pending(&mut self, hash: &Hash) -> bool {
        self.ledger.drop_pending(hash)
    }

    /// Finalizes pending block `hash` and commits it durably. If the commit fails the
    /// in-memory state is ahead of the disk: the caller must stop.
    pub fn finalize(&mut self, hash: &Hash) -> Result<Committed, FinalizeError> {
        let done = self.ledger.finalize(hash)?;
        Ok(self.commit(done, Duration::ZERO)?)
    }

    /// Builds the next block from `txs` (whose signatures the mempool verified), then commits it.
    /// If the commit fails the in-memory state is ahead of the disk: the caller must stop.
    pub fn produce(
        &mut self,
        txs: Vec<Transaction>,
        time_ms: u64,
    ) -> Result<Committed, StoreError> {
        let started = Instant::now();
        let done = self
            .ledger
            .produce(txs, time_ms, &self.key, Signatures::AlreadyVerified);
        self.commit(done, started.elapsed())
    }

    fn commit(&mut self, done: Finalized, execute: Duration) -> Result<Committed, StoreError> {
        let Finalized { block, applied } = done;
        let started = Instant::now();
        self.store.commit_block(&block, &applied)?;
        let commit = started.elapsed();
        let mut nonces: Vec<(Address, u64)> = block
            .txs
            .iter()
            .map(|tx| {
                let nonce = self.state().account(&tx.signer).map_or(0, |a| a.nonce);
                (tx.signer, nonce)
            })
            .collect();
        nonces.sort_unstable();
        nonces.dedup();
        Ok(Committed {
            block,
            applied,
            nonces,
            timing: BlockTiming { execute, commit },
        })
    }
}

/// Why a pending block could not be finalized.
#[derive(Debug, thiserror::Error)]
pub enum FinalizeError {
    #[error(transparent)]
    Block(#[from] BlockError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use depin_core::{Action, Amount};

    fn key() -> Keypair {
        Keypair::from_seed([9; 32])
    }

    fn genesis() -> Genesis {
        let funded = Keypair::from_seed([1; 32]).address();
        let mut g = Genesis::solo("chain-test", key().address(), &[(funded, "10")]);
        g.consensus.block_interval_ms = 100;
        g.consensus.epoch_length_blocks = 10;
        g.consensus.max_block_txs = 10;
        g
    }

    fn open(dir: &tempfile::TempDir) -> (Producer, std::sync::Arc<Store>) {
        let store = std::sync::Arc::new(Store::open(&dir.path().join("chain.redb")).unwrap());
        (
            Producer::open(store.clone(), &genesis(), key()).unwrap(),
            store,
        )
    }

    fn transfer() -> Transaction {
        let to = Keypair::from_seed([2; 32]).address();
        let action = Action::Transfer {
            to,
            amount: Amount(3),
        };
        let key = Keypair::from_seed([1; 32]);
        Transaction::sign(&genesis().network(), &key, 0, 1_000, action)
    }

    #[test]
    fn pending_blocks_touch_neither_state_nor_store_until_finalized() {
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (mut a, _) = open(&dir_a);
        let (mut b, store_b) = open(&dir_b);
        let genesis_hash = a.state().last_block_hash();
        let block = a
            .propose(genesis_hash, vec![transfer()], 50, vec![])
            .unwrap();
        let before = (
            b.state().entries(),
            store_b.height().unwrap(),
            store_b.app_hash().unwrap(),
        );

        // Verified and dropped: nothing changed.
        let hash = b.verify(&block).unwrap();
        assert!(b.drop_pending(&hash));
        let after = (
            b.state().entries(),
            store_b.height().unwrap(),
            store_b.app_hash().unwrap(),
        );
        assert_eq!(after, before);

        // Verified and finalized: committed, with the proposer's app hash.
        b.verify(&block).unwrap();
        assert_eq!(store_b.height().unwrap(), 0, "pending is not committed");
        let committed = b.finalize(&hash).unwrap();
        assert_eq!(store_b.height().unwrap(), 1);
        assert_eq!(store_b.app_hash().unwrap(), block.header.app_hash);
        assert_eq!(
            committed.nonces,
            vec![(Keypair::from_seed([1; 32]).address(), 1)]
        );
        assert!(matches!(
            b.finalize(&hash),
            Err(FinalizeError::Block(BlockError::NotPending(_)))
        ));
    }
}
