//! A chain driven the way the BFT driver drives it, for the downtime and election tests: views
//! rotate over the participants, a down leader's view is skipped, every block records (epoch,
//! view, parent view, set), and the consensus epoch moves on when the set in state changes.
//! Every block is also verified by a second ledger, which must reach the same app hash.

use std::collections::{BTreeMap, BTreeSet};

use depin_core::services::governance::liveness::{Record, leader_index, participants, set_hash};
use depin_core::{
    Action, Address, Block, Genesis, Keypair, Ledger, Signatures, State, StateRead, Transaction,
};

use super::MAX_FEE;

pub struct Bft {
    pub genesis: Genesis,
    pub ledger: Ledger,
    pub replica: Ledger,
    pub keys: BTreeMap<Address, Keypair>,
    pub epoch: u64,
    pub view: u64,
    pub parent_view: u64,
    pub participants: Vec<Address>,
    pub time_ms: u64,
    /// Skipped views by leader, counted view by view (the model the ledger's count must match).
    pub skipped: Vec<Address>,
}

impl Bft {
    /// A chain from `genesis`, whose validators (and any key that may become one) are `keys`.
    pub fn new(genesis: Genesis, keys: impl IntoIterator<Item = Keypair>) -> Bft {
        let state = State::genesis(&genesis).unwrap();
        let participants = participants(state.validators().iter().map(|v| &v.address));
        Bft {
            time_ms: genesis.genesis_time_ms,
            ledger: Ledger::new(state),
            replica: Ledger::new(State::genesis(&genesis).unwrap()),
            genesis,
            keys: keys.into_iter().map(|k| (k.address(), k)).collect(),
            epoch: 0,
            view: 0,
            parent_view: 0,
            participants,
            skipped: Vec::new(),
        }
    }

    pub fn state(&self) -> &State {
        self.ledger.state()
    }

    /// Runs views until a leader not in `down` proposes a block of `txs`; returns it.
    pub fn next_block(&mut self, down: &BTreeSet<Address>, txs: Vec<Transaction>) -> Block {
        self.next_block_with(|leader| down.contains(leader), txs)
    }

    /// Runs views until a leader for which `down` (asked once per view it leads) says no
    /// proposes a block of `txs`; returns it.
    pub fn next_block_with(
        &mut self,
        mut down: impl FnMut(&Address) -> bool,
        txs: Vec<Transaction>,
    ) -> Block {
        self.skipped.clear();
        loop {
            self.view += 1;
            let leader =
                self.participants[leader_index(self.epoch, self.view, self.participants.len())];
            if down(&leader) {
                self.skipped.push(leader);
                continue;
            }
            let record = Record {
                epoch: self.epoch,
                view: self.view,
                parent_view: self.parent_view,
                set: set_hash(&self.participants),
            };
            self.time_ms += 1_000;
            let block = self
                .ledger
                .propose(
                    self.ledger.finalized(),
                    txs,
                    self.time_ms,
                    &self.keys[&leader],
                    record.to_bytes(),
                    Signatures::Verify,
                )
                .unwrap();
            let done = self.ledger.finalize(&block.hash()).unwrap();
            self.replica.verify(&block, Signatures::Verify).unwrap();
            let again = self.replica.finalize(&block.hash()).unwrap();
            assert_eq!(done.applied.app_hash, again.applied.app_hash);
            self.parent_view = self.view;
            let now = participants(self.state().validators().iter().map(|v| &v.address));
            if now != self.participants {
                self.epoch += 1;
                self.view = 0;
                self.parent_view = 0;
                self.participants = now;
            }
            return block;
        }
    }

    /// A transaction of `action` signed by `who` (one of the keys) at its next nonce.
    pub fn tx(&self, who: &Address, action: Action) -> Transaction {
        let key = &self.keys[who];
        let nonce = self.state().account(who).map_or(0, |a| a.nonce);
        Transaction::sign(&self.genesis.network(), key, nonce, MAX_FEE, action)
    }
}
