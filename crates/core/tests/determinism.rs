//! The same blocks give the same app hashes in every build: a fixed sequence of blocks
//! (transfers, oracle prices, credit purchases, beacons and witness reports, usage receipts and
//! two epoch closes) is run and every block's app hash is compared with the pinned list in
//! `determinism.golden`.
//!
//! `cargo test` runs it in a debug build (overflow checks on) and CI runs it again with
//! `--release` (wrapping arithmetic, other inlining and float code generation): both compare with
//! the same file, so a release build that computes any consensus value differently fails here.
//! After a deliberate consensus change, re-pin with
//! `DEPIN_BLESS_GOLDEN=1 cargo test -p depin-core --test determinism`, then check that the
//! release build agrees: `cargo test --release -p depin-core --test determinism`.

mod common;

use std::fmt::Write as _;

use common::*;
use depin_core::economics::EconomyView;
use depin_core::services::demand::actions::UsageReceipt;
use depin_core::{Action, Amount, Keypair, Receipt, Transaction};

const GOLDEN: &str = "tests/determinism.golden";

/// Every transaction this file builds itself (the rest come from `common`'s `Net::tx`).
fn signed(key: &Keypair, nonce: u64, action: Action) -> Transaction {
    let network = demand_genesis(1, |_| {}).network();
    Transaction::sign(&network, key, nonce, MAX_FEE, action)
}

/// The fixed run: a 3 x 3 grid of hotspots for two epochs, and each beacon window an oracle
/// price, a credit purchase, transfers between the owner and the fleet operator with uneven
/// amounts, and usage receipts from the fleet to every hotspot.
fn run() -> Net {
    let mut net = Net::new(demand_genesis(1, |_| {}));
    let a = price_action(&net, HALF_DOLLAR);
    assert_eq!(net.send(&oracle(0), a), Receipt::Success);
    assert_eq!(
        net.send(&fleet(), buy(500 * TOKEN, &fleet())),
        Receipt::Success
    );
    let keys = grid_hotspots(3);
    let mut window = 0u64;
    let mut last_end = net.genesis.genesis_time_ms;
    run_honest_network(net, 3, 2, &[], |net, _| {
        // Prices that move, so every epoch's conversions round differently.
        let price = HALF_DOLLAR + window * 1_234_567 - (window % 3) * 2_000_001;
        let mut txs = vec![net.tx(&oracle(0), price_action(net, price))];
        let mut fleet_nonce = net.nonce(&fleet());
        let mut by_fleet = |action| {
            fleet_nonce += 1;
            signed(&fleet(), fleet_nonce - 1, action)
        };
        txs.push(by_fleet(buy(
            TOKEN + u128::from(window) * 333_333,
            &fleet(),
        )));
        txs.push(by_fleet(Action::Transfer {
            to: owner().address(),
            amount: Amount(1_000_003 * u128::from(window + 1)),
        }));
        let end = net.time_ms;
        for (i, k) in keys.iter().enumerate() {
            let packets = (window * 7 + i as u64 * 13) % 50 + 1;
            let r =
                UsageReceipt::signed(CHAIN_ID, &fleet(), k, last_end, end, packets, packets * 24);
            txs.push(by_fleet(Action::from(r)));
        }
        last_end = end;
        txs.push(net.tx(
            &owner(),
            Action::Transfer {
                to: fleet().address(),
                amount: Amount(777_777 + u128::from(window)),
            },
        ));
        let receipts = net.block(txs);
        assert!(
            receipts.iter().all(|r| *r == Receipt::Success),
            "window {window}: every transaction of the run succeeds: {receipts:?}"
        );
        window += 1;
    })
}

/// One line per block: height and the app hash in its header; then the final state's.
fn app_hashes(net: &mut Net) -> String {
    let mut out = String::new();
    for b in &net.blocks {
        writeln!(out, "{} {}", b.header.height, b.header.app_hash).expect("writing to a string");
    }
    writeln!(out, "final {}", net.state.app_hash()).expect("writing to a string");
    out
}

#[test]
fn the_same_blocks_give_the_pinned_app_hashes_in_this_build() {
    let mut net = run();
    // The run reaches what it is meant to exercise: two closed epochs that paid both pools.
    for epoch in 0..2 {
        let s = net
            .state
            .epoch_summary(epoch)
            .unwrap_or_else(|| panic!("epoch {epoch} closed"));
        assert!(
            s.paid.0 > 0 && s.demand_paid.0 > 0,
            "epoch {epoch} paid both pools: {s:?}"
        );
        assert!(counter(&s, "coverage", "witnesses") > 0, "{s:?}");
        epoch_is_conserved(&s);
    }
    net.replays_identically();

    let got = app_hashes(&mut net);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    if std::env::var_os("DEPIN_BLESS_GOLDEN").is_some() {
        std::fs::write(&path, &got).expect("writing the golden app hashes");
        return;
    }
    let want = std::fs::read_to_string(&path).expect("reading the golden app hashes");
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    if let Some((i, (w, g))) = want
        .lines()
        .zip(got.lines())
        .enumerate()
        .find(|(_, (w, g))| w != g)
    {
        panic!(
            "this {build} build's app hashes differ from {GOLDEN} first at line {} (pinned `{w}`, computed `{g}`). If consensus changed on purpose, re-pin with DEPIN_BLESS_GOLDEN=1 and check the other build agrees; otherwise this build computes a consensus value differently",
            i + 1
        );
    }
    assert_eq!(
        want.lines().count(),
        got.lines().count(),
        "this {build} build ran a different number of blocks than {GOLDEN} pins"
    );
}
