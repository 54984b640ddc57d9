//! The interface every block driver calls: propose a block on a parent, verify a proposed block
//! into a pending state (several may be pending, on several branches), and finalize one (the
//! only step that changes the finalized state). The solo driver proposes and finalizes at once;
//! a BFT driver proposes or verifies when its engine asks, and finalizes when the engine has a
//! certificate.
//!
//! A pending block keeps only its write set: executing on a pending parent replays the parents'
//! writes onto the finalized state, executes, and rolls everything back, so the finalized state
//! and the store never see a block that is not finalized.

use std::collections::BTreeMap;

use crate::block::Block;
use crate::crypto::{Hash, Keypair};
use crate::exec::{Applied, BlockError, Signatures, check_block, stage_block};
use crate::state::State;
use crate::tx::Transaction;

/// The chain as a driver sees it: the finalized state and the blocks pending on it.
pub struct Ledger {
    state: State,
    pending: BTreeMap<Hash, Pending>,
}

/// A block executed on its parent, not finalized.
struct Pending {
    block: Block,
    applied: Applied,
}

/// A block that was finalized, with what it did (its `applied.writes` are what the store
/// commits).
pub struct Finalized {
    pub block: Block,
    pub applied: Applied,
}

impl Ledger {
    /// The ledger at a finalized state (genesis, or the store's last committed block).
    pub fn new(state: State) -> Ledger {
        Ledger {
            state,
            pending: BTreeMap::new(),
        }
    }

    /// The state as of the last finalized block.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Hash of the last finalized block (the genesis hash before block 1).
    pub fn finalized(&self) -> Hash {
        self.state.last_block_hash()
    }

    /// Whether `hash` is a pending block.
    pub fn is_pending(&self, hash: &Hash) -> bool {
        self.pending.contains_key(hash)
    }

    /// How many blocks are pending.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// The addresses of the validator set as of `hash` (the finalized block or a pending one):
    /// the last write to the set on the pending chain down to `hash`, or the finalized state's.
    /// `None` when `hash` is neither. A BFT driver ends its engine's epoch at a block after
    /// which this differs from the set the engine runs with.
    pub fn validators_at(&self, hash: &Hash) -> Option<Vec<crate::state::Validator>> {
        use crate::codec::Decode;
        let key = crate::state::validators_key();
        let finalized = self.finalized();
        let mut at = *hash;
        while at != finalized {
            let p = self.pending.get(&at)?;
            if let Some((_, value)) = p.applied.writes.iter().rev().find(|(k, _)| *k == key) {
                return Some(value.as_deref().map_or_else(Vec::new, |v| {
                    Vec::from_bytes(v).expect("the ledger writes a decodable validator set")
                }));
            }
            at = p.block.header.parent;
        }
        Some(crate::StateRead::validators(&self.state))
    }

    /// The receipts and app hash of a pending block.
    pub fn pending_applied(&self, hash: &Hash) -> Option<&Applied> {
        self.pending.get(hash).map(|p| &p.applied)
    }

    /// Builds a block of `txs` on `parent` (the finalized block or a pending one) as `proposer`
    /// and keeps it pending. `consensus` is what the engine records in the header.
    pub fn propose(
        &mut self,
        parent: Hash,
        txs: Vec<Transaction>,
        time_ms: u64,
        proposer: &Keypair,
        consensus: Vec<u8>,
        signatures: Signatures,
    ) -> Result<Block, BlockError> {
        let (block, applied) = self.on_parent(parent, |state| {
            Ok(stage_block(
                state, txs, time_ms, proposer, consensus, signatures,
            ))
        })?;
        self.pending.insert(
            block.hash(),
            Pending {
                block: block.clone(),
                applied,
            },
        );
        Ok(block)
    }

    /// Checks and executes a block someone proposed, on its parent, and keeps it pending.
    /// Verifying a block that is already pending changes nothing.
    pub fn verify(&mut self, block: &Block, signatures: Signatures) -> Result<Hash, BlockError> {
        let hash = block.hash();
        if self.pending.contains_key(&hash) {
            return Ok(hash);
        }
        let ((), applied) = self.on_parent(block.header.parent, |state| {
            check_block(state, block, signatures).map(|applied| ((), applied))
        })?;
        self.pending.insert(
            hash,
            Pending {
                block: block.clone(),
                applied,
            },
        );
        Ok(hash)
    }

    /// Forgets a pending block (the engine chose another); returns whether it was pending.
    /// Blocks pending on it can no longer be finalized and are forgotten too.
    pub fn drop_pending(&mut self, hash: &Hash) -> bool {
        let found = self.pending.remove(hash).is_some();
        if found {
            self.prune();
        }
        found
    }

