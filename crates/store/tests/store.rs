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
