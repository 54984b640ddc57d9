//! Transactions waiting for a block: verified in batches at the door, ordered by fee under
//! pressure and by nonce per sender, bounded in count and bytes.
//!
//! Admission is in two halves so that the expensive part holds no lock: [`verify_batch`] checks
//! envelopes, the actions' stateless checks and signatures (ZIP-215 batch verification in
//! parallel chunks, whose verdicts are exactly those execution and replay reach one by one: see
//! `depin_core::crypto`), then [`Mempool::admit`] checks nonces and balances against the
//! committed accounts and inserts (the node checks the fee against a snapshot in between).
//!
//! A block is filled from the senders whose next transaction tips the most per weight (arrival
//! order among equals: with no tips, first come first served), within the block's count, weight
//! and byte limits, and only with transactions whose `max_fee` covers the block's base fee and
//! their tip. A full pool evicts the lowest-tipping sender's last transaction for one that tips
//! more per weight, and otherwise refuses with [`Rejection::MempoolFull`]; it never grows past
//! its limits. Ranking by tip, not by `max_fee`, matters: a transaction pays its tip but never
//! the part of `max_fee` above what it is charged, so an attacker could offer any `max_fee` for
//! free.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::sync::OnceLock;

use depin_core::services::fees::charge;
use depin_core::tx::verify_signatures;
use depin_core::{Account, Address, Hash, Rejection, Transaction, check_against_account};
use rayon::prelude::*;

/// Limits of one mempool.
#[derive(Clone, Debug)]
pub struct MempoolLimits {
    /// Most pending transactions.
    pub max_txs: usize,
    /// Most pending bytes (canonical encodings).
    pub max_bytes: usize,
    /// How far past its account's next nonce a transaction may be and still wait.
    pub max_nonce_ahead: u64,
    /// Blocks after which a transaction that cannot run (a nonce gap never filled) is dropped.
    pub max_wait_blocks: u64,
}

impl Default for MempoolLimits {
    fn default() -> Self {
        MempoolLimits {
            max_txs: 200_000,
            max_bytes: 64 << 20,
            max_nonce_ahead: 1024,
            max_wait_blocks: 600,
        }
    }
}

/// Signatures per parallel verification chunk (the ledger's).
pub use depin_core::tx::VERIFY_CHUNK;

/// Checks chain id, size, the action's stateless checks and the signature of each transaction
/// for the network with `genesis_hash`; signatures in parallel batches. Each transaction that
/// passes is then warmed ([`Transaction::warm`]): what its block's preparation needs from the
/// action alone (a bundle's cells) is computed here instead of in the block. All of it runs on
/// the [`admission_pool`].
pub fn verify_batch(
    chain_id: &str,
    genesis_hash: &Hash,
    txs: &[Transaction],
) -> Vec<Result<(), Rejection>> {
    admission_pool().install(|| {
        let mut verdicts: Vec<Result<(), Rejection>> =
            txs.iter().map(|tx| tx.check_admission(chain_id)).collect();
        let signature_ok = verify_signatures(genesis_hash, txs);
        for (verdict, ok) in verdicts.iter_mut().zip(signature_ok) {
            if verdict.is_ok() && !ok {
                *verdict = Err(Rejection::BadSignature);
            }
        }
        (txs.par_iter().zip(&verdicts))
            .filter(|(_, verdict)| verdict.is_ok())
            .for_each(|(tx, _)| tx.warm());
        verdicts
    })
}

/// How much lower than the block's threads the admission threads run (a Unix nice value).
pub const ADMISSION_NICENESS: i32 = 10;

/// The threads that check and warm admitted transactions: one per core, like the pool the
/// block uses, but apart from it and at lower priority ([`ADMISSION_NICENESS`], on Linux).
/// Admission and block production used to share one pool at one priority, so a burst of
/// uploads took cores from the block thread in the middle of its block, and the block's
/// parallel preparation queued behind admission work. Now the block's threads run first, and
/// admission fills the cores they leave idle, which is most of one core while a block executes
/// its transactions in order: the mapping bench ran about 1.2x faster with bundle cells warmed
/// here (BENCHMARKS.md, session 30). Under a load that keeps every core busy with blocks,
/// admission slows down and the mempool, not the block, waits.
pub fn admission_pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("admission-{i}"))
            .start_handler(|_| lower_this_thread(ADMISSION_NICENESS))
            .build()
            .expect("starting the admission threads")
    })
}

