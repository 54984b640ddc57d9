//! Networks that run different sets of modules: coverage alone, demand with coverage, and the
//! device registry with demand and no proof module. Whatever runs, money is conserved after every
//! block (supply = genesis + minted - burned = sum of balances) and every epoch mints its emission
//! and re-mint or leaves them unminted; actions of a module the network does not run are refused
//! and change nothing but the signer's nonce.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use depin_core::economics::{EconomyView, EpochSummary};
use depin_core::genesis::Allocation;
use depin_core::module::Module;
use depin_core::modules::coverage::actions::{AssertLocation, Location};
use depin_core::modules::coverage::device::CoverageView;
use depin_core::modules::coverage::{Coverage, preset};
use depin_core::services::demand::Demand;
use depin_core::services::demand::actions::{DelegateCredits, SetOracle, UsageReceipt};
use depin_core::services::devices::{RetireDevice, SetDenylist};
use depin_core::state::StateKey;
use depin_core::{
    Account, Action, Amount, Genesis, Keypair, Receipt, Rejection, Signatures, Transaction,
    build_block,
};
use proptest::prelude::*;

/// Hotspots the runs onboard, at most.
const SPOTS: u8 = 6;

fn spot_key(i: u8) -> Keypair {
    hotspot(30 + i)
}

/// Hotspot `i`'s place on a 2 km grid three wide.
fn spot(i: u8) -> Location {
    at(f64::from(i / 3) * 2_000.0, f64::from(i % 3) * 2_000.0)
}

/// Neighbours on the grid (diagonals too) hear each other.
fn near(a: u8, b: u8) -> bool {
    let (x, y) = (spot(a), spot(b));
    (x.lat_udeg - y.lat_udeg).abs() < 30_000 && (x.lon_udeg - y.lon_udeg).abs() < 50_000
}

fn payer(i: u8) -> Keypair {
    if i.is_multiple_of(2) {
        fleet()
    } else {
        router()
    }
}

/// The test network with the modules asked for (the device registry always runs), coverage's
/// pool weight if given, the demand re-mint share, and every key the runs sign with funded.
fn module_genesis(coverage: bool, demand: bool, weight: Option<u32>, remint_bps: u32) -> Genesis {
    let mut g = demand_genesis(1, |g| {
        g.modules.demand.as_mut().unwrap().remint_bps = remint_bps;
    });
    if !demand {
        // Coverage then charges its fees in tokens.
        g.modules.demand = None;
        let c = g.modules.coverage.as_mut().unwrap();
        c.onboard_fee = "10".into();
        c.location_fee = "5".into();
    }
    if !coverage {
        g.modules.coverage = None;
    }
    if let (true, Some(w)) = (coverage, weight) {
        let e = g.economics.as_mut().unwrap();
        e.pool_weights.insert("coverage".into(), w);
    }
    let owner = g
        .allocations
        .iter_mut()
        .find(|a| a.address == owner().address())
        .unwrap();
    owner.amount = "100000".into();
    // The oracle signs prices whether or not the network runs demand.
    g.allocations.push(Allocation {
        address: oracle(0).address(),
        amount: "1".into(),
    });
    g
}

/// One step of activity.
#[derive(Clone, Debug)]
enum Op {
    /// The oracle submits a price (USD, 8 decimals).
    Price(u64),
    /// The owner onboards the next hotspot.
    Onboard,
    /// A beacon window: every hotspot beacons, then witnesses its neighbours.
    Window,
    Buy {
        who: u8,
        tokens: u128,
    },
    /// The fleet delegates credits to the router.
    Delegate(u128),
    Traffic {
        payer: u8,
        device: u8,
        packets: u64,
    },
    Transfer(u128),
    Retire(u8),
    Deny(u8, bool),
    Pass(u8),
}

/// A network driven by [`Op`]s, remembering which hotspots are on it.
struct Run {
    net: Net,
    coverage: bool,
    demand: bool,
    /// Hotspots onboarded and not retired.
    live: Vec<u8>,
    next_spot: u8,
    /// End of the last settled receipt per (payer, device).
    last_end: BTreeMap<(u8, u8), u64>,
}

impl Run {
    fn new(g: Genesis) -> Run {
        let net = Net::new(g);
        let p = &net.state.params().modules;
        assert!(p.devices.is_some(), "the device registry runs everywhere");
        Run {
            coverage: p.coverage.is_some(),
            demand: p.demand.is_some(),
            net,
            live: Vec::new(),
            next_spot: 0,
            last_end: BTreeMap::new(),
        }
    }

