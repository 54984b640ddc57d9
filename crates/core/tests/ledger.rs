//! The ledger as a whole: transfers packed into blocks by `build_block`, replayed with
//! `apply_block`, refused when invalid, and checked against a plain model of balances and nonces.
//!
//! A state costs a few milliseconds to create (its Merkle tree has 2^16 buckets); the case counts
//! below keep the whole file near 2 s in a debug build.

use std::collections::BTreeMap;

use depin_core::codec::{Decode, Encode};
use depin_core::genesis::{Allocation, ConsensusParams, TokenParams};
use depin_core::modules::ModulesGenesis;
use depin_core::services::fees::{FeeParams, fee_for, next_base_fee};
use depin_core::tx::Network;
use depin_core::{
    Account, Action, Address, Amount, Block, BlockError, Genesis, Hash, Keypair, Receipt,
    Rejection, Signatures, State, Transaction, apply_block, build_block, check_against_state,
};
use proptest::prelude::*;
use proptest::sample::Index;

const CHAIN_ID: &str = "depin-ledger-test";
const OTHER_CHAIN_ID: &str = "depin-elsewhere";
const GENESIS_TIME_MS: u64 = 1_700_000_000_000;
const BLOCK_INTERVAL_MS: u64 = 1000;
const MAX_BLOCK_TXS: u32 = 64;
/// Accounts funded at genesis: keys 0..FUNDED.
const FUNDED: usize = 5;
/// Whole tokens per funded account; with 0 decimals, also base units.
const ALLOCATION: u128 = 1000;
const SUPPLY: Amount = Amount(ALLOCATION * FUNDED as u128);
/// Keys the tests sign with: the funded ones, then some that start with nothing.
const KEYS: usize = 8;
/// Receivers that are bare addresses nobody holds a key for.
const RAW_RECEIVERS: usize = 2;

fn key(i: usize) -> Keypair {
    Keypair::from_seed([i as u8 + 1; 32])
}

fn validator() -> Keypair {
    Keypair::from_seed([200; 32])
}

fn receiver(i: usize) -> Address {
    if i < KEYS {
        key(i).address()
    } else {
        Address([0xe0 + (i - KEYS) as u8; 32])
    }
}

fn genesis() -> Genesis {
    Genesis {
        chain_id: CHAIN_ID.into(),
        genesis_time_ms: GENESIS_TIME_MS,
        token: TokenParams {
            symbol: "DPN".into(),
            decimals: 0,
        },
        consensus: ConsensusParams {
            block_interval_ms: BLOCK_INTERVAL_MS,
            epoch_length_blocks: 60,
            max_block_txs: MAX_BLOCK_TXS,
            validator: validator().address(),
            validators: Vec::new(),
        },
        allocations: (0..FUNDED)
            .map(|i| Allocation {
                address: key(i).address(),
                amount: ALLOCATION.to_string(),
            })
            .collect(),
        economics: None,
        fees: None,
        modules: ModulesGenesis::default(),
    }
}

fn genesis_state() -> State {
    State::genesis(&genesis()).expect("the test genesis is valid")
}

/// The most a test transfer offers to pay: far above the default base fee's ask.
const MAX_FEE: u64 = 1_000;

fn network() -> Network {
    genesis().network()
}

fn transfer(key: &Keypair, nonce: u64, to: Address, amount: u128) -> Transaction {
    sign(&network(), key, nonce, to, amount)
}

fn sign(network: &Network, key: &Keypair, nonce: u64, to: Address, amount: u128) -> Transaction {
    let action = Action::Transfer {
        to,
        amount: Amount(amount),
    };
    Transaction::sign(network, key, nonce, MAX_FEE, action)
}

fn elsewhere() -> Network {
    Network {
        chain_id: OTHER_CHAIN_ID.into(),
        ..network()
    }
}

/// Builds the next block, one interval after the last, with signatures verified.
fn next_block(state: &mut State, txs: Vec<Transaction>) -> (Block, Vec<Receipt>) {
    let time_ms = state.meta().last_block_time_ms + BLOCK_INTERVAL_MS;
    let (block, applied) = build_block(state, txs, time_ms, &validator(), Signatures::Verify);
    (block, applied.receipts)
}

/// Every account in the state, decoded from its key-value view.
fn accounts_of(state: &State) -> BTreeMap<Address, Account> {
    state
        .entries()
        .into_iter()
        .filter(|(k, _)| k[0] == 2)
        .map(|(k, v)| {
            let address = Address(k[1..].try_into().expect("account keys hold an address"));
            (
                address,
                Account::from_bytes(&v).expect("account entries decode"),
            )
        })
        .collect()
}

