//! The state transition: `(state, block) -> state'`, and the admission checks the mempool shares.

use rayon::prelude::*;
use thiserror::Error;

use crate::amount::Amount;
use crate::block::{Block, Header, MAX_CONSENSUS_BYTES, Receipt};
use crate::crypto::{Address, Hash, Keypair};
use crate::genesis::Params;
use crate::merkle::list_root;
use crate::module::{BlockContext, TxContext};
use crate::modules::Prepared;
use crate::rejection::Rejection;
use crate::services::fees;
use crate::state::{Account, State, StateRead, WriteSet};
use crate::tx::{Action, Transaction};

/// Longest a block's time may run ahead of its parent's, in milliseconds (two days). Time is the
/// state machine's only clock (receipt and price staleness, beacon windows); without a bound one
/// proposer could move it years ahead in one block and expire everything pending. A chain that
/// was halted for longer catches up by at most this much per block. (Two days rather than an
/// hour while tests still jump a day in one block.)
pub const MAX_BLOCK_TIME_STEP_MS: u64 = 2 * 24 * 60 * 60 * 1000;

/// Whether [`apply_block`] must check transaction signatures itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signatures {
    /// Verify every signature (replay, blocks from other validators).
    Verify,
    /// The caller verified them already (the solo driver's own mempool did, in batches).
    AlreadyVerified,
}

/// A block that was applied: its receipts and the state entries it changed.
#[derive(Debug)]
pub struct Applied {
    /// Hashes of the block's transactions, in order (computed once, for the root and the index).
    pub tx_hashes: Vec<Hash>,
    pub receipts: Vec<Receipt>,
    pub writes: WriteSet,
    pub app_hash: Hash,
}

/// Why a block cannot follow the current state. The state is unchanged when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BlockError {
    #[error("block height {got} does not follow height {current}")]
    Height { current: u64, got: u64 },
    #[error("block's parent {got} is not the last block {expected}")]
    Parent { expected: Hash, got: Hash },
    #[error("block time {got} ms is not after the previous block time {previous} ms")]
    Time { previous: u64, got: u64 },
    #[error(
        "block time {got} ms is more than {MAX_BLOCK_TIME_STEP_MS} ms after the previous block time {previous} ms"
    )]
    TimeTooFarAhead { previous: u64, got: u64 },
    #[error("block is proposed by {got}, which is not in the validator set")]
    Proposer { got: String },
    #[error("header's base fee {got} is not the state's base fee {expected}")]
    BaseFee { expected: u64, got: u64 },
    #[error("header's consensus data is {got} bytes, more than the limit of {MAX_CONSENSUS_BYTES}")]
    ConsensusData { got: usize },
    #[error("block's parent {0} is neither the last finalized block nor a pending block")]
    UnknownParent(Hash),
    #[error("block {0} is not pending: verify or propose it before finalizing it")]
    NotPending(Hash),
    #[error("proposer's signature over the header does not verify")]
    Signature,
    #[error("block carries {got} transactions, more than the limit of {max}")]
    TooManyTxs { got: usize, max: usize },
    #[error(
        "block's transactions weigh {weight} in {bytes} bytes, more than the limits of {max_weight} weight and {max_bytes} bytes"
    )]
    TooHeavy {
        weight: u64,
        bytes: u64,
        max_weight: u64,
        max_bytes: u64,
    },
    #[error("header's tx_root does not match the block's transactions")]
    TxRoot,
    #[error("header's receipts_root {expected} differs from execution's {got}")]
    ReceiptsRoot { expected: Hash, got: Hash },
    #[error("header's app_hash {expected} differs from execution's {got}")]
    AppHash { expected: Hash, got: Hash },
}

/// Checks a transaction against the committed state, as the mempool does at the door: the nonce
/// is not already used and the signer can pay. Signature and chain checks are separate
/// ([`Transaction::check_envelope`], batch verification).
pub fn check_against_state(state: &State, tx: &Transaction) -> Result<(), Rejection> {
    check_against_account(state.account(&tx.signer), tx)
}

/// [`check_against_state`] given the signer's committed account (`None` if it has none).
pub fn check_against_account(account: Option<&Account>, tx: &Transaction) -> Result<(), Rejection> {
    let Some(account) = account else {
        return Err(Rejection::UnknownAccount { address: tx.signer });
    };
    if tx.nonce < account.nonce {
        return Err(Rejection::NonceReplayed {
            next: account.nonce,
            got: tx.nonce,
        });
    }
    check_action(account, &tx.action)
}