    /// Makes pending block `hash`, whose parent must be the finalized block, final: its writes
    /// join the finalized state, and pending blocks on other branches are forgotten.
    pub fn finalize(&mut self, hash: &Hash) -> Result<Finalized, BlockError> {
        let Some(pending) = self.pending.get(hash) else {
            return Err(BlockError::NotPending(*hash));
        };
        let parent = pending.block.header.parent;
        if parent != self.finalized() {
            return Err(BlockError::Parent {
                expected: self.finalized(),
                got: parent,
            });
        }
        let Pending { block, mut applied } = self.pending.remove(hash).expect("found above");
        self.state.apply_writes(&applied.writes);
        let (app_hash, writes) = self.state.commit();
        assert_eq!(
            app_hash, applied.app_hash,
            "a pending block's writes reproduce its app hash"
        );
        applied.writes = writes;
        self.state.set_last_block_hash(block.hash());
        self.prune();
        Ok(Finalized { block, applied })
    }

    /// Proposes on the finalized block and finalizes at once: the solo driver's step. The same
    /// as [`Ledger::propose`] then [`Ledger::finalize`], without keeping the block pending (no
    /// rollback and replay of its writes on the hot path).
    pub fn produce(
        &mut self,
        txs: Vec<Transaction>,
        time_ms: u64,
        proposer: &Keypair,
        signatures: Signatures,
    ) -> Finalized {
        let (block, applied) =
            crate::exec::build_block(&mut self.state, txs, time_ms, proposer, signatures);
        self.prune();
        Finalized { block, applied }
    }

    /// Runs `f` on the state as of `parent`: the finalized state with the writes of the pending
    /// blocks from it up to `parent` replayed, then everything rolled back. Returns `f`'s result
    /// with the writes it made on top of `parent`.
    fn on_parent<R>(
        &mut self,
        parent: Hash,
        f: impl FnOnce(&mut State) -> Result<(R, Applied), BlockError>,
    ) -> Result<(R, Applied), BlockError> {
        let finalized = self.finalized();
        let mut chain = Vec::new();
        let mut at = parent;
        while at != finalized {
            let p = self
                .pending
                .get(&at)
                .ok_or(BlockError::UnknownParent(parent))?;
            chain.push(at);
            at = p.block.header.parent;
        }
        for hash in chain.iter().rev() {
            let p = &self.pending[hash];
            self.state.apply_writes(&p.applied.writes);
            self.state.set_last_block_hash(*hash);
        }
        self.state.stage();
        let base = self.state.staged_count();
        let out = f(&mut self.state);
        self.state.rollback();
        self.state.set_last_block_hash(finalized);
        let (r, mut applied) = out?;
        applied.writes.drain(..base);
        Ok((r, applied))
    }

    /// Forgets pending blocks that no longer descend from the finalized block.
    fn prune(&mut self) {
        let finalized = self.finalized();
        let keep: Vec<Hash> = self
            .pending
            .keys()
            .copied()
            .filter(|h| self.descends(h, finalized))
            .collect();
        self.pending.retain(|h, _| keep.contains(h));
    }