/// The balances and nonces a correct ledger must hold, kept by the simplest possible rules, with
/// the fee formulas of `services::fees` (the base fee of each block, the fee of each weight).
struct Model {
    accounts: BTreeMap<Address, (u128, u64)>,
    base_fee: u64,
    burned: u128,
    block_weight: u64,
}

/// What is wrong with a generated transaction on purpose.
#[derive(Clone, Debug)]
enum Fault {
    None,
    /// The nonce is off by this much from the signer's next one (clamped at 0).
    NonceOffset(i64),
    /// Signed by another key than the signer's.
    BadSignature,
    /// Signed for another network.
    WrongChain,
    /// Offers no fee.
    NoFee,
}

#[derive(Clone, Debug)]
enum AmountSpec {
    Fixed(u128),
    /// Exactly the sender's balance.
    WholeBalance,
    /// One more than the sender's balance.
    BalancePlusOne,
}

#[derive(Clone, Debug)]
struct Op {
    sender: usize,
    receiver: usize,
    amount: AmountSpec,
    fault: Fault,
}

impl Model {
    fn genesis() -> Model {
        let accounts = (0..FUNDED)
            .map(|i| (key(i).address(), (ALLOCATION, 0)))
            .collect();
        Model {
            accounts,
            base_fee: FeeParams::default().min_base_fee,
            burned: 0,
            block_weight: 0,
        }
    }

    /// After a block: the base fee follows the weight the block carried.
    fn end_block(&mut self) {
        self.base_fee = next_base_fee(&FeeParams::default(), self.base_fee, self.block_weight);
        self.block_weight = 0;
    }

    /// Turns `op` into a transaction against the model's current view, and returns it with the
    /// receipt the ledger must give it, updating the model as the ledger must.
    fn submit(&mut self, op: &Op) -> (Transaction, Receipt) {
        let signer = key(op.sender);
        let from = signer.address();
        let to = receiver(op.receiver);
        let (balance, next) = self.accounts.get(&from).copied().unwrap_or((0, 0));
        let amount = match op.amount {
            AmountSpec::Fixed(a) => a,
            AmountSpec::WholeBalance => balance,
            AmountSpec::BalancePlusOne => balance + 1,
        };
        let nonce = match op.fault {
            Fault::NonceOffset(d) => (next as i64 + d).max(0) as u64,
            _ => next,
        };
        let tx = match op.fault {
            Fault::WrongChain => sign(&elsewhere(), &signer, nonce, to, amount),
            Fault::NoFee => {
                let action = Action::Transfer {
                    to,
                    amount: Amount(amount),
                };
                Transaction::sign(&network(), &signer, nonce, 0, action)
            }
            Fault::BadSignature => {
                let impostor = key((op.sender + 1) % KEYS);
                let mut tx = transfer(&impostor, nonce, to, amount);
                tx.signer = from;
                tx
            }
            Fault::None | Fault::NonceOffset(_) => transfer(&signer, nonce, to, amount),
        };
        let receipt = self.execute(&tx, !matches!(op.fault, Fault::BadSignature));
        (tx, receipt)
    }

    fn execute(&mut self, tx: &Transaction, signature_ok: bool) -> Receipt {
        self.block_weight += tx.weight();
        let reject = Receipt::Rejected;
        if tx.chain_id != CHAIN_ID {
            return reject(Rejection::WrongChain {
                expected: CHAIN_ID.into(),
                got: tx.chain_id.clone(),
            });
        }
        if !signature_ok {
            return reject(Rejection::BadSignature);
        }
        let Some(&(balance, next)) = self.accounts.get(&tx.signer) else {
            return reject(Rejection::UnknownAccount { address: tx.signer });
        };
        if tx.nonce < next {
            return reject(Rejection::NonceReplayed {
                next,
                got: tx.nonce,
            });
        }
        if tx.nonce > next {
            return reject(Rejection::NonceGap {
                next,
                got: tx.nonce,
            });
        }
        let fee = fee_for(self.base_fee, tx.weight());
        if tx.max_fee < fee {
            return reject(Rejection::FeeTooLow {
                offered: tx.max_fee,
                needed: fee,
            });
        }
        if balance < u128::from(fee) {
            return reject(Rejection::FeeUnpaid {
                payer: tx.signer,
                fee,
            });
        }
        let fee = u128::from(fee);
        let balance = balance - fee;
        self.burned += fee;
        self.accounts.insert(tx.signer, (balance, next + 1));
        let Action::Transfer { to, amount } = tx.action else {
            unreachable!("the model generates transfers only");
        };
        if amount.is_zero() {
            return reject(Rejection::ZeroAmount);
        }
        if balance < amount.0 {
            return reject(Rejection::InsufficientFunds {
                balance: Amount(balance),
                needed: amount,
            });
        }
        self.accounts.get_mut(&tx.signer).unwrap().0 -= amount.0;
        self.accounts.entry(to).or_insert((0, 0)).0 += amount.0;
        Receipt::Success
    }