/// Lowers the calling thread's scheduling priority by `niceness`, from the nice value it
/// inherited (Linux sets it per thread; a failure leaves the thread where it was, which is
/// slower for blocks, not wrong).
fn lower_this_thread(niceness: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: `gettid` has no preconditions; `setpriority` on this thread's own id only changes
    // its nice value.
    unsafe {
        let tid = libc::gettid() as libc::id_t;
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        libc::setpriority(libc::PRIO_PROCESS, tid, (now + niceness).min(19));
    }
    #[cfg(not(target_os = "linux"))]
    let _ = niceness;
}

/// What a block may hold, and the base fee it charges.
#[derive(Clone, Copy, Debug)]
pub struct BlockSpace {
    pub max_txs: usize,
    pub max_weight: u64,
    pub max_bytes: u64,
    pub base_fee: u64,
}

/// What the node found of a transaction's fee against the committed state: who pays it, what it
/// costs at the current base fee, and how many fee units that payer could pay in all.
#[derive(Clone, Copy, Debug)]
pub struct FeeCheck {
    pub payer: Address,
    pub fee: u64,
    pub capacity: u64,
}

/// Tip per weight unit, scaled so that small differences order correctly: what a transaction
/// pays for priority (`max_fee` costs nothing above what is charged, so it cannot rank).
fn tip_rate(tx: &Transaction, weight: u64) -> u128 {
    (u128::from(tx.tip) << 32) / u128::from(weight.max(1))
}

struct Pending {
    tx: Transaction,
    hash: Hash,
    bytes: usize,
    weight: u64,
    rate: u128,
    payer: Address,
    fee: u64,
    admitted_at: u64,
}

#[derive(Default)]
struct Sender {
    /// Next nonce not yet handed to a block (committed nonce, plus what was reaped since).
    next: u64,
    /// When the sender's first waiting transaction arrived (ties between equal fees).
    arrival: u64,
    waiting: BTreeMap<u64, Pending>,
}

/// The pool of pending transactions.
pub struct Mempool {
    limits: MempoolLimits,
    senders: HashMap<Address, Sender>,
    /// Each sender's last waiting transaction by fee rate: (rate, arrival, sender, nonce). The
    /// first is what a full pool evicts (a sender's last, so no gap opens behind it).
    tails: BTreeSet<(u128, u64, Address, u64)>,
    /// What each payer's waiting transactions cost at the base fee they were admitted at.
    owed: HashMap<Address, u64>,
    /// Hashes of waiting transactions and of reaped ones not yet committed.
    known: HashSet<Hash>,
    in_flight: Vec<Hash>,
    count: usize,
    bytes: usize,
    height: u64,
    arrivals: u64,
}

impl Mempool {
    pub fn new(limits: MempoolLimits, height: u64) -> Mempool {
        Mempool {
            limits,
            senders: HashMap::new(),
            tails: BTreeSet::new(),
            owed: HashMap::new(),
            known: HashSet::new(),
            in_flight: Vec::new(),
            count: 0,
            bytes: 0,
            height,
            arrivals: 0,
        }
    }