    /// A receipt for an action of `module`: refused as disabled exactly when the network does
    /// not run it.
    fn expect(&self, module: &str, r: &Receipt) {
        let on = match module {
            "coverage" => self.coverage,
            "demand" => self.demand,
            _ => true,
        };
        if on {
            assert!(!code(r).ends_with("_disabled"), "{module}: {r:?}");
        } else {
            assert_eq!(code(r), format!("{module}_disabled"), "{r:?}");
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Price(price) => {
                let a = price_action(&self.net, price);
                let r = self.net.send(&oracle(0), a);
                self.expect("demand", &r);
            }
            Op::Onboard => {
                if self.next_spot >= SPOTS {
                    return;
                }
                let i = self.next_spot;
                let a = self
                    .net
                    .onboard_action(&spot_key(i), "EU868", Some(spot(i)));
                let r = self.net.send(&owner(), a);
                self.expect("coverage", &r);
                if r == Receipt::Success {
                    self.live.push(i);
                    self.next_spot += 1;
                }
            }
            Op::Window => self.window(),
            Op::Buy { who, tokens } => {
                let k = payer(who);
                let r = self.net.send(&k, buy(tokens, &k));
                self.expect("demand", &r);
            }
            Op::Delegate(credits) => {
                let a = Action::from(DelegateCredits {
                    payer: router().address(),
                    credits,
                });
                let r = self.net.send(&fleet(), a);
                self.expect("demand", &r);
            }
            Op::Traffic {
                payer: p,
                device,
                packets,
            } => {
                let (p, d) = (p % 2, device % SPOTS);
                let start = self
                    .last_end
                    .get(&(p, d))
                    .copied()
                    .unwrap_or(self.net.genesis.genesis_time_ms);
                let end = self.net.time_ms;
                let r = UsageReceipt::signed(
                    CHAIN_ID,
                    &payer(p),
                    &spot_key(d),
                    start,
                    end,
                    packets,
                    packets * 20,
                );
                let r = self.net.send(&fleet(), Action::from(r));
                self.expect("demand", &r);
                if r == Receipt::Success {
                    self.last_end.insert((p, d), end);
                }
            }
            Op::Transfer(amount) => {
                let a = Action::Transfer {
                    to: fleet().address(),
                    amount: Amount(amount),
                };
                self.net.send(&owner(), a);
            }
            Op::Retire(i) => {
                let i = i % SPOTS;
                let a = Action::from(RetireDevice {
                    device: spot_key(i).address(),
                });
                let r = self.net.send(&owner(), a);
                self.expect("devices", &r);
                if r == Receipt::Success {
                    self.live.retain(|&x| x != i);
                }
            }
            Op::Deny(i, denied) => {
                let a = Action::from(SetDenylist {
                    device: spot_key(i % SPOTS).address(),
                    denied,
                });
                let r = self.net.send(&governor(), a);
                assert_eq!(r, Receipt::Success, "the governor sets the denylist");
            }
            Op::Pass(blocks) => {
                for _ in 0..blocks {
                    self.net.block(vec![]);
                }
            }
        }
    }

    /// One beacon window: every live hotspot beacons, then witnesses its live neighbours.
    fn window(&mut self) {
        let (w, e) = self.net.next_window();
        let sent = self.net.time_ms;
        if !self.coverage {
            // Nothing can be onboarded; a beacon is refused as such.
            let r = self.net.send(&owner(), beacon(&owner(), w, &e, sent));
            self.expect("coverage", &r);
            return;
        }
        if self.live.is_empty() {
            return;
        }
        // Reveal the beacons of window w - REVEAL_LAG (their entropy is in their record), and
        // beacon.
        let mut txs: Vec<Transaction> = Vec::new();
        for &i in &self.live {
            let k = spot_key(i);
            let mut nonce = self.net.nonce(&k);
            let old = w.checked_sub(REVEAL_LAG);
            if let Some((r, record)) =
                old.and_then(|r| Some((r, self.net.state.beacon(r, &k.address())?)))
            {
                txs.push(self.net.tx_at(&k, nonce, reveal(&k, r, &record.entropy)));
                nonce += 1;
            }
            txs.push(self.net.tx_at(&k, nonce, beacon(&k, w, &e, sent)));
        }
        for r in self.net.block(txs) {
            self.expect("coverage", &r);
        }
        let mut txs = Vec::new();
        for &wi in &self.live {
            let mut nonce = self.net.nonce(&spot_key(wi));
            for &bi in &self.live {
                if wi == bi || !near(wi, bi) {
                    continue;
                }
                let report = witness(
                    &spot_key(bi),
                    &spot_key(wi),
                    spot(bi),
                    spot(wi),
                    w,
                    &e,
                    sent,
                );
                txs.push(self.net.tx_at(&spot_key(wi), nonce, Action::from(report)));
                nonce += 1;
            }
        }
        for r in self.net.block(txs) {
            self.expect("coverage", &r);
        }
    }

