//! The store persists blocks atomically, reopens at the last commit, and replays to the same state.

use depin_core::genesis::{Allocation, ConsensusParams, TokenParams};
use depin_core::{Action, Amount, Genesis, Keypair, Signatures, Transaction, build_block};
use depin_store::{Store, StoreError, replay_from_genesis};

fn genesis(validator: &Keypair, rich: &Keypair) -> Genesis {
    Genesis {
        chain_id: "depin-store-test".into(),
        genesis_time_ms: 1_000,
        token: TokenParams {
            symbol: "DPN".into(),
            decimals: 6,
        },
        consensus: ConsensusParams {
            block_interval_ms: 100,
            epoch_length_blocks: 10,
            max_block_txs: 100,
            validator: validator.address(),
            validators: Vec::new(),
        },
        allocations: vec![Allocation {
            address: rich.address(),
            amount: "1000".into(),
        }],
        economics: None,
        fees: None,
        modules: Default::default(),
    }
}

#[test]
fn blocks_survive_reopen_and_replay_to_the_committed_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    let validator = Keypair::from_seed([9; 32]);
    let alice = Keypair::from_seed([1; 32]);
    let bob = Keypair::from_seed([2; 32]);
    let g = genesis(&validator, &alice);
    let mut hashes = Vec::new();
    {
        let store = Store::open(&path).unwrap();
        let mut state = store.load_or_init(&g).unwrap();
        for nonce in 0..5u64 {
            let tx = Transaction::sign(
                &g.network(),
                &alice,
                nonce,
                1_000,
                Action::Transfer {
                    to: bob.address(),
                    amount: Amount(10 + nonce as u128),
                },
            );
            hashes.push(tx.hash());
            let (block, applied) = build_block(
                &mut state,
                vec![tx],
                2_000 + nonce,
                &validator,
                Signatures::Verify,
            );
            store.commit_block(&block, &applied).unwrap();
        }
    }
    let store = Store::open(&path).unwrap();
    let mut state = store.load_or_init(&g).unwrap();
    assert_eq!(state.height(), 5);
    assert_eq!(store.height().unwrap(), 5);
    assert_eq!(state.app_hash(), store.app_hash().unwrap());
    assert_eq!(
        store.account(&bob.address()).unwrap().unwrap().balance,
        Amount(10 + 11 + 12 + 13 + 14)
    );
    for (i, h) in hashes.iter().enumerate() {
        let found = store.transaction(h).unwrap().unwrap();
        assert_eq!(found.height, i as u64 + 1);
        assert!(found.receipt.is_success());
    }
    let report = replay_from_genesis(&store, &g).unwrap();
    assert_eq!(report.blocks, 5);
    assert_eq!(report.txs, 5);
    assert_eq!(report.app_hash, state.app_hash());
}

#[test]
fn a_store_refuses_another_networks_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    let validator = Keypair::from_seed([9; 32]);
    let alice = Keypair::from_seed([1; 32]);
    let store = Store::open(&path).unwrap();
    store.load_or_init(&genesis(&validator, &alice)).unwrap();
    let mut other = genesis(&validator, &alice);
    other.chain_id = "another".into();
    assert!(matches!(
        store.load_or_init(&other),
        Err(StoreError::WrongGenesis { .. })
    ));
}

#[test]
fn out_of_order_blocks_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let validator = Keypair::from_seed([9; 32]);
    let alice = Keypair::from_seed([1; 32]);
    let g = genesis(&validator, &alice);
    let store = Store::open(&dir.path().join("chain.redb")).unwrap();
    let mut state = store.load_or_init(&g).unwrap();
    let (b1, a1) = build_block(&mut state, vec![], 5_000, &validator, Signatures::Verify);
    let (b2, a2) = build_block(&mut state, vec![], 6_000, &validator, Signatures::Verify);
    assert!(matches!(
        store.commit_block(&b2, &a2),
        Err(StoreError::OutOfOrder { height: 0, got: 2 })
    ));
    store.commit_block(&b1, &a1).unwrap();
    store.commit_block(&b2, &a2).unwrap();
}

/// A block of `n` transfers from `from` (nonces from `nonce`) to fresh accounts derived from
/// `seed`: many new state entries a block.
fn transfers(
    g: &Genesis,
    from: &Keypair,
    nonce: u64,
    n: u64,
    seed: u64,
) -> Vec<depin_core::Transaction> {
    (0..n)
        .map(|i| {
            let mut s = [7u8; 32];
            s[..8].copy_from_slice(&(seed * 1_000 + i).to_le_bytes());
            Transaction::sign(
                &g.network(),
                from,
                nonce + i,
                1_000,
                Action::Transfer {
                    to: Keypair::from_seed(s).address(),
                    amount: Amount(1 + i as u128),
                },
            )
        })
        .collect()
}