    /// Checks the ledger holds exactly the model's accounts and that no money appeared or vanished.
    fn check(&self, state: &State) -> Result<(), TestCaseError> {
        let meta = state.meta();
        let supply = Amount(SUPPLY.0 - self.burned);
        prop_assert_eq!(state.sum_of_balances(), supply);
        prop_assert_eq!(meta.total_supply, supply);
        prop_assert_eq!(meta.genesis_supply, SUPPLY);
        prop_assert_eq!(meta.minted, Amount::ZERO);
        prop_assert_eq!(meta.burned, Amount(self.burned));
        prop_assert_eq!(meta.base_fee, self.base_fee);
        let accounts = accounts_of(state);
        prop_assert_eq!(accounts.len(), state.account_count());
        for (address, account) in &accounts {
            prop_assert!(
                account.balance <= SUPPLY,
                "{address} holds {}",
                account.balance
            );
            prop_assert_eq!(state.account(address), Some(account));
        }
        let ledger: BTreeMap<Address, (u128, u64)> = accounts
            .iter()
            .map(|(a, acc)| (*a, (acc.balance.0, acc.nonce)))
            .collect();
        prop_assert_eq!(&ledger, &self.accounts);
        Ok(())
    }
}

fn amount_spec() -> impl Strategy<Value = AmountSpec> {
    prop_oneof![
        1 => Just(AmountSpec::Fixed(0)),
        6 => (1u128..=100).prop_map(AmountSpec::Fixed),
        2 => (0u128..=ALLOCATION * 3 / 2).prop_map(AmountSpec::Fixed),
        1 => Just(AmountSpec::Fixed(u128::MAX)),
        1 => Just(AmountSpec::WholeBalance),
        1 => Just(AmountSpec::BalancePlusOne),
    ]
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        12 => Just(Fault::None),
        2 => prop_oneof![-3i64..=-1, 1i64..=3].prop_map(Fault::NonceOffset),
        1 => Just(Fault::BadSignature),
        1 => Just(Fault::WrongChain),
        1 => Just(Fault::NoFee),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    // Mostly funded senders; the others are unknown until someone pays them.
    let sender = prop_oneof![4 => 0..FUNDED, 1 => FUNDED..KEYS];
    (sender, 0..KEYS + RAW_RECEIVERS, amount_spec(), fault()).prop_map(
        |(sender, receiver, amount, fault)| Op {
            sender,
            receiver,
            amount,
            fault,
        },
    )
}

/// Blocks of operations, each with the milliseconds its clock advances (0 means a lagging
/// clock, which `build_block` lifts to one millisecond after the parent).
fn blocks() -> impl Strategy<Value = Vec<(Vec<Op>, u64)>> {
    prop::collection::vec(
        (
            prop::collection::vec(op(), 0..12),
            prop_oneof![Just(0u64), 1u64..5000],
        ),
        1..6,
    )
}