    fn descends(&self, hash: &Hash, ancestor: Hash) -> bool {
        let mut at = *hash;
        while let Some(p) = self.pending.get(&at) {
            if p.block.header.parent == ancestor {
                return true;
            }
            at = p.block.header.parent;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amount::Amount;
    use crate::genesis::Genesis;
    use crate::tx::Action;

    fn validator() -> Keypair {
        Keypair::from_seed([9; 32])
    }

    fn alice() -> Keypair {
        Keypair::from_seed([1; 32])
    }

    fn genesis() -> Genesis {
        let mut g = crate::genesis::test_genesis();
        g.chain_id = "ledger-test".into();
        g.consensus.epoch_length_blocks = 5;
        g
    }

    fn ledger() -> Ledger {
        Ledger::new(State::genesis(&genesis()).unwrap())
    }

    fn pay(nonce: u64, to: u8, amount: u128) -> Transaction {
        let action = Action::Transfer {
            to: Keypair::from_seed([to; 32]).address(),
            amount: Amount(amount),
        };
        Transaction::sign(&genesis().network(), &alice(), nonce, 1_000_000, action)
    }

    /// The app hash and every entry of the finalized state.
    type Fingerprint = (Hash, Vec<(Vec<u8>, Vec<u8>)>);

    fn fingerprint(l: &mut Ledger) -> Fingerprint {
        (l.state.app_hash(), l.state.entries())
    }

    #[test]
    fn a_verified_then_dropped_block_leaves_the_state_as_it_was() {
        let mut proposer = ledger();
        let block = proposer
            .propose(
                proposer.finalized(),
                vec![pay(0, 2, 5)],
                10,
                &validator(),
                vec![7],
                Signatures::Verify,
            )
            .unwrap();
        let mut other = ledger();
        let before = fingerprint(&mut other);
        let hash = other.verify(&block, Signatures::Verify).unwrap();
        assert!(other.is_pending(&hash));
        assert_eq!(fingerprint(&mut other), before, "verifying changes nothing");
        assert!(other.drop_pending(&hash));
        assert_eq!(fingerprint(&mut other), before);
        assert_eq!(other.pending_count(), 0);
        // and the block can still be verified and finalized afterwards
        other.verify(&block, Signatures::Verify).unwrap();
        let done = other.finalize(&hash).unwrap();
        assert_eq!(done.applied.app_hash, block.header.app_hash);
        assert_eq!(other.state().height(), 1);
    }

    #[test]
    fn pending_chains_finalize_to_the_state_of_applying_the_blocks_in_order() {
        let mut proposer = ledger();
        let g = proposer.finalized();
        // Three blocks pending on each other, crossing an epoch boundary (5 blocks).
        let mut parent = g;
        let mut blocks = Vec::new();
        for (i, time) in [10, 20, 30, 40, 50, 60].into_iter().enumerate() {
            let b = proposer
                .propose(
                    parent,
                    vec![pay(i as u64, 2 + i as u8, 1 + i as u128)],
                    time,
                    &validator(),
                    Vec::new(),
                    Signatures::Verify,
                )
                .unwrap();
            parent = b.hash();
            blocks.push(b);
        }
        assert_eq!(proposer.pending_count(), 6);
        assert_eq!(proposer.state().height(), 0, "nothing is final yet");

        // Another validator verifies them all, then finalizes them one by one.
        let mut other = ledger();
        for b in &blocks {
            other.verify(b, Signatures::Verify).unwrap();
        }
        // A reference chain applies them directly.
        let mut reference = State::genesis(&genesis()).unwrap();
        for b in &blocks {
            let done = other.finalize(&b.hash()).unwrap();
            let applied = crate::exec::apply_block(&mut reference, b, Signatures::Verify).unwrap();
            assert_eq!(done.applied.app_hash, applied.app_hash);
            assert_eq!(done.applied.writes, applied.writes);
            assert_eq!(done.applied.receipts, applied.receipts);
        }
        assert_eq!(other.state().entries(), reference.entries());
        assert_eq!(other.finalized(), reference.last_block_hash());
    }

    #[test]
    fn finalizing_one_branch_forgets_the_other() {
        let mut a = ledger();
        let g = a.finalized();
        let left = a
            .propose(
                g,
                vec![pay(0, 2, 5)],
                10,
                &validator(),
                vec![1],
                Signatures::Verify,
            )
            .unwrap();
        let right = a
            .propose(
                g,
                vec![pay(0, 3, 6)],
                10,
                &validator(),
                vec![2],
                Signatures::Verify,
            )
            .unwrap();
        let on_right = a
            .propose(
                right.hash(),
                vec![pay(1, 4, 7)],
                20,
                &validator(),
                vec![],
                Signatures::Verify,
            )
            .unwrap();
        assert_eq!(a.pending_count(), 3);
        assert!(matches!(
            a.finalize(&on_right.hash()),
            Err(BlockError::Parent { .. })
        ));
        a.finalize(&left.hash()).unwrap();
        assert_eq!(
            a.pending_count(),
            0,
            "the right branch cannot be finalized any more"
        );
        let receiver = Keypair::from_seed([2; 32]).address();
        assert_eq!(a.state().account(&receiver).unwrap().balance, Amount(5));
    }

    #[test]
    fn producing_equals_proposing_then_finalizing() {
        let (mut produced, mut staged) = (ledger(), ledger());
        for (i, time) in [10, 20, 30, 40, 50, 60, 70].into_iter().enumerate() {
            let txs = vec![pay(i as u64, 2 + i as u8, 1 + i as u128)];
            let a = produced.produce(txs.clone(), time, &validator(), Signatures::Verify);
            let parent = staged.finalized();
            let block = staged
                .propose(
                    parent,
                    txs,
                    time,
                    &validator(),
                    Vec::new(),
                    Signatures::Verify,
                )
                .unwrap();
            let b = staged.finalize(&block.hash()).unwrap();
            assert_eq!(a.block, b.block);
            assert_eq!(a.applied.writes, b.applied.writes);
        }
        assert_eq!(produced.state().entries(), staged.state().entries());
    }

    #[test]
    fn a_block_on_an_unknown_parent_is_refused() {
        let mut a = ledger();
        let err = a
            .propose(
                Hash([3; 32]),
                vec![],
                10,
                &validator(),
                vec![],
                Signatures::Verify,
            )
            .unwrap_err();
        assert!(matches!(err, BlockError::UnknownParent(_)));
        assert_eq!(a.pending_count(), 0);
    }

    #[test]
    fn a_proposer_outside_the_validator_set_is_refused() {
        let mut outsider = ledger();
        let block = outsider
            .propose(
                outsider.finalized(),
                vec![],
                10,
                &Keypair::from_seed([5; 32]),
                vec![],
                Signatures::Verify,
            )
            .unwrap();
        let mut other = ledger();
        assert!(matches!(
            other.verify(&block, Signatures::Verify),
            Err(BlockError::Proposer { .. })
        ));
    }
}