/// Every state entry the store answers, through each of its read paths.
fn reads(store: &Store, probe: &depin_core::Address) -> (depin_store::Entries, Vec<u8>) {
    let all = store.state_prefix(&[], usize::MAX).unwrap();
    let ranged = store.state_range(&[0], &[0xff], usize::MAX).unwrap();
    assert_eq!(all, ranged);
    let account = store.account(probe).unwrap().unwrap();
    let key = depin_core::state::StateKey::Account(*probe).to_bytes();
    let entry = store.state_entry(&key).unwrap().unwrap();
    assert_eq!(depin_core::Account::from_bytes(&entry).unwrap(), account);
    (all, entry)
}

use depin_core::{Decode, State};
use depin_store::CheckpointPolicy;

/// Never checkpoints on its own.
const NEVER: CheckpointPolicy = CheckpointPolicy {
    blocks: u64::MAX,
    bytes: usize::MAX,
    steps: 1,
};

/// A temporary directory, the store's path in it, the funded key and the genesis of the tests
/// that commit [`commit_blocks`] (the directory must outlive the store).
fn fresh_chain() -> (tempfile::TempDir, std::path::PathBuf, Keypair, Genesis) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    let alice = Keypair::from_seed([1; 32]);
    let g = genesis(&Keypair::from_seed([9; 32]), &alice);
    (dir, path, alice, g)
}

/// Commits `blocks` blocks of transfers; returns the state's entries after each.
fn commit_blocks(store: &Store, state: &mut State, g: &Genesis, alice: &Keypair, blocks: u64) {
    let validator = Keypair::from_seed([9; 32]);
    for b in 0..blocks {
        let nonce = state.account(&alice.address()).map_or(0, |a| a.nonce);
        let height = state.height();
        let txs = transfers(g, alice, nonce, 20, height);
        let (block, applied) = build_block(
            state,
            txs,
            10_000 + height * 100 + b,
            &validator,
            Signatures::Verify,
        );
        assert!(applied.receipts.iter().all(|r| r.is_success()));
        store.commit_block(&block, &applied).unwrap();
    }
}

#[test]
fn a_crash_before_the_checkpoint_or_after_a_partial_one_restores_the_same_state() {
    let (_dir, path, alice, g) = fresh_chain();
    let (hash, entries, reads_before) = {
        let store = Store::open_with(&path, NEVER).unwrap();
        let mut state = store.load_or_init(&g).unwrap();
        commit_blocks(&store, &mut state, &g, &alice, 6);
        // Nothing was applied to the state table: every block waits, and reads see them all.
        assert_eq!(store.pending_blocks(), 6);
        let r = reads(&store, &alice.address());
        assert_eq!(r.0, state.entries());
        // The process dies here (every commit was durable; nothing else is written).
        (state.app_hash(), state.entries(), r)
    };
    // Restart with only pending sets: the same state and app hash.
    let store = Store::open_with(&path, NEVER).unwrap();
    assert_eq!(store.pending_blocks(), 6);
    let mut state = store.load_or_init(&g).unwrap();
    assert_eq!(state.app_hash(), hash);
    assert_eq!(state.entries(), entries);
    assert_eq!(reads(&store, &alice.address()), reads_before);
    // A checkpoint of the oldest three, then the process dies: the rest still waits.
    store.checkpoint_upto(3).unwrap();
    assert_eq!(store.pending_blocks(), 3);
    assert_eq!(reads(&store, &alice.address()), reads_before);
    drop(store);
    let store = Store::open_with(&path, NEVER).unwrap();
    assert_eq!(store.pending_blocks(), 3);
    let mut state = store.load_or_init(&g).unwrap();
    assert_eq!(state.app_hash(), hash);
    assert_eq!(reads(&store, &alice.address()), reads_before);
    // The chain goes on from there; a full checkpoint leaves nothing pending.
    commit_blocks(&store, &mut state, &g, &alice, 2);
    store.checkpoint().unwrap();
    assert_eq!(store.pending_blocks(), 0);
    let (hash, entries) = (state.app_hash(), state.entries());
    assert_eq!(reads(&store, &alice.address()).0, entries);
    drop(store);
    let store = Store::open_with(&path, NEVER).unwrap();
    let mut state = store.load_or_init(&g).unwrap();
    assert_eq!(state.app_hash(), hash);
    assert_eq!(state.height(), 8);
    let report = replay_from_genesis(&store, &g).unwrap();
    assert_eq!(report.app_hash, hash);
}

#[test]
fn checkpoints_by_block_count_keep_reads_and_restarts_exact() {
    let (_dir, path, alice, g) = fresh_chain();
    let policy = CheckpointPolicy {
        blocks: 3,
        steps: 1,
        ..NEVER
    };
    let store = Store::open_with(&path, policy).unwrap();
    let mut state = store.load_or_init(&g).unwrap();
    for block in 1..=7u64 {
        commit_blocks(&store, &mut state, &g, &alice, 1);
        // A checkpoint runs with every third block.
        assert_eq!(store.pending_blocks() as u64, block % 3);
        assert_eq!(reads(&store, &alice.address()).0, state.entries());
        let view = store.snapshot(g.params()).unwrap();
        assert_eq!(
            depin_core::StateRead::read_meta(&view).height,
            state.height()
        );
        view.finish().unwrap();
    }
    let hash = state.app_hash();
    drop(store);
    let store = Store::open_with(&path, policy).unwrap();
    assert_eq!(store.pending_blocks(), 1);
    assert_eq!(store.load_or_init(&g).unwrap().app_hash(), hash);
}