/// Builds the blocks on `state`, checking every receipt and the whole ledger against the model
/// after each block; returns the blocks with their receipts and app hashes.
fn run_against_model(
    state: &mut State,
    plan: &[(Vec<Op>, u64)],
) -> Result<Vec<(Block, Vec<Receipt>, Hash)>, TestCaseError> {
    let mut model = Model::genesis();
    let mut clock = GENESIS_TIME_MS;
    let mut out = Vec::new();
    for (ops, advance_ms) in plan {
        clock += advance_ms;
        let (txs, expected): (Vec<_>, Vec<_>) = ops.iter().map(|op| model.submit(op)).unzip();
        model.end_block();
        let height = state.height() + 1;
        let parent = state.last_block_hash();
        let time_ms = clock.max(state.meta().last_block_time_ms + 1);
        let (block, applied) = build_block(state, txs, clock, &validator(), Signatures::Verify);
        prop_assert_eq!(&applied.receipts, &expected);
        prop_assert_eq!(block.header.height, height);
        prop_assert_eq!(block.header.parent, parent);
        prop_assert_eq!(block.header.time_ms, time_ms);
        prop_assert_eq!(state.meta().last_block_time_ms, time_ms);
        prop_assert!(block.signature_valid());
        prop_assert_eq!(state.last_block_hash(), block.hash());
        prop_assert_eq!(state.app_hash(), applied.app_hash);
        prop_assert_eq!(block.header.app_hash, applied.app_hash);
        model.check(state)?;
        out.push((block, applied.receipts, applied.app_hash));
    }
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random transfers, good and bad, never mint or burn, and every receipt and balance is what
    /// the model says.
    #[test]
    fn transfers_conserve_supply_and_match_the_model(plan in blocks()) {
        let mut state = genesis_state();
        run_against_model(&mut state, &plan)?;
    }

    /// A transaction that was executed (successfully or not) cannot be executed again: the mempool
    /// check and the block both refuse it as a replay and no balance moves.
    #[test]
    fn replayed_transactions_are_rejected_and_change_nothing(
        history in prop::collection::vec(
            prop::collection::vec((0..FUNDED, 0..FUNDED + 1, 1u128..=400), 1..10),
            1..4,
        ),
        picks in prop::collection::vec(any::<Index>(), 1..8),
        empty_block_between in any::<bool>(),
    ) {
        let mut state = genesis_state();
        let mut nonces = [0u64; FUNDED];
        let mut executed = Vec::new();
        for block in &history {
            let txs: Vec<Transaction> = block
                .iter()
                .map(|&(s, r, amount)| {
                    nonces[s] += 1;
                    transfer(&key(s), nonces[s] - 1, receiver(r), amount)
                })
                .collect();
            let (_, receipts) = next_block(&mut state, txs.clone());
            for (tx, receipt) in txs.into_iter().zip(receipts) {
                // One that could not pay its fee left no trace (and the sender's later ones
                // found a gap); every other one used its nonce up, whatever its outcome.
                let next = state.account(&tx.signer).unwrap().nonce;
                if tx.nonce >= next {
                    continue;
                }
                let ok = matches!(
                    receipt,
                    Receipt::Success | Receipt::Rejected(Rejection::InsufficientFunds { .. })
                );
                prop_assert!(ok, "unexpected receipt {:?}", receipt);
                executed.push((tx, receipt.is_success()));
            }
            for (s, n) in nonces.iter_mut().enumerate() {
                *n = state.account(&key(s).address()).unwrap().nonce;
            }
        }
        prop_assert!(executed.iter().any(|(_, ok)| *ok), "each sender's first transfer succeeds");
        if empty_block_between {
            next_block(&mut state, Vec::new());
        }
        let replays: Vec<Transaction> =
            picks.iter().map(|i| i.get(&executed).0.clone()).collect();
        let expected: Vec<Receipt> = replays
            .iter()
            .map(|tx| {
                let next = state.account(&tx.signer).unwrap().nonce;
                Receipt::Rejected(Rejection::NonceReplayed { next, got: tx.nonce })
            })
            .collect();
        for (tx, receipt) in replays.iter().zip(&expected) {
            let Receipt::Rejected(why) = receipt else { unreachable!() };
            prop_assert_eq!(check_against_state(&state, tx), Err(why.clone()));
        }
        let before = accounts_of(&state);
        let (_, receipts) = next_block(&mut state, replays);
        prop_assert_eq!(receipts, expected);
        prop_assert_eq!(accounts_of(&state), before);
        prop_assert_eq!(state.sum_of_balances(), state.meta().total_supply);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Blocks built on one state and applied, from their wire bytes, to another state from the same
    /// genesis give the same receipts, app hashes and entries; a state restored from those entries
    /// has the same app hash and accepts the next block.
    #[test]
    fn replaying_blocks_reproduces_receipts_hashes_and_state(plan in blocks()) {
        let mut builder = genesis_state();
        let built = run_against_model(&mut builder, &plan)?;
        let mut replica = genesis_state();
        for (block, receipts, app_hash) in &built {
            let wire = Block::from_bytes(&block.to_bytes()).unwrap();
            prop_assert_eq!(&wire, block);
            let applied = apply_block(&mut replica, &wire, Signatures::Verify)
                .map_err(|e| TestCaseError::fail(format!("block {}: {e}", block.header.height)))?;
            prop_assert_eq!(&applied.receipts, receipts);
            prop_assert_eq!(applied.app_hash, *app_hash);
            prop_assert_eq!(replica.app_hash(), *app_hash);
            prop_assert_eq!(replica.last_block_hash(), block.hash());
            prop_assert_eq!(replica.height(), block.header.height);
            prop_assert_eq!(replica.meta().last_block_time_ms, block.header.time_ms);
        }
        prop_assert_eq!(replica.meta(), builder.meta());
        prop_assert_eq!(replica.entries(), builder.entries());
        prop_assert_eq!(replica.app_hash(), builder.app_hash());

        let app_hash = builder.app_hash();
        let mut restored = State::restore(builder.entries(), app_hash, builder.last_block_hash())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(restored.app_hash(), app_hash);
        prop_assert_eq!(restored.entries(), builder.entries());
        prop_assert_eq!(restored.last_block_hash(), builder.last_block_hash());

        // The restored state carries on exactly like the original.
        let tx = transfer(&key(0), builder.account(&key(0).address()).unwrap().nonce, receiver(9), 1);
        let (next, _) = next_block(&mut builder, vec![tx]);
        let applied = apply_block(&mut restored, &next, Signatures::Verify)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(applied.app_hash, builder.app_hash());
        prop_assert_eq!(restored.entries(), builder.entries());
    }
}

/// A committed state and a valid next block for it, built on a sibling copy, with the app hash
/// that block leads to.
struct NextBlock {
    state: State,
    block: Block,
    app_hash_after: Hash,
}

/// A state at height 1 and a block 2 whose transactions create accounts, move money and fail
/// one action, so that refusing it late (after execution) has something to undo.
fn height_one_and_next_block() -> NextBlock {
    let mut state = genesis_state();
    let (_, receipts) = next_block(&mut state, vec![transfer(&key(0), 0, receiver(1), 10)]);
    assert_eq!(receipts, vec![Receipt::Success]);
    let mut sibling = state.clone();
    let txs = vec![
        transfer(&key(1), 0, receiver(KEYS), 25),
        transfer(&key(2), 0, receiver(3), ALLOCATION + 1),
        transfer(&key(0), 1, receiver(FUNDED), 7),
    ];
    let (block, receipts) = next_block(&mut sibling, txs);
    assert_eq!(receipts[0], Receipt::Success);
    assert!(matches!(
        receipts[1],
        Receipt::Rejected(Rejection::InsufficientFunds { .. })
    ));
    assert_eq!(receipts[2], Receipt::Success);
    NextBlock {
        state,
        block,
        app_hash_after: sibling.app_hash(),
    }
}

/// Re-signs `block` after `tamper` changed its header, so only the tampered field is wrong.
fn resealed(block: &Block, tamper: impl FnOnce(&mut depin_core::Header)) -> Block {
    let mut header = block.header.clone();
    tamper(&mut header);
    Block::seal(header, block.txs.clone(), &validator())
}

/// `bad` is refused with `expected`, the state is exactly as before, and the good block then
/// applies and leads where it led on the sibling.
fn assert_refused_without_change(mut next: NextBlock, bad: &Block, expected: BlockError) {
    let entries = next.state.entries();
    let app_hash = next.state.app_hash();
    let last = next.state.last_block_hash();
    let err = apply_block(&mut next.state, bad, Signatures::Verify).unwrap_err();
    assert_eq!(err, expected);
    assert_eq!(next.state.entries(), entries);
    assert_eq!(next.state.app_hash(), app_hash);
    assert_eq!(next.state.last_block_hash(), last);
    let applied = apply_block(&mut next.state, &next.block, Signatures::Verify)
        .expect("the untampered block applies after the refusal");
    assert_eq!(applied.app_hash, next.app_hash_after);
    assert_eq!(next.state.app_hash(), next.app_hash_after);
    assert_eq!(next.state.last_block_hash(), next.block.hash());
    assert_eq!(next.state.sum_of_balances(), next.state.meta().total_supply);
}

#[test]
fn block_with_wrong_height_is_refused_without_change() {
    let next = height_one_and_next_block();
    let bad = resealed(&next.block, |h| h.height = 3);
    assert_refused_without_change(next, &bad, BlockError::Height { current: 1, got: 3 });
    let next = height_one_and_next_block();
    let bad = resealed(&next.block, |h| h.height = 1);
    assert_refused_without_change(next, &bad, BlockError::Height { current: 1, got: 1 });
}

#[test]
fn block_with_wrong_parent_is_refused_without_change() {
    let next = height_one_and_next_block();
    let expected = next.state.last_block_hash();
    let bad = resealed(&next.block, |h| h.parent = Hash([7; 32]));
    assert_refused_without_change(
        next,
        &bad,
        BlockError::Parent {
            expected,
            got: Hash([7; 32]),
        },
    );
}

#[test]
fn block_with_non_increasing_time_is_refused_without_change() {
    for back_ms in [0, 1, BLOCK_INTERVAL_MS] {
        let next = height_one_and_next_block();
        let previous = next.state.meta().last_block_time_ms;
        let bad = resealed(&next.block, |h| h.time_ms = previous - back_ms);
        assert_refused_without_change(
            next,
            &bad,
            BlockError::Time {
                previous,
                got: previous - back_ms,
            },
        );
    }
}

#[test]
fn block_sealed_by_another_key_is_refused_without_change() {
    let next = height_one_and_next_block();
    let intruder = key(0);
    let mut header = next.block.header.clone();
    header.proposer = intruder.address();
    let bad = Block::seal(header, next.block.txs.clone(), &intruder);
    assert!(
        bad.signature_valid(),
        "the intruder's own signature is fine"
    );
    assert_refused_without_change(
        next,
        &bad,
        BlockError::Proposer {
            got: intruder.address().to_string(),
        },
    );
}

#[test]
fn block_with_bad_proposer_signature_is_refused_without_change() {
    // A header changed after sealing.
    let next = height_one_and_next_block();
    let mut bad = next.block.clone();
    bad.header.time_ms += 1;
    assert_refused_without_change(next, &bad, BlockError::Signature);
    // The validator named as proposer, but another key signed.
    let next = height_one_and_next_block();
    let mut bad = Block::seal(next.block.header.clone(), next.block.txs.clone(), &key(0));
    assert_eq!(bad.header.proposer, validator().address());
    assert_refused_without_change(next, &bad, BlockError::Signature);
    // A signature from another block of the same validator.
    let next = height_one_and_next_block();
    bad = next.block.clone();
    bad.signature = resealed(&next.block, |h| h.time_ms += 1).signature;
    assert_refused_without_change(next, &bad, BlockError::Signature);
}

#[test]
fn block_with_too_many_txs_is_refused_without_change() {
    let next = height_one_and_next_block();
    let txs = vec![next.block.txs[0].clone(); MAX_BLOCK_TXS as usize + 1];
    let mut header = next.block.header.clone();
    header.tx_root = Block::tx_root(&txs);
    let bad = Block::seal(header, txs, &validator());
    assert_refused_without_change(
        next,
        &bad,
        BlockError::TooManyTxs {
            got: MAX_BLOCK_TXS as usize + 1,
            max: MAX_BLOCK_TXS as usize,
        },
    );
}

#[test]
fn block_whose_txs_differ_from_tx_root_is_refused_without_change() {
    // A transaction dropped.
    let next = height_one_and_next_block();
    let mut bad = next.block.clone();
    bad.txs.pop();
    assert_refused_without_change(next, &bad, BlockError::TxRoot);
    // The same transactions in another order.
    let next = height_one_and_next_block();
    let mut bad = next.block.clone();
    bad.txs.swap(0, 2);
    assert_refused_without_change(next, &bad, BlockError::TxRoot);
    // A transaction added.
    let next = height_one_and_next_block();
    let mut bad = next.block.clone();
    bad.txs.push(transfer(&key(4), 0, receiver(0), 1));
    assert_refused_without_change(next, &bad, BlockError::TxRoot);
}

#[test]
fn block_with_wrong_receipts_root_is_refused_without_change() {
    let next = height_one_and_next_block();
    let got = next.block.header.receipts_root;
    let bad = resealed(&next.block, |h| h.receipts_root = Hash([1; 32]));
    assert_refused_without_change(
        next,
        &bad,
        BlockError::ReceiptsRoot {
            expected: Hash([1; 32]),
            got,
        },
    );
}

#[test]
fn block_with_wrong_app_hash_is_refused_without_change() {
    let next = height_one_and_next_block();
    let got = next.app_hash_after;
    let bad = resealed(&next.block, |h| h.app_hash = Hash([2; 32]));
    assert_refused_without_change(
        next,
        &bad,
        BlockError::AppHash {
            expected: Hash([2; 32]),
            got,
        },
    );
}

/// A fresh genesis state (height 0, never committed) and a valid block 1 built on a copy.
fn genesis_and_first_block() -> (State, Block, Hash) {
    let state = genesis_state();
    let mut sibling = state.clone();
    let (block, receipts) = next_block(
        &mut sibling,
        vec![
            transfer(&key(0), 0, receiver(FUNDED), 5),
            transfer(&key(1), 0, receiver(2), ALLOCATION + 1),
        ],
    );
    assert_eq!(receipts[0], Receipt::Success);
    (state, block, sibling.app_hash())
}

/// Applies `bad` to a fresh genesis state, expects `expected`, then expects the good block 1 to
/// apply and reach the same app hash as on the sibling.
fn assert_genesis_survives(bad: impl FnOnce(&Block) -> Block, expected: fn(&BlockError) -> bool) {
    let (mut state, block, app_hash) = genesis_and_first_block();
    let entries = state.entries();
    let err = apply_block(&mut state, &bad(&block), Signatures::Verify).unwrap_err();
    assert!(expected(&err), "unexpected error {err:?}");
    assert_eq!(state.entries(), entries);
    let applied = apply_block(&mut state, &block, Signatures::Verify)
        .expect("the untampered first block applies after a refused one");
    assert_eq!(applied.app_hash, app_hash);
}

#[test]
fn genesis_state_survives_a_refused_first_block_with_bad_tx_root() {
    assert_genesis_survives(
        |b| {
            let mut bad = b.clone();
            bad.txs.pop();
            bad
        },
        |e| *e == BlockError::TxRoot,
    );
}

#[test]
fn genesis_state_survives_a_refused_first_block_with_bad_app_hash() {
    assert_genesis_survives(
        |b| resealed(b, |h| h.app_hash = Hash([2; 32])),
        |e| matches!(e, BlockError::AppHash { .. }),
    );
}

/// Regression: the genesis state once left its entries uncommitted, so a `ReceiptsRoot` refusal
/// (which rolls back before staging) dropped them from the Merkle tree and block 1 never applied.
#[test]
fn genesis_state_survives_a_refused_first_block_with_bad_receipts_root() {
    assert_genesis_survives(
        |b| resealed(b, |h| h.receipts_root = Hash([1; 32])),
        |e| matches!(e, BlockError::ReceiptsRoot { .. }),
    );
}

/// Executes `txs` in one block and returns their receipts.
fn receipts(state: &mut State, txs: Vec<Transaction>) -> Vec<Receipt> {
    next_block(state, txs).1
}

fn account(state: &State, i: usize) -> Account {
    *state.account(&key(i).address()).expect("a funded account")
}

#[test]
fn unknown_signer_is_rejected_and_nothing_changes() {
    let mut state = genesis_state();
    let stranger = key(FUNDED);
    let tx = transfer(&stranger, 0, receiver(0), 1);
    let why = Rejection::UnknownAccount {
        address: stranger.address(),
    };
    assert_eq!(check_against_state(&state, &tx), Err(why.clone()));
    let before = accounts_of(&state);
    assert_eq!(receipts(&mut state, vec![tx]), vec![Receipt::Rejected(why)]);
    assert_eq!(accounts_of(&state), before);
    assert!(state.account(&stranger.address()).is_none());
}

#[test]
fn nonce_ahead_of_the_next_is_a_gap_and_nothing_changes() {
    let mut state = genesis_state();
    let tx = transfer(&key(0), 2, receiver(1), 1);
    // The mempool holds future nonces; only the block insists on consecutive ones.
    assert_eq!(check_against_state(&state, &tx), Ok(()));
    let before = accounts_of(&state);
    assert_eq!(
        receipts(&mut state, vec![tx]),
        vec![Receipt::Rejected(Rejection::NonceGap { next: 0, got: 2 })]
    );
    assert_eq!(accounts_of(&state), before);
}

#[test]
fn nonce_already_used_is_a_replay_in_the_same_and_a_later_block() {
    let mut state = genesis_state();
    let first = transfer(&key(0), 0, receiver(1), 10);
    let first_copy = first.clone();
    let same_nonce = transfer(&key(0), 0, receiver(2), 20);
    assert_eq!(
        receipts(&mut state, vec![first, same_nonce.clone()]),
        vec![
            Receipt::Success,
            Receipt::Rejected(Rejection::NonceReplayed { next: 1, got: 0 })
        ]
    );
    let why = Rejection::NonceReplayed { next: 1, got: 0 };
    assert_eq!(check_against_state(&state, &same_nonce), Err(why.clone()));
    let before = accounts_of(&state);
    assert_eq!(
        receipts(&mut state, vec![same_nonce]),
        vec![Receipt::Rejected(why)]
    );
    assert_eq!(accounts_of(&state), before);
    assert_eq!(
        account(&state, 0).balance,
        Amount(ALLOCATION - 10 - fee_of(&first_copy))
    );
}

#[test]
fn zero_amount_is_refused_at_the_door_and_in_a_block_pays_the_fee_and_uses_the_nonce() {
    let mut state = genesis_state();
    let tx = transfer(&key(0), 0, receiver(1), 0);
    // The mempool refuses it before it costs anything ...
    assert_eq!(tx.check_admission(CHAIN_ID), Err(Rejection::ZeroAmount));
    assert_eq!(check_against_state(&state, &tx), Err(Rejection::ZeroAmount));
    // ... and a proposer that includes it anyway makes its sender pay for the space.
    let fee = fee_of(&tx);
    assert_eq!(
        receipts(&mut state, vec![tx]),
        vec![Receipt::Rejected(Rejection::ZeroAmount)]
    );
    assert_eq!(
        account(&state, 0),
        Account {
            balance: Amount(ALLOCATION - fee),
            nonce: 1
        }
    );
    assert_eq!(account(&state, 1).balance, Amount(ALLOCATION));
    // A zero transfer to a new address does not create it.
    let tx = transfer(&key(0), 1, receiver(KEYS), 0);
    assert_eq!(
        receipts(&mut state, vec![tx]),
        vec![Receipt::Rejected(Rejection::ZeroAmount)]
    );
    assert!(state.account(&receiver(KEYS)).is_none());
}

#[test]
fn overspending_is_insufficient_funds_and_uses_up_the_nonce_and_the_fee() {
    let mut state = genesis_state();
    let tx = transfer(&key(0), 0, receiver(1), ALLOCATION + 1);
    let fee = fee_of(&tx);
    assert_eq!(
        check_against_state(&state, &tx),
        Err(Rejection::InsufficientFunds {
            balance: Amount(ALLOCATION),
            needed: Amount(ALLOCATION + 1),
        })
    );
    let why = Rejection::InsufficientFunds {
        balance: Amount(ALLOCATION - fee),
        needed: Amount(ALLOCATION + 1),
    };
    assert_eq!(receipts(&mut state, vec![tx]), vec![Receipt::Rejected(why)]);
    assert_eq!(
        account(&state, 0),
        Account {
            balance: Amount(ALLOCATION - fee),
            nonce: 1
        }
    );
    // The balance seen is the one left by earlier transactions of the same block.
    let spend = transfer(&key(0), 1, receiver(1), 600);
    let again = transfer(&key(0), 2, receiver(2), 600);
    let left = ALLOCATION - fee - fee_of(&spend) - 600 - fee_of(&again);
    assert_eq!(
        receipts(&mut state, vec![spend, again]),
        vec![
            Receipt::Success,
            Receipt::Rejected(Rejection::InsufficientFunds {
                balance: Amount(left),
                needed: Amount(600),
            })
        ]
    );
    assert_eq!(
        account(&state, 0),
        Account {
            balance: Amount(left),
            nonce: 3
        }
    );
    assert_eq!(account(&state, 2).balance, Amount(ALLOCATION));
    assert_eq!(state.sum_of_balances(), state.meta().total_supply);
}

/// What `tx` pays at the minimum base fee (the base fee of these small blocks).
fn fee_of(tx: &Transaction) -> u128 {
    u128::from(fee_for(FeeParams::default().min_base_fee, tx.weight()))
}

#[test]
fn bad_signature_is_rejected_without_using_the_nonce() {
    let mut state = genesis_state();
    let mut forged = transfer(&key(0), 0, receiver(1), 10);
    forged.action = Action::Transfer {
        to: receiver(1),
        amount: Amount(999),
    };
    assert_eq!(
        forged.check_stateless(&network()),
        Err(Rejection::BadSignature)
    );
    let honest = transfer(&key(1), 0, receiver(0), 5);
    let before = account(&state, 0);
    assert_eq!(
        receipts(&mut state, vec![forged, honest]),
        vec![Receipt::Rejected(Rejection::BadSignature), Receipt::Success]
    );
    assert_eq!(
        account(&state, 0),
        Account {
            balance: Amount(before.balance.0 + 5),
            nonce: 0
        }
    );
}

#[test]
fn wrong_chain_is_rejected_before_the_signature_and_nothing_changes() {
    let mut state = genesis_state();
    let action = Action::Transfer {
        to: receiver(1),
        amount: Amount(10),
    };
    let other = elsewhere();
    let elsewhere = Transaction::sign(&other, &key(0), 0, MAX_FEE, action.clone());
    let mut forged_elsewhere = Transaction::sign(&other, &key(1), 0, MAX_FEE, action);
    forged_elsewhere.nonce = 1;
    let why = |got: &str| {
        Receipt::Rejected(Rejection::WrongChain {
            expected: CHAIN_ID.into(),
            got: got.into(),
        })
    };
    let before = accounts_of(&state);
    assert_eq!(
        receipts(&mut state, vec![elsewhere, forged_elsewhere]),
        vec![why(OTHER_CHAIN_ID), why(OTHER_CHAIN_ID)]
    );
    assert_eq!(accounts_of(&state), before);
}