fn check_action(account: &Account, action: &Action) -> Result<(), Rejection> {
    match action {
        Action::Transfer { amount, .. } => {
            if amount.is_zero() {
                return Err(Rejection::ZeroAmount);
            }
            if account.balance < *amount {
                return Err(Rejection::InsufficientFunds {
                    balance: account.balance,
                    needed: *amount,
                });
            }
            Ok(())
        }
        // Module actions are checked against the state when they execute; at the door only
        // the envelope, signature and nonce are.
        Action::Module(_) => Ok(()),
    }
}

/// Executes one transaction whose signature verdict is `signature_ok` (and whose action's
/// co-signatures, if any, were found valid in the block's batch when `co_signed`), charging its
/// fee at the block's `base_fee`.
///
/// A transaction that fails before its nonce is checked (chain, signature, unknown signer, wrong
/// nonce) changes nothing. One that fails in its action still uses up its nonce, so it cannot be
/// replayed and the signer's later transactions are not stuck behind it.
fn execute(
    state: &mut State,
    tx: &Transaction,
    weight: u64,
    (signature_ok, co_signed): (bool, bool),
    prepared: Option<Prepared>,
    ctx: BlockContext,
    base_fee: u64,
) -> Receipt {
    let chain_id = &state.params().chain_id;
    if let Err(r) = tx.check_envelope(chain_id) {
        return Receipt::Rejected(r);
    }
    if !signature_ok {
        return Receipt::Rejected(Rejection::BadSignature);
    }
    let Some(sender) = state.account(&tx.signer).copied() else {
        return Receipt::Rejected(Rejection::UnknownAccount { address: tx.signer });
    };
    if tx.nonce != sender.nonce {
        return Receipt::Rejected(if tx.nonce < sender.nonce {
            Rejection::NonceReplayed {
                next: sender.nonce,
                got: tx.nonce,
            }
        } else {
            Rejection::NonceGap {
                next: sender.nonce,
                got: tx.nonce,
            }
        });
    }
    // The fee is checked before anything changes (a transaction that cannot pay leaves no
    // trace, like one with a bad signature), then paid whatever the action's outcome: a failing
    // action costs what it cost the network.
    let fee = match fees::plan_tx_weighed(&*state, tx, weight, base_fee, ctx.time_ms) {
        Ok(fee) => fee,
        Err(r) => return Receipt::Rejected(r),
    };
    fees::pay_tx(state, fee, ctx).expect("plan_tx checked the payer can pay");
    let mut sender = state
        .account(&tx.signer)
        .copied()
        .expect("the signer's account exists");
    sender.nonce += 1;
    let outcome = check_action(&sender, &tx.action).and_then(|()| match &tx.action {
        Action::Transfer { to, amount } => transfer(state, &mut sender, tx, *to, *amount),
        _ => {
            state.put_account(tx.signer, sender);
            let Action::Module(action) = &tx.action else {
                unreachable!("transfers are handled above")
            };
            let tx_ctx = TxContext {
                signer: &tx.signer,
                co_signed,
                block: ctx,
            };
            crate::modules::execute(state, tx_ctx, action, prepared)
        }
    });
    match outcome {
        Ok(()) => Receipt::Success,
        Err(r) => {
            state.put_account(tx.signer, sender);
            Receipt::Rejected(r)
        }
    }
}

fn transfer(
    state: &mut State,
    sender: &mut Account,
    tx: &Transaction,
    to: crate::crypto::Address,
    amount: Amount,
) -> Result<(), Rejection> {
    if to == tx.signer {
        state.put_account(tx.signer, *sender);
        return Ok(());
    }
    // Credit first: if the receiver would overflow, the sender must not have been debited.
    let mut receiver = state.account(&to).copied().unwrap_or_default();
    receiver.balance = receiver
        .balance
        .checked_add(amount)
        .ok_or(Rejection::BalanceOverflow)?;
    sender.balance = sender
        .balance
        .checked_sub(amount)
        .expect("check_action ensured the balance covers the amount");
    state.put_account(tx.signer, *sender);
    state.put_account(to, receiver);
    Ok(())
}