    /// Produces empty blocks up to the close of epoch `epochs - 1` at least (the next close
    /// after the last block), and returns how many epochs closed.
    fn finish(&mut self, epochs: u64) -> u64 {
        let epochs = epochs.max(self.net.state.height().div_ceil(EPOCH_BLOCKS));
        while self.net.state.height() < epochs * EPOCH_BLOCKS {
            self.net.block(vec![]);
        }
        epochs
    }
}

/// Checks every closed epoch's summary and returns them: each conserves its emission and
/// re-mint, names the proof modules the network runs, has per-module pools that add up, and
/// together they account for every token minted.
fn closed_epochs(run: &Run, epochs: u64) -> Vec<EpochSummary> {
    let state = &run.net.state;
    let proof: Vec<&str> = if run.coverage {
        vec![Coverage::NAME]
    } else {
        vec![]
    };
    let mut minted = 0u128;
    let mut out = Vec::new();
    for epoch in 0..epochs {
        let s = state.epoch_summary(epoch).expect("the epoch closed");
        assert_eq!(s.epoch, epoch);
        assert_eq!(s.height, (epoch + 1) * EPOCH_BLOCKS);
        epoch_is_conserved(&s);
        assert!(s.demand_pool <= s.demand_cap, "{s:?}");
        let names: Vec<&str> = s.modules.iter().map(|m| m.module.as_str()).collect();
        assert_eq!(names, proof);
        let mut pools = s.treasury.0;
        for m in &s.modules {
            assert_eq!(m.bootstrap_pool.0 + m.demand_pool.0, m.pool.0, "{m:?}");
            assert!(
                m.paid.0 + m.demand_paid.0 + m.unminted.0 <= m.pool.0,
                "{m:?}"
            );
            pools += m.pool.0;
        }
        if s.modules.iter().all(|m| m.weight == 0) {
            // No proof module, or none with weight: the suppliers' share has nobody to go to.
            assert_eq!((s.paid, s.demand_paid, s.dust), Default::default());
            assert_eq!(s.unminted.0, s.emission.0 + s.reminted.0 - s.treasury.0);
        } else {
            assert_eq!(
                pools,
                s.emission.0 + s.reminted.0,
                "the treasury and the module pools split the epoch's rewards: {s:?}"
            );
        }
        if !run.demand {
            assert_eq!(
                (s.reminted, s.demand_pool, s.price),
                (Amount::ZERO, Amount::ZERO, None)
            );
        }
        minted += s.paid.0 + s.demand_paid.0 + s.dust.0 + s.treasury.0;
        out.push(s);
    }
    assert_eq!(
        state.meta().minted.0,
        minted,
        "every token minted is in an epoch summary"
    );
    out
}

/// A few epochs of activity of every kind on `g`'s network.
fn scripted_run(g: Genesis, epochs: u64) -> (Run, Vec<EpochSummary>) {
    let mut run = Run::new(g);
    run.apply(&Op::Price(HALF_DOLLAR));
    for _ in 0..4 {
        run.apply(&Op::Onboard);
    }
    run.apply(&Op::Buy {
        who: 0,
        tokens: 20 * TOKEN,
    });
    run.apply(&Op::Delegate(200_000));
    let mut round = 0u64;
    while run.net.state.height() + 2 * BEACON_INTERVAL < epochs * EPOCH_BLOCKS {
        run.apply(&Op::Price(HALF_DOLLAR + round * 1_000_000));
        run.apply(&Op::Window);
        run.apply(&Op::Traffic {
            payer: round as u8,
            device: (round % 3) as u8,
            packets: 500 + round,
        });
        run.apply(&Op::Transfer(u128::from(round) + 1));
        if round.is_multiple_of(4) {
            run.apply(&Op::Buy {
                who: 1,
                tokens: TOKEN / 2,
            });
        }
        if round == 9 {
            run.apply(&Op::Retire(3));
        }
        round += 1;
    }
    let epochs = run.finish(epochs);
    let summaries = closed_epochs(&run, epochs);
    run.net.replays_identically();
    (run, summaries)
}