#[test]
fn a_checkpoint_in_steps_keeps_reads_and_restarts_exact_between_them() {
    let (_dir, path, alice, g) = fresh_chain();
    let policy = CheckpointPolicy {
        blocks: 3,
        steps: 3,
        ..NEVER
    };
    let mut store = Store::open_with(&path, policy).unwrap();
    let mut state = store.load_or_init(&g).unwrap();
    let mut waited = Vec::new();
    for block in 1..=14u64 {
        commit_blocks(&store, &mut state, &g, &alice, 1);
        waited.push(store.pending_blocks());
        // Every read, between any two steps, is the state after the block.
        assert_eq!(
            reads(&store, &alice.address()).0,
            state.entries(),
            "{block}"
        );
        if block % 5 == 0 {
            // Closed (and opened again) between two steps of a checkpoint.
            drop(store);
            store = Store::open_with(&path, policy).unwrap();
            let mut restored = store.load_or_init(&g).unwrap();
            assert_eq!(restored.app_hash(), state.app_hash(), "{block}");
            assert_eq!(restored.entries(), state.entries(), "{block}");
        }
    }
    // Checkpoints ran (blocks were taken out), spread over commits (more than the policy's 3
    // blocks waited while one was applied), and never let the wait grow past its bound.
    assert!(waited.windows(2).any(|w| w[1] < w[0]), "{waited:?}");
    assert!(waited.iter().any(|&n| n > 3), "{waited:?}");
    assert!(waited.iter().all(|&n| n <= 3 + 3), "{waited:?}");
    store.checkpoint().unwrap();
    assert_eq!(store.pending_blocks(), 0);
    assert_eq!(reads(&store, &alice.address()).0, state.entries());
    let report = replay_from_genesis(&store, &g).unwrap();
    assert_eq!(report.app_hash, state.app_hash());
}

/// Set in the child process of [`a_sigkill_at_any_point_of_commits_and_checkpoints_loses_no_block`]:
/// the store it writes to.
const CHILD_VAR: &str = "DEPIN_STORE_TEST_CRASH_CHILD";

/// The child: commits blocks of transfers onto the store at `$CHILD_VAR` (a checkpoint due every
/// other block, applied over two commits) and prints each committed height and app hash, until
/// killed.
#[test]
fn crash_child_commits_until_killed() {
    let Ok(path) = std::env::var(CHILD_VAR) else {
        return; // Only the crash test runs it, as a child process.
    };
    let validator = Keypair::from_seed([9; 32]);
    let alice = Keypair::from_seed([1; 32]);
    let g = genesis(&validator, &alice);
    let policy = CheckpointPolicy {
        blocks: 2,
        steps: 2,
        ..NEVER
    };
    let store = Store::open_with(std::path::Path::new(&path), policy).unwrap();
    let mut state = store.load_or_init(&g).unwrap();
    loop {
        commit_blocks(&store, &mut state, &g, &alice, 1);
        println!("committed {} {}", state.height(), state.app_hash());
    }
}

#[test]
fn a_sigkill_at_any_point_of_commits_and_checkpoints_loses_no_block() {
    use std::io::{BufRead, BufReader};
    let (_dir, path, _, g) = fresh_chain();
    let mut reported: Vec<(u64, String)> = Vec::new();
    for round in 0..4u64 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_child_commits_until_killed", "--nocapture"])
            .env(CHILD_VAR, &path)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // A different number of blocks each round, so the kill lands at different points of
        // the commit and checkpoint cycle.
        let mut seen = 0;
        while seen < 5 + round * 3 {
            let line = lines.next().expect("the child commits").unwrap();
            if let Some(rest) = line.strip_prefix("committed ") {
                let (h, hash) = rest.split_once(' ').unwrap();
                reported.push((h.parse().unwrap(), hash.to_string()));
                seen += 1;
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let store = Store::open(&path).unwrap();
        let mut state = store.load_or_init(&g).unwrap();
        // Every block reported committed is there, with the app hash reported then.
        let (last, _) = reported.last().unwrap().clone();
        assert!(store.height().unwrap() >= last, "round {round}");
        for (h, hash) in &reported {
            let header = store
                .header(*h)
                .unwrap()
                .expect("a reported block is stored");
            assert_eq!(&header.app_hash.to_string(), hash, "block {h}");
        }
        assert_eq!(state.app_hash(), store.app_hash().unwrap());
        replay_from_genesis(&store, &g).unwrap();
    }
}
