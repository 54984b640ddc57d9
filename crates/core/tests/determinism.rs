//! The same blocks give the same app hashes in every build: a fixed sequence of blocks
//! (transfers, oracle prices, credit purchases, beacons and witness reports, usage receipts, a
//! dashcam's bundles of frames and two epoch closes) is run and every block's app hash is compared with the pinned list in
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

use common::mapping::{cam, drive};
use common::*;
use depin_core::economics::EconomyView;
use depin_core::modules::coverage::preset::BERLIN;
use depin_core::modules::mapping::actions::{
    Location, OnboardDashcam, SubmitBundle, sign_onboarding,
};
use depin_core::modules::mapping::preset::single_region;
use depin_core::services::demand::actions::UsageReceipt;
use depin_core::{Action, Amount, Genesis, Keypair, Receipt, Transaction};

const GOLDEN: &str = "tests/determinism.golden";

/// The network of the run: coverage, demand, and mapping around Berlin.
fn golden_genesis() -> Genesis {
    demand_genesis(1, |g| {
        let mut mapping = single_region(BERLIN);
        // With a demand section, onboarding is paid in credits.
        mapping.onboard_fee = "0".into();
        g.modules.mapping = Some(mapping);
    })
}

/// Every transaction this file builds itself (the rest come from `common`'s `Net::tx`).
fn signed(key: &Keypair, nonce: u64, action: Action) -> Transaction {
    Transaction::sign(&golden_genesis().network(), key, nonce, MAX_FEE, action)
}

/// A dashcam driving east at 10 m/s through Berlin, one frame a second: each window's bundle
/// goes on from where and when the last one stopped, up to a second before the block, with
/// images and perceptual hashes of its own.
struct Car {
    next: Location,
    next_ms: u64,
    seq: u64,
}

impl Car {
    fn bundle(&mut self, net: &Net) -> Action {
        let n = ((net.time_ms - 1_000).saturating_sub(self.next_ms) / 1_000 + 1).min(60) as usize;
        let frames = drive(self.next, self.next_ms, n, 1_000, 900 + self.seq);
        let (last, before) = (frames[n - 1], frames[n.saturating_sub(2)]);
        self.next = Location {
            lat_udeg: last.lat_udeg,
            lon_udeg: last.lon_udeg + (last.lon_udeg - before.lon_udeg).max(1),
        };
        self.next_ms = last.time_ms + 1_000;
        let b = SubmitBundle::signed(&net.state.network(), &cam(0), self.seq, frames);
        self.seq += 1;
        Action::from(b)
    }
}

/// The fixed run: a 3 x 3 grid of hotspots for two epochs, and each beacon window an oracle
/// price, a credit purchase, transfers between the owner and the fleet operator with uneven
/// amounts, usage receipts from the fleet to every hotspot, and a dashcam's bundle of frames.
fn run() -> Net {
    let mut net = Net::new(golden_genesis());
    let a = price_action(&net, HALF_DOLLAR);
    assert_eq!(net.send(&oracle(0), a), Receipt::Success);
    assert_eq!(
        net.send(&fleet(), buy(500 * TOKEN, &fleet())),
        Receipt::Success
    );
    // The dashcam's onboarding is paid in credits.
    assert_eq!(
        net.send(&owner(), buy(10 * TOKEN, &owner())),
        Receipt::Success
    );
    let onboard = Action::from(OnboardDashcam {
        device: cam(0).address(),
        device_signature: sign_onboarding(CHAIN_ID, &owner().address(), &cam(0)),
    });
    assert_eq!(net.send(&owner(), onboard), Receipt::Success);
    let keys = grid_hotspots(3);
    let mut window = 0u64;
    let mut car = Car {
        next: BERLIN,
        next_ms: net.time_ms - 20_000,
        seq: 0,
    };
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
        let bundle = car.bundle(net);
        txs.push(net.tx(&cam(0), bundle));
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
        assert!(counter(&s, "mapping", "frames_paid") > 0, "{s:?}");
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