    /// Pending transactions.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Pending bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// True if a transaction with this hash is waiting or in a block being built.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.known.contains(hash)
    }

    /// The tip a full pool needs to beat (for `GET /v1/fees`), per 1,000 weight; `None` while
    /// the pool has room.
    pub fn eviction_floor(&self) -> Option<u64> {
        if self.count < self.limits.max_txs && self.bytes < self.limits.max_bytes / 2 {
            return None;
        }
        self.tails
            .first()
            .map(|(rate, ..)| u64::try_from((rate * 1000) >> 32).unwrap_or(u64::MAX))
    }

    /// Moves `address`'s entry in the eviction index to its current last transaction.
    fn retail(&mut self, address: Address, old: Option<(u128, u64, u64)>) {
        if let Some((rate, arrival, nonce)) = old {
            self.tails.remove(&(rate, arrival, address, nonce));
        }
        if let Some(sender) = self.senders.get(&address)
            && let Some((nonce, p)) = sender.waiting.last_key_value()
        {
            self.tails.insert((p.rate, sender.arrival, address, *nonce));
        }
    }

    fn tail_of(&self, address: &Address) -> Option<(u128, u64, u64)> {
        let sender = self.senders.get(address)?;
        let (nonce, p) = sender.waiting.last_key_value()?;
        Some((p.rate, sender.arrival, *nonce))
    }

    fn forget(&mut self, p: &Pending) {
        self.known.remove(&p.hash);
        self.release(p.payer, p.fee, p.bytes);
    }

    /// A transaction left the waiting set: its count, bytes and what its payer owes go.
    fn release(&mut self, payer: Address, fee: u64, bytes: usize) {
        self.count -= 1;
        self.bytes -= bytes;
        if let std::collections::hash_map::Entry::Occupied(mut e) = self.owed.entry(payer) {
            *e.get_mut() -= fee;
            if *e.get() == 0 {
                e.remove();
            }
        }
    }

    /// Admits one transaction whose envelope, signature and fee were verified, given its
    /// signer's committed account and what its payer can pay: all of its payer's waiting
    /// transactions must stay payable, or one funded key could queue many transactions of which
    /// only the first can pay, filling blocks with refusals that pay nothing.
    pub fn admit(
        &mut self,
        tx: Transaction,
        committed: Option<&Account>,
        fee: FeeCheck,
    ) -> Result<Hash, Rejection> {
        check_against_account(committed, &tx)?;
        let account = committed.expect("check_against_account refuses unknown signers");
        let hash = tx.hash();
        if self.known.contains(&hash) {
            return Err(Rejection::Duplicate);
        }
        let signer = tx.signer;
        let next = self
            .senders
            .get(&signer)
            .map_or(account.nonce, |s| s.next.max(account.nonce));
        if tx.nonce < next {
            return Err(Rejection::NonceReplayed {
                next,
                got: tx.nonce,
            });
        }
        if tx.nonce > account.nonce + self.limits.max_nonce_ahead {
            return Err(Rejection::NonceTooFarAhead {
                next: account.nonce,
                got: tx.nonce,
                max_ahead: self.limits.max_nonce_ahead,
            });
        }
        if self
            .senders
            .get(&signer)
            .is_some_and(|s| s.waiting.contains_key(&tx.nonce))
        {
            return Err(Rejection::Duplicate);
        }
        let owed = self.owed.get(&fee.payer).copied().unwrap_or(0);
        if owed.saturating_add(fee.fee) > fee.capacity {
            return Err(Rejection::FeeUnpaid {
                payer: fee.payer,
                fee: fee.fee,
            });
        }
        let bytes = tx.encoded_len();
        let weight = tx.weight();
        let rate = tip_rate(&tx, weight);
        while self.count + 1 > self.limits.max_txs || self.bytes + bytes > self.limits.max_bytes {
            // Full: the cheapest sender's last transaction makes room for one that pays more
            // per weight (never the sender's own, which would open a gap behind this one).
            let Some(&(cheapest, arrival, victim, nonce)) = self.tails.first() else {
                return Err(Rejection::MempoolFull);
            };
            if cheapest >= rate || victim == signer {
                return Err(Rejection::MempoolFull);
            }
            self.tails.remove(&(cheapest, arrival, victim, nonce));
            let sender = self
                .senders
                .get_mut(&victim)
                .expect("indexed senders exist");
            let p = sender.waiting.remove(&nonce).expect("indexed tails exist");
            let empty = sender.waiting.is_empty();
            self.forget(&p);
            if empty {
                self.senders.remove(&victim);
            } else {
                self.retail(victim, None);
            }
        }
        let old = self.tail_of(&signer);
        self.arrivals += 1;
        let arrivals = self.arrivals;
        let sender = self.senders.entry(signer).or_default();
        if sender.waiting.is_empty() {
            sender.arrival = arrivals;
        }
        sender.next = sender.next.max(account.nonce);
        sender.waiting.insert(
            tx.nonce,
            Pending {
                tx,
                hash,
                bytes,
                weight,
                rate,
                payer: fee.payer,
                fee: fee.fee,
                admitted_at: self.height,
            },
        );
        *self.owed.entry(fee.payer).or_default() += fee.fee;
        self.retail(signer, old);
        self.known.insert(hash);
        self.count += 1;
        self.bytes += bytes;
        Ok(hash)
    }

    /// Takes what the next block can hold, highest tip per weight first: from each sender its
    /// consecutive nonces from the next one, while each offers at least the block's base fee
    /// and fits the block's limits. They stay known (duplicates are refused) until
    /// [`on_block`](Self::on_block).
    pub fn reap(&mut self, space: BlockSpace) -> Vec<Transaction> {
        // (rate, earlier arrival first, sender) of each sender whose next nonce is waiting.
        let mut ready: BinaryHeap<(u128, std::cmp::Reverse<u64>, Address)> = self
            .senders
            .iter()
            .filter_map(|(address, s)| {
                let p = s.waiting.get(&s.next)?;
                Some((p.rate, std::cmp::Reverse(s.arrival), *address))
            })
            .collect();
        let mut out = Vec::with_capacity(space.max_txs.min(self.count));
        let (mut weight, mut bytes) = (0u64, 0u64);
        while let Some((_, arrival, address)) = ready.pop() {
            if out.len() >= space.max_txs {
                break;
            }
            let old = self.tail_of(&address);
            let sender = self.senders.get_mut(&address).expect("ready senders exist");
            let Some(p) = sender.waiting.get(&sender.next) else {
                continue;
            };
            let fits =
                weight + p.weight <= space.max_weight && bytes + p.bytes as u64 <= space.max_bytes;
            if !fits || p.tx.max_fee < charge(space.base_fee, &p.tx) {
                // It waits for a block with room, or a base fee it offers enough for.
                continue;
            }
            let p = sender.waiting.remove(&sender.next).expect("just seen");
            sender.next += 1;
            weight += p.weight;
            bytes += p.bytes as u64;
            if let Some(next) = sender.waiting.get(&sender.next) {
                ready.push((next.rate, arrival, address));
            }
            let empty = sender.waiting.is_empty();
            self.release(p.payer, p.fee, p.bytes);
            self.in_flight.push(p.hash);
            out.push(p.tx);
            if empty {
                // Keep the sender for its `next` until the block commits.
                if let Some((rate, arrival, nonce)) = old {
                    self.tails.remove(&(rate, arrival, address, nonce));
                }
            } else {
                self.retail(address, old);
            }
        }
        out
    }

    /// A block that held `tx` will never be finalized (under BFT, its proposal was nullified or
    /// lost to another block at its height), and `committed` is its signer's committed nonce:
    /// the nonce no longer counts as handed to a block, so the signer's sequence goes back to
    /// it (never below the committed nonce). The driver then admits the transaction again; until
    /// it does, nothing behind it is reaped past the gap. Returns whether the sequence moved.
    pub fn give_back(&mut self, tx: &Transaction, committed: u64) -> bool {
        let Some(sender) = self.senders.get_mut(&tx.signer) else {
            return false;
        };
        let back = tx.nonce.max(committed);
        if back >= sender.next {
            return false;
        }
        sender.next = back;
        true
    }

    /// After [`on_block`](Self::on_block), while the next block (holding `txs`: hash, signer,
    /// nonce) executed and its commit is still under way: those transactions stay known
    /// (duplicates are refused) and their signers' sequences stay past them, since the
    /// committed accounts admission reads do not show them yet. Call it under the same lock as
    /// `on_block`.
    pub fn still_in_flight(&mut self, txs: &[(Hash, Address, u64)]) {
        for &(hash, signer, nonce) in txs {
            self.known.insert(hash);
            self.in_flight.push(hash);
            let sender = self.senders.entry(signer).or_default();
            sender.next = sender.next.max(nonce + 1);
        }
    }

    /// Updates the pool after a block was committed: forgets the reaped transactions, learns the
    /// senders' committed nonces, drops what can no longer run and what waited too long.
    pub fn on_block(&mut self, height: u64, nonces: impl IntoIterator<Item = (Address, u64)>) {
        self.height = height;
        for hash in self.in_flight.drain(..) {
            self.known.remove(&hash);
        }
        for (address, nonce) in nonces {
            let old = self.tail_of(&address);
            let Some(sender) = self.senders.get_mut(&address) else {
                continue;
            };
            sender.next = nonce;
            let mut dropped = Vec::new();
            while let Some(entry) = sender.waiting.first_entry() {
                if *entry.key() >= nonce {
                    break;
                }
                dropped.push(entry.remove());
            }
            for p in &dropped {
                self.forget(p);
            }
            self.retail(address, old);
        }
        let max_wait = self.limits.max_wait_blocks;
        if height.is_multiple_of(64) {
            let mut expired = Vec::new();
            for (address, sender) in &mut self.senders {
                let before = sender.waiting.last_key_value().map(|(n, p)| (p.rate, *n));
                sender.waiting.retain(|_, p| {
                    let keep = p.admitted_at + max_wait >= height;
                    if !keep {
                        expired.push((p.hash, p.payer, p.fee, p.bytes));
                    }
                    keep
                });
                if let Some((rate, nonce)) = before {
                    self.tails.remove(&(rate, sender.arrival, *address, nonce));
                    if let Some((n, p)) = sender.waiting.last_key_value() {
                        self.tails.insert((p.rate, sender.arrival, *address, *n));
                    }
                }
            }
            for (hash, payer, fee, bytes) in expired {
                self.known.remove(&hash);
                self.release(payer, fee, bytes);
            }
        }
        self.senders.retain(|_, s| !s.waiting.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use depin_core::tx::Network;
    use depin_core::{Action, Amount, Keypair};

    fn network() -> Network {
        Network {
            chain_id: "t".into(),
            genesis_hash: Hash([4; 32]),
        }
    }

    fn transfer(key: &Keypair, nonce: u64, amount: u128) -> Transaction {
        paying(key, nonce, amount, 1_000)
    }

    fn paying(key: &Keypair, nonce: u64, amount: u128, max_fee: u64) -> Transaction {
        let action = Action::Transfer {
            to: Keypair::from_seed([99; 32]).address(),
            amount: Amount(amount),
        };
        Transaction::sign(&network(), key, nonce, max_fee, action)
    }

    /// A payer who can pay for anything.
    const PLENTY: FeeCheck = FeeCheck {
        payer: Address([7; 32]),
        fee: 4,
        capacity: u64::MAX,
    };

    fn tipping(key: &Keypair, nonce: u64, tip: u64) -> Transaction {
        let action = Action::Transfer {
            to: Keypair::from_seed([99; 32]).address(),
            amount: Amount(1),
        };
        Transaction::sign_for(&network(), key, nonce, action, |_| depin_core::tx::Offer {
            max: 1_000_000,
            tip,
        })
    }

    fn space(max_txs: usize) -> BlockSpace {
        BlockSpace {
            max_txs,
            max_weight: u64::MAX,
            max_bytes: u64::MAX,
            base_fee: 10_000,
        }
    }

    fn rich(nonce: u64) -> Account {
        Account {
            balance: Amount(1_000_000),
            nonce,
        }
    }

    #[test]
    fn reaps_consecutive_nonces_and_holds_gaps() {
        let k = Keypair::from_seed([1; 32]);
        let mut m = Mempool::new(MempoolLimits::default(), 0);
        for n in [0, 1, 3] {
            m.admit(transfer(&k, n, 1), Some(&rich(0)), PLENTY).unwrap();
        }
        let got: Vec<u64> = m.reap(space(10)).iter().map(|t| t.nonce).collect();
        assert_eq!(got, vec![0, 1]);
        assert_eq!(m.len(), 1);
        m.admit(transfer(&k, 2, 1), Some(&rich(0)), PLENTY).unwrap();
        m.on_block(1, [(k.address(), 2)]);
        let got: Vec<u64> = m.reap(space(10)).iter().map(|t| t.nonce).collect();
        assert_eq!(got, vec![2, 3]);
    }

    /// Under BFT a proposal can be nullified: the block committed instead does not hold what
    /// this pool reaped into it, and the driver gives those transactions back. The sender's
    /// sequence must come back with them, though its next nonce was already waiting.
    #[test]
    fn a_reaped_transaction_given_back_after_an_orphaned_block_is_admitted_again() {
        let k = Keypair::from_seed([1; 32]);
        let other = Keypair::from_seed([2; 32]);
        let mut m = Mempool::new(MempoolLimits::default(), 0);
        let first = transfer(&k, 0, 1);
        m.admit(first.clone(), Some(&rich(0)), PLENTY).unwrap();
        let got: Vec<u64> = m.reap(space(10)).iter().map(|t| t.nonce).collect();
        assert_eq!(got, vec![0]);
        m.admit(transfer(&k, 1, 1), Some(&rich(0)), PLENTY).unwrap();
        // Another validator's block is committed at that height, without k's transaction: the
        // driver gives it back.
        m.on_block(1, [(other.address(), 1)]);
        assert!(m.give_back(&first, 0));
        // Nonce 1 is not reaped past the gap left by the orphaned 0.
        assert!(m.reap(space(10)).is_empty());
        m.on_block(2, []);
        assert_eq!(
            m.admit(first.clone(), Some(&rich(0)), PLENTY).map(|_| ()),
            Ok(())
        );
        let got: Vec<u64> = m.reap(space(10)).iter().map(|t| t.nonce).collect();
        assert_eq!(got, vec![0, 1]);
        // Given back once committed elsewhere (an orphaned copy), it never rewinds below the
        // committed nonce, and the sequence goes on from the chain.
        m.on_block(3, [(k.address(), 2)]);
        assert!(!m.give_back(&first, 2));
        m.admit(transfer(&k, 2, 1), Some(&rich(2)), PLENTY).unwrap();
        let got: Vec<u64> = m.reap(space(10)).iter().map(|t| t.nonce).collect();
        assert_eq!(got, vec![2]);
    }

    /// The solo driver reaps and executes block 2 while block 1's commit is under way, and
    /// hears of block 1 only after: block 2's transactions must stay duplicates, and their
    /// nonces taken, though the committed accounts admission reads do not show them yet.
    #[test]
    fn a_block_in_flight_keeps_its_transactions_known_after_the_block_before_it() {
        let k = Keypair::from_seed([1; 32]);
        let mut m = Mempool::new(MempoolLimits::default(), 0);
        for n in [0, 1] {
            m.admit(transfer(&k, n, 1), Some(&rich(0)), PLENTY).unwrap();
        }
        let first = m.reap(space(1));
        m.admit(transfer(&k, 2, 1), Some(&rich(0)), PLENTY).unwrap();
        let second = m.reap(space(1));
        assert_eq!((first[0].nonce, second[0].nonce), (0, 1));
        // Block 1 is durable; block 2 (nonce 1) is still in flight.
        m.on_block(1, [(k.address(), 1)]);
        m.still_in_flight(&[(second[0].hash(), k.address(), 1)]);
        // What admission sees: the account after block 1 only.
        assert_eq!(
            m.admit(second[0].clone(), Some(&rich(1)), PLENTY),
            Err(Rejection::Duplicate)
        );
        assert!(matches!(
            m.admit(transfer(&k, 1, 9), Some(&rich(1)), PLENTY),
            Err(Rejection::NonceReplayed { next: 2, got: 1 })
        ));
        let got: Vec<u64> = m.reap(space(10)).iter().map(|t| t.nonce).collect();
        assert_eq!(
            got,
            vec![2],
            "the block after the one in flight goes on from it"
        );
        // Block 2 is durable too: its transactions are forgotten as usual.
        m.on_block(2, [(k.address(), 2)]);
        assert!(matches!(
            m.admit(second[0].clone(), Some(&rich(2)), PLENTY),
            Err(Rejection::NonceReplayed { .. })
        ));
    }

    #[test]
    fn refuses_replays_duplicates_and_far_nonces() {
        let k = Keypair::from_seed([1; 32]);
        let mut m = Mempool::new(MempoolLimits::default(), 0);
        let tx = transfer(&k, 5, 1);
        m.admit(tx.clone(), Some(&rich(5)), PLENTY).unwrap();
        assert_eq!(
            m.admit(tx, Some(&rich(5)), PLENTY),
            Err(Rejection::Duplicate)
        );
        assert_eq!(
            m.admit(transfer(&k, 5, 2), Some(&rich(5)), PLENTY),
            Err(Rejection::Duplicate)
        );
        assert!(matches!(
            m.admit(transfer(&k, 4, 1), Some(&rich(5)), PLENTY),
            Err(Rejection::NonceReplayed { next: 5, got: 4 })
        ));
        assert!(matches!(
            m.admit(transfer(&k, 5 + 1025, 1), Some(&rich(5)), PLENTY),
            Err(Rejection::NonceTooFarAhead { .. })
        ));
        assert!(matches!(
            m.admit(transfer(&k, 6, 2_000_000), Some(&rich(5)), PLENTY),
            Err(Rejection::InsufficientFunds { .. })
        ));
        assert!(matches!(
            m.admit(transfer(&k, 6, 1), None, PLENTY),
            Err(Rejection::UnknownAccount { .. })
        ));
        // A reaped transaction is still a duplicate until its block commits.
        let reaped = m.reap(space(10));
        assert_eq!(
            m.admit(reaped[0].clone(), Some(&rich(5)), PLENTY),
            Err(Rejection::Duplicate)
        );
    }

    #[test]
    fn a_full_pool_says_try_later_and_stays_bounded() {
        let limits = MempoolLimits {
            max_txs: 3,
            ..MempoolLimits::default()
        };
        let mut m = Mempool::new(limits, 0);
        let k = Keypair::from_seed([1; 32]);
        for n in 0..3 {
            m.admit(transfer(&k, n, 1), Some(&rich(0)), PLENTY).unwrap();
        }
        assert_eq!(
            m.admit(transfer(&k, 3, 1), Some(&rich(0)), PLENTY),
            Err(Rejection::MempoolFull)
        );
        assert_eq!(m.len(), 3);
        let bytes = m.bytes();
        assert!(bytes > 0);
        m.reap(space(3));
        m.on_block(1, [(k.address(), 3)]);
        assert!(m.is_empty());
        assert_eq!(m.bytes(), 0);
    }

    #[test]
    fn blocks_fill_by_tip_per_weight_and_hold_what_offers_too_little() {
        let mut m = Mempool::new(MempoolLimits::default(), 0);
        let (plain, tipper, stingy) = (
            Keypair::from_seed([1; 32]),
            Keypair::from_seed([2; 32]),
            Keypair::from_seed([3; 32]),
        );
        m.admit(tipping(&plain, 0, 0), Some(&rich(0)), PLENTY)
            .unwrap();
        m.admit(tipping(&plain, 1, 50), Some(&rich(0)), PLENTY)
            .unwrap();
        m.admit(tipping(&tipper, 0, 5), Some(&rich(0)), PLENTY)
            .unwrap();
        // A max_fee below what the block's base fee asks (10,000 millionths per weight: ~4).
        m.admit(paying(&stingy, 0, 1, 1), Some(&rich(0)), PLENTY)
            .unwrap();
        let got: Vec<(Address, u64)> = m.reap(space(2)).iter().map(|t| (t.signer, t.tip)).collect();
        // The tipper first; the plain sender's tipped second waits behind its first.
        assert_eq!(got, vec![(tipper.address(), 5), (plain.address(), 0)]);
        let got: Vec<u64> = m.reap(space(10)).iter().map(|t| t.tip).collect();
        assert_eq!(got, vec![50], "the one below the base fee waits");
        assert_eq!(m.len(), 1);
        // A huge max_fee buys nothing: it is not paid, so it does not rank.
        m.on_block(1, [(plain.address(), 2), (tipper.address(), 1)]);
        m.admit(paying(&plain, 2, 1, u64::MAX), Some(&rich(2)), PLENTY)
            .unwrap();
        m.admit(tipping(&tipper, 1, 1), Some(&rich(1)), PLENTY)
            .unwrap();
        let got: Vec<Address> = m.reap(space(1)).iter().map(|t| t.signer).collect();
        assert_eq!(got, vec![tipper.address()]);
        // A block with room for one transfer's weight takes one.
        m.on_block(2, [(tipper.address(), 2)]);
        m.admit(tipping(&tipper, 2, 0), Some(&rich(2)), PLENTY)
            .unwrap();
        let one = tipping(&tipper, 2, 0).weight();
        let tight = BlockSpace {
            max_weight: one + one / 2,
            ..space(10)
        };
        assert_eq!(m.reap(tight).len(), 1);
    }

    #[test]
    fn a_full_pool_evicts_the_lowest_tip_for_a_higher_one_and_never_opens_a_gap() {
        let limits = MempoolLimits {
            max_txs: 3,
            ..MempoolLimits::default()
        };
        let mut m = Mempool::new(limits, 0);
        let (a, b, c) = (
            Keypair::from_seed([1; 32]),
            Keypair::from_seed([2; 32]),
            Keypair::from_seed([3; 32]),
        );
        m.admit(tipping(&a, 0, 10), Some(&rich(0)), PLENTY).unwrap();
        m.admit(tipping(&a, 1, 5), Some(&rich(0)), PLENTY).unwrap();
        m.admit(tipping(&b, 0, 20), Some(&rich(0)), PLENTY).unwrap();
        // Not more than the lowest: refused, nothing moves.
        assert_eq!(
            m.admit(tipping(&c, 0, 5), Some(&rich(0)), PLENTY),
            Err(Rejection::MempoolFull)
        );
        assert!(m.eviction_floor().is_some());
        // More: a's last (nonce 1, the lowest tail) goes; a's nonce 0 stays.
        m.admit(tipping(&c, 0, 30), Some(&rich(0)), PLENTY).unwrap();
        assert_eq!(m.len(), 3);
        let got: Vec<(Address, u64)> = m
            .reap(space(10))
            .iter()
            .map(|t| (t.signer, t.nonce))
            .collect();
        assert_eq!(
            got,
            vec![(c.address(), 0), (b.address(), 0), (a.address(), 0)]
        );
        // A sender never evicts its own earlier transactions.
        m.on_block(1, [(a.address(), 1), (b.address(), 1), (c.address(), 1)]);
        for n in 1..4 {
            m.admit(tipping(&a, n, 10), Some(&rich(1)), PLENTY).unwrap();
        }
        assert_eq!(
            m.admit(tipping(&a, 4, 1_000), Some(&rich(1)), PLENTY),
            Err(Rejection::MempoolFull)
        );
    }

    #[test]
    fn a_payer_cannot_queue_more_than_it_can_pay_for() {
        let mut m = Mempool::new(MempoolLimits::default(), 0);
        let k = Keypair::from_seed([1; 32]);
        let fee = FeeCheck {
            payer: k.address(),
            fee: 4,
            capacity: 10,
        };
        m.admit(transfer(&k, 0, 1), Some(&rich(0)), fee).unwrap();
        m.admit(transfer(&k, 1, 1), Some(&rich(0)), fee).unwrap();
        assert_eq!(
            m.admit(transfer(&k, 2, 1), Some(&rich(0)), fee),
            Err(Rejection::FeeUnpaid {
                payer: k.address(),
                fee: 4
            })
        );
        // Once one is in a block, what it owes is paid from what the payer had.
        m.reap(space(1));
        m.admit(transfer(&k, 2, 1), Some(&rich(0)), fee).unwrap();
    }

    #[test]
    fn transactions_stuck_behind_a_gap_expire() {
        let limits = MempoolLimits {
            max_wait_blocks: 10,
            ..MempoolLimits::default()
        };
        let mut m = Mempool::new(limits, 0);
        let k = Keypair::from_seed([1; 32]);
        m.admit(transfer(&k, 7, 1), Some(&rich(0)), PLENTY).unwrap();
        m.on_block(64, []);
        assert!(m.is_empty());
    }

    #[test]
    fn batch_verification_marks_bad_signatures_and_wrong_chains() {
        let k = Keypair::from_seed([1; 32]);
        let mut txs: Vec<Transaction> = (0..600).map(|n| transfer(&k, n, 1)).collect();
        txs[300].nonce += 1_000_000;
        txs[10].chain_id = "other".into();
        let v = verify_batch("t", &network().genesis_hash, &txs);
        assert_eq!(v.iter().filter(|r| r.is_err()).count(), 2);
        assert_eq!(v[300], Err(Rejection::BadSignature));
        assert!(matches!(v[10], Err(Rejection::WrongChain { .. })));
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn admission_threads_run_below_the_block_threads() {
        // SAFETY: reads the nice value of the calling thread.
        let nice =
            || unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        let block = nice();
        let admission = admission_pool().install(nice);
        assert_eq!(admission, (block + ADMISSION_NICENESS).min(19));
        assert!(
            admission > block || block == 19,
            "{admission} is not below {block}"
        );
    }

    #[test]
    fn batch_verdicts_are_the_single_verdicts_on_edge_cases() {
        use depin_core::crypto::{small_order_encodings, verify};
        use depin_core::{Signature, Signatures, State, apply_block, build_block};
        let k = Keypair::from_seed([1; 32]);
        let mut genesis = depin_core::Genesis::solo(
            "t",
            Keypair::from_seed([9; 32]).address(),
            &[(k.address(), "10")],
        );
        genesis.genesis_time_ms = 1;
        let network = genesis.network();
        let g = network.genesis_hash;
        let sign = |key: &Keypair, nonce: u64| {
            let action = Action::Transfer {
                to: Keypair::from_seed([99; 32]).address(),
                amount: Amount(1),
            };
            Transaction::sign(&network, key, nonce, 1_000, action)
        };
        // Small-order keys with small-order R and S = 0 (valid under plain ZIP-215, refused by
        // depin's rule), honest signatures, and honest ones with an unreduced S.
        let mut txs = Vec::new();
        for (i, key) in small_order_encodings().iter().enumerate() {
            for nonce in 0..8 {
                let mut tx = sign(&k, nonce);
                tx.signer = Address(*key);
                let mut sig = [0u8; 64];
                sig[..32].copy_from_slice(&small_order_encodings()[(i + nonce as usize) % 14]);
                tx.signature = Signature(sig);
                txs.push(tx);
            }
        }
        for nonce in 0..20 {
            let mut tx = sign(&k, nonce);
            if nonce % 3 == 2 {
                tx.signature.0[63] |= 0x70; // S >= L
            }
            txs.push(tx);
        }
        let single: Vec<bool> = txs
            .iter()
            .map(|tx| verify(&tx.signer, &tx.signing_bytes(&g), &tx.signature))
            .collect();
        let batch: Vec<bool> = verify_batch("t", &g, &txs)
            .iter()
            .map(Result::is_ok)
            .collect();
        assert_eq!(batch, single);
        assert_eq!(single.iter().filter(|ok| **ok).count(), 14);

        // A block built on the batch's verdicts replays to the same receipts.
        let admitted: Vec<Transaction> = txs
            .into_iter()
            .zip(batch)
            .filter_map(|(tx, ok)| ok.then_some(tx))
            .collect();
        let proposer = Keypair::from_seed([9; 32]);
        let mut producer = State::genesis(&genesis).unwrap();
        let (block, built) = build_block(
            &mut producer,
            admitted,
            10,
            &proposer,
            Signatures::AlreadyVerified,
        );
        let mut replica = State::genesis(&genesis).unwrap();
        let replayed = apply_block(&mut replica, &block, Signatures::Verify).unwrap();
        assert_eq!(replayed.receipts, built.receipts);
    }
}
