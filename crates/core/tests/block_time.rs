//! Block time is bounded above: at most `MAX_BLOCK_TIME_STEP_MS` after the parent's.

use depin_core::exec::MAX_BLOCK_TIME_STEP_MS;
use depin_core::{
    Block, BlockError, Genesis, Keypair, Signatures, State, apply_block, build_block,
};

const GENESIS_MS: u64 = 1_700_000_000_000;

fn validator() -> Keypair {
    Keypair::from_seed([9; 32])
}

fn genesis() -> Genesis {
    let mut g = Genesis::solo("depin-time-test", validator().address(), &[]);
    g.genesis_time_ms = GENESIS_MS;
    g.consensus.max_block_txs = 10;
    g
}

#[test]
fn a_block_at_most_one_step_ahead_is_accepted() {
    let mut producer = State::genesis(&genesis()).unwrap();
    let (block, _) = build_block(
        &mut producer,
        Vec::new(),
        GENESIS_MS + MAX_BLOCK_TIME_STEP_MS,
        &validator(),
        Signatures::Verify,
    );
    assert_eq!(block.header.time_ms, GENESIS_MS + MAX_BLOCK_TIME_STEP_MS);
    let mut replica = State::genesis(&genesis()).unwrap();
    apply_block(&mut replica, &block, Signatures::Verify).unwrap();
}

#[test]
fn a_producer_whose_clock_runs_far_ahead_advances_one_step() {
    let mut producer = State::genesis(&genesis()).unwrap();
    let (block, _) = build_block(
        &mut producer,
        Vec::new(),
        GENESIS_MS + 365 * 24 * MAX_BLOCK_TIME_STEP_MS,
        &validator(),
        Signatures::Verify,
    );
    assert_eq!(block.header.time_ms, GENESIS_MS + MAX_BLOCK_TIME_STEP_MS);
}

#[test]
fn a_block_further_ahead_is_refused_and_changes_nothing() {
    let mut producer = State::genesis(&genesis()).unwrap();
    let (honest, _) = build_block(
        &mut producer,
        Vec::new(),
        GENESIS_MS + 1000,
        &validator(),
        Signatures::Verify,
    );
    for late_ms in [MAX_BLOCK_TIME_STEP_MS + 1, u64::MAX - GENESIS_MS] {
        let mut header = honest.header.clone();
        header.time_ms = GENESIS_MS + late_ms;
        let block = Block::seal(header, Vec::new(), &validator());
        let mut replica = State::genesis(&genesis()).unwrap();
        let root = replica.app_hash();
        assert_eq!(
            apply_block(&mut replica, &block, Signatures::Verify).unwrap_err(),
            BlockError::TimeTooFarAhead {
                previous: GENESIS_MS,
                got: GENESIS_MS + late_ms,
            }
        );
        assert_eq!(replica.app_hash(), root);
        assert_eq!(replica.height(), 0);
    }
}