fn execute_all(
    state: &mut State,
    txs: &[Transaction],
    weights: &[u64],
    signatures: Signatures,
    (time_ms, proposer, consensus): (u64, &Address, &[u8]),
) -> Vec<Receipt> {
    let verdicts: Vec<bool> = match signatures {
        Signatures::AlreadyVerified => vec![true; txs.len()],
        Signatures::Verify => crate::tx::verify_signatures(&state.meta().genesis_hash, txs),
    };
    let co_signed = crate::tx::verify_co_signatures(&state.network(), txs);
    // The modules' preparation of every action on all cores, from the state as the block found
    // it (the prepared reads are re-done for keys an earlier transaction writes).
    let prepared: Vec<Option<Prepared>> = {
        let state = &*state;
        txs.par_iter()
            .map(|tx| match &tx.action {
                Action::Module(action) => crate::modules::prepare(state, action),
                Action::Transfer { .. } => None,
            })
            .collect()
    };
    let ctx = BlockContext {
        height: state.height() + 1,
        time_ms,
    };
    let base_fee = state.meta().base_fee;
    // Downtime the consensus record shows, on the parent's validator set (before an epoch's
    // first block can change it).
    crate::services::governance::liveness::note_block(state, proposer, consensus, ctx.height);
    crate::modules::begin_block(state, ctx);
    let receipts = txs
        .iter()
        .zip(weights)
        .zip(verdicts.into_iter().zip(co_signed))
        .zip(prepared)
        .map(|(((tx, &weight), ok), prepared)| {
            execute(state, tx, weight, ok, prepared, ctx, base_fee)
        })
        .collect();
    crate::modules::end_block(state, ctx);
    crate::epoch::close_if_due(state, ctx);
    let used = weights.iter().sum();
    let next = fees::next_base_fee(&state.params().fees, base_fee, used);
    state.meta_mut().base_fee = next;
    receipts
}

/// What a block's transactions weigh and take in bytes, checked against the genesis limits;
/// each transaction's weight (execution charges by it).
pub fn check_block_limits(params: &Params, txs: &[Transaction]) -> Result<Vec<u64>, BlockError> {
    let max = params.max_block_txs as usize;
    if txs.len() > max {
        return Err(BlockError::TooManyTxs {
            got: txs.len(),
            max,
        });
    }
    let weights: Vec<u64> = txs.iter().map(Transaction::weight).collect();
    let weight: u64 = weights.iter().sum();
    let bytes: u64 = txs.iter().map(|t| t.encoded_len() as u64).sum();
    let p = &params.fees;
    if weight > p.max_block_weight || bytes > p.max_block_bytes {
        return Err(BlockError::TooHeavy {
            weight,
            bytes,
            max_weight: p.max_block_weight,
            max_bytes: p.max_block_bytes,
        });
    }
    Ok(weights)
}

fn advance(state: &mut State, height: u64, time_ms: u64) {
    let meta = state.meta_mut();
    meta.height = height;
    meta.last_block_time_ms = time_ms;
}

/// Executes the next block from `txs` as the proposer and stages its state changes without
/// committing them: the caller commits ([`State::commit`], as [`build_block`] does) or rolls
/// back (a driver keeping the block pending). `consensus` is what the consensus engine records
/// in the header (empty for the solo driver).
///
/// The block time is raised to one millisecond after the parent if the clock lags behind it, and
/// lowered to [`MAX_BLOCK_TIME_STEP_MS`] after the parent if the clock is further ahead.
pub fn stage_block(
    state: &mut State,
    txs: Vec<Transaction>,
    time_ms: u64,
    proposer: &Keypair,
    consensus: Vec<u8>,
    signatures: Signatures,
) -> (Block, Applied) {
    let (block, mut applied) = seal_block(state, txs, time_ms, proposer, consensus, signatures);
    applied.writes = state.staged_writes();
    (block, applied)
}

/// [`stage_block`] without the copy of its write set (`Applied::writes` is left empty): for
/// [`build_block`], whose commit hands over the staged writes themselves.
fn seal_block(
    state: &mut State,
    txs: Vec<Transaction>,
    time_ms: u64,
    proposer: &Keypair,
    consensus: Vec<u8>,
    signatures: Signatures,
) -> (Block, Applied) {
    let weights = check_block_limits(state.params(), &txs)
        .unwrap_or_else(|e| panic!("the driver must reap within the block limits: {e}"));
    assert!(
        consensus.len() <= MAX_CONSENSUS_BYTES,
        "the consensus engine's header data is bounded"
    );
    let height = state.height() + 1;
    let parent_ms = state.meta().last_block_time_ms;
    let time_ms = time_ms.clamp(
        parent_ms.saturating_add(1),
        parent_ms.saturating_add(MAX_BLOCK_TIME_STEP_MS),
    );
    let tx_hashes: Vec<Hash> = txs.iter().map(Transaction::hash).collect();
    let base_fee = state.meta().base_fee;
    let receipts = execute_all(
        state,
        &txs,
        &weights,
        signatures,
        (time_ms, &proposer.address(), &consensus),
    );
    advance(state, height, time_ms);
    let app_hash = state.stage();
    let header = Header {
        height,
        parent: state.last_block_hash(),
        time_ms,
        proposer: proposer.address(),
        tx_root: list_root(&tx_hashes),
        receipts_root: Receipt::root(&receipts),
        app_hash,
        base_fee,
        consensus,
    };
    let block = Block::seal(header, txs, proposer);
    (
        block,
        Applied {
            tx_hashes,
            receipts,
            writes: Vec::new(),
            app_hash,
        },
    )
}

