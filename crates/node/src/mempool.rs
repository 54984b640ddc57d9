//! Transactions waiting for a block: verified in batches at the door, ordered by nonce per
//! sender, bounded in count and bytes.
//!
//! Admission is in two halves so that the expensive part holds no lock: [`verify_batch`] checks
//! envelopes and signatures (ZIP-215 batch verification in parallel chunks, whose verdicts are
//! exactly those execution and replay reach one by one: see `depin_core::crypto`), then
//! [`Mempool::admit`] checks nonces and balances against the committed accounts and inserts. A
//! full mempool refuses with [`Rejection::MempoolFull`]; it never grows past its limits.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

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

/// Signatures per parallel verification chunk: large enough for batch verification to pay off.
pub const VERIFY_CHUNK: usize = 256;

/// Checks chain id, size and signature of each transaction; signatures in parallel batches.
pub fn verify_batch(chain_id: &str, txs: &[Transaction]) -> Vec<Result<(), Rejection>> {
    let mut verdicts: Vec<Result<(), Rejection>> =
        txs.iter().map(|tx| tx.check_envelope(chain_id)).collect();
    let signature_ok: Vec<bool> = txs
        .par_chunks(VERIFY_CHUNK)
        .flat_map_iter(verify_signatures)
        .collect();
    for (verdict, ok) in verdicts.iter_mut().zip(signature_ok) {
        if verdict.is_ok() && !ok {
            *verdict = Err(Rejection::BadSignature);
        }
    }
    verdicts
}

struct Pending {
    tx: Transaction,
    hash: Hash,
    bytes: usize,
    admitted_at: u64,
}

#[derive(Default)]
struct Sender {
    /// Next nonce not yet handed to a block (committed nonce, plus what was reaped since).
    next: u64,
    waiting: BTreeMap<u64, Pending>,
}

/// The pool of pending transactions.
pub struct Mempool {
    limits: MempoolLimits,
    senders: HashMap<Address, Sender>,
    /// Senders with waiting transactions, in the order they first arrived (fair reaping).
    queue: VecDeque<Address>,
    /// Hashes of waiting transactions and of reaped ones not yet committed.
    known: HashSet<Hash>,
    in_flight: Vec<Hash>,
    count: usize,
    bytes: usize,
    height: u64,
}