#[test]
fn a_coverage_only_network_conserves_money_and_pays_proven_work() {
    let (run, s) = scripted_run(module_genesis(true, false, None, 0), 3);
    assert!(!run.demand && run.coverage);
    for e in &s {
        assert!(counter(e, "coverage", "beacons") > 0, "{e:?}");
        assert!(counter(e, "coverage", "witnesses") > 0, "{e:?}");
        assert!(e.paid.0 > 0 && e.devices_paid >= 3, "{e:?}");
        assert_eq!(e.demand_paid, Amount::ZERO);
    }
    assert!(
        run.net.state.meta().burned.0 > 0,
        "onboarding fees burn tokens"
    );
}

#[test]
fn a_demand_and_coverage_network_conserves_money_and_pays_work_and_service() {
    let (run, s) = scripted_run(module_genesis(true, true, None, 2_500), 3);
    assert!(run.demand && run.coverage);
    for e in &s {
        assert!(counter(e, "coverage", "beacons") > 0, "{e:?}");
        assert!(e.paid.0 > 0, "{e:?}");
        assert!(e.credits_on_data > 0 && e.demand_paid.0 > 0, "{e:?}");
    }
    assert!(s.iter().any(|e| e.reminted.0 > 0), "{s:?}");
}

#[test]
fn a_devices_and_demand_network_without_a_proof_module_conserves_money() {
    let (run, s) = scripted_run(module_genesis(false, true, None, 2_500), 3);
    assert!(run.demand && !run.coverage);
    assert!(run.live.is_empty(), "nothing can be onboarded");
    for e in &s {
        assert!(e.treasury.0 > 0 && e.unminted.0 > 0, "{e:?}");
        assert_eq!(e.credits_on_data, 0, "no device to pay for service");
    }
    assert!(
        s.iter().any(|e| e.tokens_burned.0 > 0 && e.reminted.0 > 0),
        "{s:?}"
    );
    assert!(run.net.state.meta().burned.0 > 0, "credits were bought");
}

/// The signer's account before and after, and the state next to the same block without the
/// transaction: only the signer's nonce moved.
fn refused_as_disabled(net: &mut Net, signer: &Keypair, action: Action, module: u8, code_: &str) {
    let mut sibling = net.state.clone();
    let before: Account = *net.state.account(&signer.address()).unwrap();
    let r = net.send(signer, action);
    assert_eq!(r, Receipt::Rejected(Rejection::ModuleDisabled { module }));
    assert_eq!(code(&r), code_);
    let Receipt::Rejected(why) = &r else {
        unreachable!()
    };
    assert!(why.to_string().contains("runs no"), "{why}");
    build_block(
        &mut sibling,
        vec![],
        net.time_ms,
        &validator(),
        Signatures::Verify,
    );
    assert_eq!(
        net.state.account(&signer.address()),
        Some(&Account {
            balance: before.balance,
            nonce: before.nonce + 1
        })
    );
    let theirs: BTreeMap<_, _> = sibling.entries().into_iter().collect();
    let ours: BTreeMap<_, _> = net.state.entries().into_iter().collect();
    let changed: BTreeSet<&Vec<u8>> = theirs
        .keys()
        .chain(ours.keys())
        .filter(|k| theirs.get(*k) != ours.get(*k))
        .collect();
    assert_eq!(
        changed,
        BTreeSet::from([&StateKey::Account(signer.address()).to_bytes()]),
        "only the signer's account (its nonce) changed"
    );
}

fn coverage_actions(net: &Net) -> Vec<Action> {
    let sent = net.time_ms;
    let e = net.state.last_block_hash();
    vec![
        net.onboard_action(&spot_key(0), "EU868", Some(preset::BERLIN)),
        Action::from(AssertLocation {
            device: spot_key(0).address(),
            location: preset::BERLIN,
            gain_cdbi: GAIN_CDBI,
            elevation_m: 5,
        }),
        beacon(&owner(), 0, &e, sent),
        Action::from(witness(
            &spot_key(1),
            &owner(),
            spot(1),
            spot(0),
            0,
            &e,
            sent,
        )),
    ]
}

fn demand_actions(net: &Net) -> Vec<Action> {
    vec![
        price_action(net, HALF_DOLLAR),
        Action::from(SetOracle {
            oracle: fleet().address(),
            authorised: true,
        }),
        buy(TOKEN, &owner()),
        Action::from(DelegateCredits {
            payer: router().address(),
            credits: 10,
        }),
        Action::from(UsageReceipt::signed(
            CHAIN_ID,
            &fleet(),
            &spot_key(0),
            net.genesis.genesis_time_ms,
            net.time_ms,
            5,
            0,
        )),
    ]
}