/// Builds the next block from `txs` as the proposer, applies it, and commits the state.
pub fn build_block(
    state: &mut State,
    txs: Vec<Transaction>,
    time_ms: u64,
    proposer: &Keypair,
    signatures: Signatures,
) -> (Block, Applied) {
    let (block, mut applied) = seal_block(state, txs, time_ms, proposer, Vec::new(), signatures);
    let (app_hash, writes) = state.commit();
    debug_assert_eq!(app_hash, applied.app_hash);
    applied.writes = writes;
    state.set_last_block_hash(block.hash());
    (block, applied)
}

/// Checks and executes a block received from elsewhere (or replayed from the store), staging
/// its state changes without committing them. On error the state is left exactly as it was.
pub fn check_block(
    state: &mut State,
    block: &Block,
    signatures: Signatures,
) -> Result<Applied, BlockError> {
    let h = &block.header;
    let meta = state.meta();
    if h.height != meta.height + 1 {
        return Err(BlockError::Height {
            current: meta.height,
            got: h.height,
        });
    }
    if h.parent != state.last_block_hash() {
        return Err(BlockError::Parent {
            expected: state.last_block_hash(),
            got: h.parent,
        });
    }
    if h.time_ms <= meta.last_block_time_ms {
        return Err(BlockError::Time {
            previous: meta.last_block_time_ms,
            got: h.time_ms,
        });
    }
    if h.time_ms - meta.last_block_time_ms > MAX_BLOCK_TIME_STEP_MS {
        return Err(BlockError::TimeTooFarAhead {
            previous: meta.last_block_time_ms,
            got: h.time_ms,
        });
    }
    if !state.validators().iter().any(|v| v.address == h.proposer) {
        return Err(BlockError::Proposer {
            got: h.proposer.to_string(),
        });
    }
    if h.base_fee != meta.base_fee {
        return Err(BlockError::BaseFee {
            expected: meta.base_fee,
            got: h.base_fee,
        });
    }
    if h.consensus.len() > MAX_CONSENSUS_BYTES {
        return Err(BlockError::ConsensusData {
            got: h.consensus.len(),
        });
    }
    if !block.signature_valid() {
        return Err(BlockError::Signature);
    }
    let weights = check_block_limits(state.params(), &block.txs)?;
    let tx_hashes: Vec<Hash> = block.txs.iter().map(Transaction::hash).collect();
    if list_root(&tx_hashes) != h.tx_root {
        return Err(BlockError::TxRoot);
    }
    let receipts = execute_all(
        state,
        &block.txs,
        &weights,
        signatures,
        (h.time_ms, &h.proposer, &h.consensus),
    );
    let receipts_root = Receipt::root(&receipts);
    if receipts_root != h.receipts_root {
        state.rollback();
        return Err(BlockError::ReceiptsRoot {
            expected: h.receipts_root,
            got: receipts_root,
        });
    }
    advance(state, h.height, h.time_ms);
    let app_hash = state.stage();
    if app_hash != h.app_hash {
        state.rollback();
        return Err(BlockError::AppHash {
            expected: h.app_hash,
            got: app_hash,
        });
    }
    Ok(Applied {
        tx_hashes,
        receipts,
        writes: state.staged_writes(),
        app_hash,
    })
}

/// Applies a block received from elsewhere (or replayed from the store), checking everything,
/// and commits it. On error the state is left exactly as it was.
pub fn apply_block(
    state: &mut State,
    block: &Block,
    signatures: Signatures,
) -> Result<Applied, BlockError> {
    let mut applied = check_block(state, block, signatures)?;
    let (app_hash, writes) = state.commit();
    debug_assert_eq!(app_hash, applied.app_hash);
    applied.writes = writes;
    state.set_last_block_hash(block.hash());
    Ok(applied)
}
