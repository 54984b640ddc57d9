//! The chain as one writer sees it: the ledger (finalized state and pending blocks), the store,
//! and this node's block-signing key. Drivers call it: the solo driver produces (proposes and
//! finalizes at once); a BFT driver proposes, verifies and finalizes when its engine says.

use depin_core::{
    Address, Amount, Applied, Block, BlockError, Finalized, Genesis, Hash, Keypair, Ledger, Params,
    Signatures, State, Transaction,
};
use depin_store::{Store, StoreError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Builds, verifies and durably commits blocks. Only one exists per store.
pub struct Producer {
    ledger: Ledger,
    store: Arc<Store>,
    key: Keypair,
    /// The block whose durable commit runs on its own thread while the next block executes
    /// (see [`Producer::produce_overlapped`]).
    in_flight: Option<InFlight>,
    /// The parameters after the last executed block, shared by the blocks that did not
    /// change them.
    params: Arc<Params>,
}

/// A block that is committed, with what it did.
pub struct Committed {
    pub block: Block,
    pub applied: Applied,
    /// The signers of the block's transactions with their nonces after it.
    pub nonces: Vec<(Address, u64)>,
    /// Where this node's time on the block went.
    pub timing: BlockTiming,
    /// What the state said right after the block (the producer's state may already be a
    /// block further: see [`Producer::produce_overlapped`]).
    pub after: AfterBlock,
}

/// The chain right after a block: what the node's tip and metrics show once it is committed.
#[derive(Clone, Debug)]
pub struct AfterBlock {
    pub params: Arc<Params>,
    pub total_supply: Amount,
    pub accounts: u64,
    pub base_fee: u64,
}

/// Where a node's time on one block went (what benchmarks break a block's time into).
#[derive(Clone, Copy, Debug, Default)]
pub struct BlockTiming {
    /// Executing the transactions and computing the state root (zero for a block finalized
    /// from the pending set, executed when it was verified).
    pub execute: Duration,
    /// Writing the block and its state changes to the store, durably (on its own thread,
    /// beside the next block's execution, when the block was produced overlapped).
    pub commit: Duration,
}

impl BlockTiming {
    /// This node's whole time on the block (the block-time metric).
    pub fn spent(&self) -> Duration {
        self.execute + self.commit
    }
}

impl Producer {
    /// Opens the chain at its last committed block (writing genesis into an empty store).
    pub fn open(
        store: Arc<Store>,
        genesis: &Genesis,
        key: Keypair,
    ) -> Result<Producer, StoreError> {
        let state = store.load_or_init(genesis)?;
        let params = Arc::new(state.params().clone());
        Ok(Producer {
            ledger: Ledger::new(state),
            store,
            key,
            in_flight: None,
            params,
        })
    }

    /// The state as of the last finalized block: the last committed one, or the block whose
    /// commit is under way (see [`Producer::produce_overlapped`]).
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

    /// Finalizes pending block `hash` and commits it durably (after the block whose commit is
    /// under way, if any: the caller has not been told of that one, so it is returned too). If
    /// a commit fails the in-memory state is ahead of the disk: the caller must stop.
    pub fn finalize(&mut self, hash: &Hash) -> Result<Committed, FinalizeError> {
        if let Some(earlier) = self.flush()? {
            // Only the solo driver overlaps commits, and it never finalizes pending blocks.
            return Err(FinalizeError::Unannounced(earlier.block.header.height));
        }
        let done = self.ledger.finalize(hash)?;
        let prepared = self.prepare_commit(done, Duration::ZERO);
        Ok(prepared.write(&self.store)?)
    }

    /// Builds the next block from `txs` (whose signatures the mempool verified), then commits it.
    /// If the commit fails the in-memory state is ahead of the disk: the caller must stop.
    pub fn produce(
        &mut self,
        txs: Vec<Transaction>,
        time_ms: u64,
    ) -> Result<Committed, StoreError> {
        if let Some(earlier) = self.flush()? {
            return Err(StoreError::Corrupt(format!(
                "block {} was committed behind its driver's back: call flush before produce",
                earlier.block.header.height
            )));
        }
        let commit = self.execute(txs, time_ms);
        commit.write(&self.store)
    }

    /// Builds the next block from `txs` and starts its durable commit on its own thread, so
    /// the next block can execute beside it; returns the block produced before this one, now
    /// durably committed (`None` if there was none in flight). The block produced here is
    /// returned by the next call, or by [`Producer::flush`]. Commits still happen one at a time
    /// and in order. If a commit fails the in-memory state is ahead of the disk: the caller
    /// must stop.
    pub fn produce_overlapped(
        &mut self,
        txs: Vec<Transaction>,
        time_ms: u64,
    ) -> Result<Option<Committed>, StoreError> {
        let commit = self.execute(txs, time_ms);
        // The previous block's commit ran while this one executed.
        let earlier = self.flush()?;
        let txs = (commit.done.block.txs.iter())
            .zip(&commit.done.applied.tx_hashes)
            .map(|(tx, hash)| (*hash, tx.signer, tx.nonce))
            .collect();
        let store = self.store.clone();
        let handle = std::thread::Builder::new()
            .name("block-commit".into())
            .spawn(move || commit.write(&store))
            .map_err(|e| StoreError::Corrupt(format!("starting the commit thread: {e}")))?;
        self.in_flight = Some(InFlight { handle, txs });
        Ok(earlier)
    }

    /// Builds and executes the next block from `txs` (whose signatures the mempool verified).
    fn execute(&mut self, txs: Vec<Transaction>, time_ms: u64) -> Commit {
        let started = Instant::now();
        let done = self
            .ledger
            .produce(txs, time_ms, &self.key, Signatures::AlreadyVerified);
        self.prepare_commit(done, started.elapsed())
    }

    /// The transactions (hash, signer, nonce) of the block whose commit is under way.
    pub fn in_flight_txs(&self) -> &[(Hash, Address, u64)] {
        self.in_flight.as_ref().map_or(&[], |f| &f.txs)
    }

    /// Whether the commit under way (if any) has finished, so [`Producer::flush`] returns at
    /// once.
    pub fn commit_finished(&self) -> bool {
        self.in_flight
            .as_ref()
            .is_some_and(|f| f.handle.is_finished())
    }

    /// Waits for the commit under way and returns its block (`None` if none is in flight).
    pub fn flush(&mut self) -> Result<Option<Committed>, StoreError> {
        match self.in_flight.take() {
            None => Ok(None),
            Some(InFlight { handle, .. }) => match handle.join() {
                Ok(result) => result.map(Some),
                Err(panic) => std::panic::resume_unwind(panic),
            },
        }
    }

    /// What a finalized block's commit needs, read from the state right after it.
    fn prepare_commit(&mut self, done: Finalized, execute: Duration) -> Commit {
        let state = self.ledger.state();
        let mut nonces: Vec<(Address, u64)> = done
            .block
            .txs
            .iter()
            .map(|tx| {
                let nonce = state.account(&tx.signer).map_or(0, |a| a.nonce);
                (tx.signer, nonce)
            })
            .collect();
        nonces.sort_unstable();
        nonces.dedup();
        if *self.params != *state.params() {
            self.params = Arc::new(state.params().clone());
        }
        let after = AfterBlock {
            params: self.params.clone(),
            total_supply: state.meta().total_supply,
            accounts: state.account_count() as u64,
            base_fee: state.meta().base_fee,
        };
        Commit {
            done,
            nonces,
            execute,
            after,
        }
    }
}

/// A block whose commit runs on its own thread, with its transactions (hash, signer, nonce).
struct InFlight {
    handle: JoinHandle<Result<Committed, StoreError>>,
    txs: Vec<(Hash, Address, u64)>,
}

/// A finalized block with what its [`Committed`] reports, ready to be written.
struct Commit {
    done: Finalized,
    nonces: Vec<(Address, u64)>,
    execute: Duration,
    after: AfterBlock,
}

impl Commit {
    /// Writes the block and its state changes to the store, durably.
    fn write(self, store: &Store) -> Result<Committed, StoreError> {
        let Finalized { block, applied } = self.done;
        let started = Instant::now();
        store.commit_block(&block, &applied)?;
        Ok(Committed {
            block,
            applied,
            nonces: self.nonces,
            timing: BlockTiming {
                execute: self.execute,
                commit: started.elapsed(),
            },
            after: self.after,
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
    #[error(
        "block {0} was produced overlapped and committed behind its driver's back: a driver \
         that finalizes pending blocks must not produce overlapped"
    )]
    Unannounced(u64),
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

    /// A block produced overlapped is durable before anyone hears of it, the next block
    /// executes while it commits, and the blocks commit in order with what a block produced
    /// one at a time would have.
    #[test]
    fn overlapped_blocks_commit_in_order_and_are_returned_once_durable() {
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (mut a, store_a) = open(&dir_a);
        let (mut b, _) = open(&dir_b);
        assert!(
            a.produce_overlapped(vec![transfer()], 100)
                .unwrap()
                .is_none()
        );
        assert_eq!(a.state().height(), 1, "executed at once");
        assert!(!a.in_flight_txs().is_empty());
        let first = a.produce_overlapped(vec![], 200).unwrap().expect("block 1");
        assert_eq!(first.block.header.height, 1);
        assert!(store_a.height().unwrap() >= 1, "returned once durable");
        assert_eq!(
            first.nonces,
            vec![(Keypair::from_seed([1; 32]).address(), 1)]
        );
        assert_eq!(first.after.total_supply, a.state().meta().total_supply);
        // Producing one at a time with a block in flight is a driver bug, said as such.
        assert!(a.produce(vec![], 300).is_err());
        assert_eq!(
            store_a.height().unwrap(),
            2,
            "the error still committed block 2"
        );
        assert!(a.flush().unwrap().is_none());
        // The same blocks one at a time: the same app hashes.
        let one = b.produce(vec![transfer()], 100).unwrap();
        let two = b.produce(vec![], 200).unwrap();
        assert_eq!(one.block.header.app_hash, first.block.header.app_hash);
        assert_eq!(two.block.header.app_hash, store_a.app_hash().unwrap());
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