impl Mempool {
    pub fn new(limits: MempoolLimits, height: u64) -> Mempool {
        Mempool {
            limits,
            senders: HashMap::new(),
            queue: VecDeque::new(),
            known: HashSet::new(),
            in_flight: Vec::new(),
            count: 0,
            bytes: 0,
            height,
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

    /// Admits one transaction whose envelope and signature were verified, given its signer's
    /// committed account.
    pub fn admit(
        &mut self,
        tx: Transaction,
        committed: Option<&Account>,
    ) -> Result<Hash, Rejection> {
        check_against_account(committed, &tx)?;
        let account = committed.expect("check_against_account refuses unknown signers");
        let hash = tx.hash();
        if self.known.contains(&hash) {
            return Err(Rejection::Duplicate);
        }
        let sender = self.senders.entry(tx.signer).or_default();
        sender.next = sender.next.max(account.nonce);
        if tx.nonce < sender.next {
            return Err(Rejection::NonceReplayed {
                next: sender.next,
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
        if sender.waiting.contains_key(&tx.nonce) {
            return Err(Rejection::Duplicate);
        }
        let bytes = tx.encoded_len();
        if self.count + 1 > self.limits.max_txs || self.bytes + bytes > self.limits.max_bytes {
            return Err(Rejection::MempoolFull);
        }
        if sender.waiting.is_empty() {
            self.queue.push_back(tx.signer);
        }
        sender.waiting.insert(
            tx.nonce,
            Pending {
                tx,
                hash,
                bytes,
                admitted_at: self.height,
            },
        );
        self.known.insert(hash);
        self.count += 1;
        self.bytes += bytes;
        Ok(hash)
    }

    /// Takes up to `max` transactions that can run now: for each sender in arrival order, its
    /// consecutive nonces from the next one. They stay known (duplicates are refused) until
    /// [`on_block`](Self::on_block).
    pub fn reap(&mut self, max: usize) -> Vec<Transaction> {
        let mut out = Vec::with_capacity(max.min(self.count));
        let mut keep = VecDeque::with_capacity(self.queue.len());
        while let Some(address) = self.queue.pop_front() {
            if out.len() >= max {
                keep.push_back(address);
                continue;
            }
            let sender = self
                .senders
                .get_mut(&address)
                .expect("queued senders exist");
            while out.len() < max {
                let Some(entry) = sender.waiting.first_entry() else {
                    break;
                };
                if *entry.key() != sender.next {
                    break;
                }
                let p = entry.remove();
                sender.next += 1;
                self.count -= 1;
                self.bytes -= p.bytes;
                self.in_flight.push(p.hash);
                out.push(p.tx);
            }
            if !sender.waiting.is_empty() {
                keep.push_back(address);
            }
        }
        self.queue = keep;
        out
    }

    /// Updates the pool after a block was committed: forgets the reaped transactions, learns the
    /// senders' committed nonces, drops what can no longer run and what waited too long.
    pub fn on_block(&mut self, height: u64, nonces: impl IntoIterator<Item = (Address, u64)>) {
        self.height = height;
        for hash in self.in_flight.drain(..) {
            self.known.remove(&hash);
        }
        for (address, nonce) in nonces {
            if let Some(sender) = self.senders.get_mut(&address) {
                sender.next = nonce;
                while let Some(entry) = sender.waiting.first_entry() {
                    if *entry.key() >= nonce {
                        break;
                    }
                    let p = entry.remove();
                    self.known.remove(&p.hash);
                    self.count -= 1;
                    self.bytes -= p.bytes;
                }
            }
        }
        let max_wait = self.limits.max_wait_blocks;
        if height.is_multiple_of(64) {
            for sender in self.senders.values_mut() {
                sender.waiting.retain(|_, p| {
                    let keep = p.admitted_at + max_wait >= height;
                    if !keep {
                        self.known.remove(&p.hash);
                        self.count -= 1;
                        self.bytes -= p.bytes;
                    }
                    keep
                });
            }
        }
        self.senders.retain(|_, s| !s.waiting.is_empty());
        self.queue.retain(|a| self.senders.contains_key(a));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use depin_core::{Action, Amount, Keypair};

    fn transfer(key: &Keypair, nonce: u64, amount: u128) -> Transaction {
        Transaction::sign(
            "t",
            key,
            nonce,
            Action::Transfer {
                to: Keypair::from_seed([99; 32]).address(),
                amount: Amount(amount),
            },
        )
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
            m.admit(transfer(&k, n, 1), Some(&rich(0))).unwrap();
        }
        let got: Vec<u64> = m.reap(10).iter().map(|t| t.nonce).collect();
        assert_eq!(got, vec![0, 1]);
        assert_eq!(m.len(), 1);
        m.admit(transfer(&k, 2, 1), Some(&rich(0))).unwrap();
        m.on_block(1, [(k.address(), 2)]);
        let got: Vec<u64> = m.reap(10).iter().map(|t| t.nonce).collect();
        assert_eq!(got, vec![2, 3]);
    }

    #[test]
    fn refuses_replays_duplicates_and_far_nonces() {
        let k = Keypair::from_seed([1; 32]);
        let mut m = Mempool::new(MempoolLimits::default(), 0);
        let tx = transfer(&k, 5, 1);
        m.admit(tx.clone(), Some(&rich(5))).unwrap();
        assert_eq!(m.admit(tx, Some(&rich(5))), Err(Rejection::Duplicate));
        assert_eq!(
            m.admit(transfer(&k, 5, 2), Some(&rich(5))),
            Err(Rejection::Duplicate)
        );
        assert!(matches!(
            m.admit(transfer(&k, 4, 1), Some(&rich(5))),
            Err(Rejection::NonceReplayed { next: 5, got: 4 })
        ));
        assert!(matches!(
            m.admit(transfer(&k, 5 + 1025, 1), Some(&rich(5))),
            Err(Rejection::NonceTooFarAhead { .. })
        ));
        assert!(matches!(
            m.admit(transfer(&k, 6, 2_000_000), Some(&rich(5))),
            Err(Rejection::InsufficientFunds { .. })
        ));
        assert!(matches!(
            m.admit(transfer(&k, 6, 1), None),
            Err(Rejection::UnknownAccount { .. })
        ));
        // A reaped transaction is still a duplicate until its block commits.
        let reaped = m.reap(10);
        assert_eq!(
            m.admit(reaped[0].clone(), Some(&rich(5))),
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
            m.admit(transfer(&k, n, 1), Some(&rich(0))).unwrap();
        }
        assert_eq!(
            m.admit(transfer(&k, 3, 1), Some(&rich(0))),
            Err(Rejection::MempoolFull)
        );
        assert_eq!(m.len(), 3);
        let bytes = m.bytes();
        assert!(bytes > 0);
        m.reap(3);
        m.on_block(1, [(k.address(), 3)]);
        assert!(m.is_empty());
        assert_eq!(m.bytes(), 0);
    }

    #[test]
    fn transactions_stuck_behind_a_gap_expire() {
        let limits = MempoolLimits {
            max_wait_blocks: 10,
            ..MempoolLimits::default()
        };
        let mut m = Mempool::new(limits, 0);
        let k = Keypair::from_seed([1; 32]);
        m.admit(transfer(&k, 7, 1), Some(&rich(0))).unwrap();
        m.on_block(64, []);
        assert!(m.is_empty());
    }

    #[test]
    fn batch_verification_marks_bad_signatures_and_wrong_chains() {
        let k = Keypair::from_seed([1; 32]);
        let mut txs: Vec<Transaction> = (0..600).map(|n| transfer(&k, n, 1)).collect();
        txs[300].nonce += 1_000_000;
        txs[10].chain_id = "other".into();
        let v = verify_batch("t", &txs);
        assert_eq!(v.iter().filter(|r| r.is_err()).count(), 2);
        assert_eq!(v[300], Err(Rejection::BadSignature));
        assert!(matches!(v[10], Err(Rejection::WrongChain { .. })));
    }

    #[test]
    fn batch_verdicts_are_the_single_verdicts_on_edge_cases() {
        use depin_core::crypto::{small_order_encodings, verify};
        use depin_core::{Signature, Signatures, State, apply_block, build_block};
        // Small-order keys with small-order R and S = 0 (valid under plain ZIP-215, refused by
        // depin's rule), honest signatures, and honest ones with an unreduced S.
        let mut txs = Vec::new();
        for (i, key) in small_order_encodings().iter().enumerate() {
            for nonce in 0..8 {
                let mut tx = transfer(&Keypair::from_seed([1; 32]), nonce, 1);
                tx.signer = Address(*key);
                let mut sig = [0u8; 64];
                sig[..32].copy_from_slice(&small_order_encodings()[(i + nonce as usize) % 14]);
                tx.signature = Signature(sig);
                txs.push(tx);
            }
        }
        let k = Keypair::from_seed([1; 32]);
        for nonce in 0..20 {
            let mut tx = transfer(&k, nonce, 1);
            if nonce % 3 == 2 {
                tx.signature.0[63] |= 0x70; // S >= L
            }
            txs.push(tx);
        }
        let single: Vec<bool> = txs
            .iter()
            .map(|tx| verify(&tx.signer, &tx.signing_bytes(), &tx.signature))
            .collect();
        let batch: Vec<bool> = verify_batch("t", &txs).iter().map(Result::is_ok).collect();
        assert_eq!(batch, single);
        assert_eq!(single.iter().filter(|ok| **ok).count(), 14);

        // A block built on the batch's verdicts replays to the same receipts.
        let genesis = depin_core::Genesis {
            chain_id: "t".into(),
            genesis_time_ms: 1,
            token: depin_core::genesis::TokenParams {
                symbol: "DPN".into(),
                decimals: 6,
            },
            consensus: depin_core::genesis::ConsensusParams {
                block_interval_ms: 1000,
                epoch_length_blocks: 60,
                max_block_txs: 1000,
                validator: Keypair::from_seed([9; 32]).address(),
            },
            allocations: vec![depin_core::genesis::Allocation {
                address: k.address(),
                amount: "10".into(),
            }],
            economics: None,
            modules: Default::default(),
        };
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