#[test]
fn actions_of_a_module_the_network_does_not_run_are_refused_and_change_only_the_nonce() {
    // The device registry alone.
    let mut net = Net::new(module_genesis(false, false, None, 0));
    net.block(vec![]);
    for a in coverage_actions(&net) {
        refused_as_disabled(&mut net, &owner(), a, Coverage::ID, "coverage_disabled");
    }
    for a in demand_actions(&net) {
        refused_as_disabled(&mut net, &owner(), a, Demand::ID, "demand_disabled");
    }
    // The registry runs everywhere: its actions are checked, not refused as disabled.
    let retire = Action::from(RetireDevice {
        device: spot_key(0).address(),
    });
    assert_eq!(code(&net.send(&owner(), retire)), "unknown_device");

    // Coverage without demand.
    let mut net = Net::new(module_genesis(true, false, None, 0));
    net.block(vec![]);
    for a in demand_actions(&net) {
        refused_as_disabled(&mut net, &owner(), a, Demand::ID, "demand_disabled");
    }

    // Demand without a proof module.
    let mut net = Net::new(module_genesis(false, true, None, 0));
    net.block(vec![]);
    for a in coverage_actions(&net) {
        refused_as_disabled(&mut net, &owner(), a, Coverage::ID, "coverage_disabled");
    }
    net.replays_identically();
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (1_000_000u64..500_000_000).prop_map(Op::Price),
        3 => Just(Op::Onboard),
        4 => Just(Op::Window),
        1 => (0u8..2, 0u128..50 * TOKEN).prop_map(|(who, tokens)| Op::Buy { who, tokens }),
        1 => (0u128..2_000_000).prop_map(Op::Delegate),
        4 => (0u8..2, 0u8..4, 0u64..300_000).prop_map(|(payer, device, packets)| {
            Op::Traffic {
                payer,
                device,
                packets,
            }
        }),
        1 => (0u128..1_000 * TOKEN).prop_map(Op::Transfer),
        1 => (0u8..SPOTS).prop_map(Op::Retire),
        1 => (0u8..SPOTS, any::<bool>()).prop_map(|(i, d)| Op::Deny(i, d)),
        1 => (1u8..30).prop_map(Op::Pass),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Whichever modules run, whatever happens on the network and however the suppliers' share
    /// is weighted: tokens are conserved after every block, every epoch mints exactly its
    /// emission and re-mint or leaves them unminted, and every token minted is in a summary.
    #[test]
    fn money_is_conserved_whatever_modules_run(
        coverage in any::<bool>(),
        demand in any::<bool>(),
        weight in prop_oneof![Just(None), (0u32..3).prop_map(Some), (1u32..1_000).prop_map(Some)],
        remint_bps in 0u32..=10_000,
        ops in proptest::collection::vec(op(), 1..50),
    ) {
        let mut run = Run::new(module_genesis(coverage, demand, weight, remint_bps));
        prop_assert_eq!((run.coverage, run.demand), (coverage, demand));
        // A price and credits to start from (the ops may bring more).
        run.apply(&Op::Price(HALF_DOLLAR));
        run.apply(&Op::Buy { who: 0, tokens: 20 * TOKEN });
        for op in &ops {
            run.apply(op);
        }
        let epochs = run.finish(2);
        let summaries = closed_epochs(&run, epochs);
        for s in &summaries {
            let weights: Vec<u32> = s.modules.iter().map(|m| m.weight).collect();
            prop_assert_eq!(weights, if coverage { vec![weight.unwrap_or(1)] } else { vec![] });
            if coverage && weight == Some(0) {
                // Every proof module weighs nothing: the suppliers' share is not minted.
                prop_assert_eq!(s.paid.0 + s.demand_paid.0, 0);
            }
            let remint = s.tokens_burned.0 * u128::from(remint_bps) / 10_000;
            prop_assert_eq!(s.reminted.0, if demand { remint } else { 0 });
        }
    }
}

#[test]
fn every_module_set_s_genesis_round_trips_through_toml() {
    for (coverage, demand) in [(true, true), (true, false), (false, true), (false, false)] {
        let g = module_genesis(coverage, demand, Some(3).filter(|_| coverage), 100);
        let text = g.to_toml();
        let back = Genesis::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, g);
        assert_eq!(back.hash(), g.hash());
        assert_eq!(
            back.params().modules.enabled().len(),
            1 + usize::from(coverage) + usize::from(demand),
            "the device registry, and the modules with a section"
        );
    }
}
