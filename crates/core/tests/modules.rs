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
use depin_core::modules::compute::{Compute, ComputeView, actions as compute};
use depin_core::modules::coverage::actions::{AssertLocation, Location};
use depin_core::modules::coverage::device::CoverageView;
use depin_core::modules::coverage::{Coverage, preset};
use depin_core::services::demand::Demand;
use depin_core::services::demand::actions::{DelegateCredits, SetOracle, UsageReceipt};
use depin_core::services::demand::records::{credits_key, tally_key};
use depin_core::services::devices::{RetireDevice, SetDenylist};
use depin_core::state::StateKey;
use depin_core::{
    Account, Action, Amount, Genesis, Hash, Keypair, Receipt, Rejection, Signatures, Transaction,
    build_block,
};
use proptest::prelude::*;

/// Hotspots the runs onboard, at most.
const SPOTS: u8 = 6;

/// Compute provider `i`'s device key.
fn compute_key(i: u8) -> Keypair {
    hotspot(60 + i)
}

/// The compute section of the runs: short timeouts and a cheap capacity challenge.
fn compute_params() -> depin_core::modules::compute::ComputeGenesis {
    depin_core::modules::compute::ComputeGenesis {
        claim_timeout_blocks: 5,
        reveal_timeout_blocks: 5,
        approval_timeout_blocks: 10,
        max_job_blocks: 500,
        challenge_window_blocks: 3,
        challenge_hashes_per_score: 4,
        ..Default::default()
    }
}

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
        let d = g.modules.demand.as_mut().unwrap();
        // The re-mint takes its headroom from the demand cap (the self-dealing bound).
        (d.remint_bps, d.demand_cap_bps) = (remint_bps, 10_000 - remint_bps);
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
    // The oracle signs (and pays for) prices whether or not the network runs demand; a demand
    // genesis funds it already.
    if !g
        .allocations
        .iter()
        .any(|a| a.address == oracle(0).address())
    {
        g.allocations.push(Allocation {
            address: oracle(0).address(),
            amount: "10".into(),
        });
    }
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
    /// One step of a compute job's life (see [`Run::compute_step`]).
    Compute(u8),
    /// The owner locks, unbonds or withdraws stake, or its stake is slashed (governance).
    Stake(u8, u128),
}

/// A network driven by [`Op`]s, remembering which hotspots are on it.
struct Run {
    net: Net,
    coverage: bool,
    demand: bool,
    compute: bool,
    governance: bool,
    /// Compute providers registered.
    providers: u8,
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
            compute: p.compute.is_some(),
            governance: p.governance.is_some(),
            providers: 0,
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
            "compute" => self.compute,
            "governance" => self.governance,
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
                // governor() is the emergency key where governance runs, the only key that
                // may change the denylist without a proposal; without governance nobody may.
                let r = self.net.send(&governor(), a);
                if self.governance {
                    assert_eq!(r, Receipt::Success, "the emergency key sets the denylist");
                } else {
                    assert_eq!(code(&r), "not_emergency_key");
                }
            }
            Op::Pass(blocks) => {
                for _ in 0..blocks {
                    self.net.block(vec![]);
                }
            }
            Op::Compute(step) => self.compute_step(step),
            Op::Stake(step, tokens) => {
                use depin_core::services::governance::actions::{
                    LockStake, UnbondStake, WithdrawStake,
                };
                use depin_core::services::governance::{SlashRule, slash_account};
                let a = match step % 4 {
                    0 => Action::from(LockStake {
                        amount: Amount(tokens),
                    }),
                    1 => Action::from(UnbondStake {
                        amount: Amount(tokens / 2),
                    }),
                    2 => Action::from(WithdrawStake {}),
                    _ => {
                        // Slashed outside a transaction, as a module's or consensus' rule does.
                        let h = self.net.state.height();
                        let evidence =
                            depin_core::Hash::tagged("modules-test", &[&h.to_be_bytes()]);
                        slash_account(
                            &mut self.net.state,
                            &owner().address(),
                            SlashRule::StorageDeal,
                            evidence,
                            h,
                        );
                        self.net.supply_is_consistent();
                        return;
                    }
                };
                let r = self.net.send(&owner(), a);
                self.expect("governance", &r);
            }
        }
    }

    /// A step of compute activity: the owner registers providers (staking credits), the fleet
    /// posts approval-mode jobs, providers claim, commit and reveal, the fleet approves, the
    /// providers answer the capacity challenge, and anyone closes the latest job.
    fn compute_step(&mut self, step: u8) {
        let job = self.net.state.next_job_id().saturating_sub(1);
        let providers = self.providers;
        let device = |i: u8| compute_key(i);
        let result = |t: u32| Hash::tagged("frame", &[&t.to_le_bytes()]);
        let salt = Hash::tagged("salt", &[]);
        let mut sends: Vec<(Keypair, Action)> = Vec::new();
        match step % 6 {
            0 if providers < 3 => {
                let k = owner();
                self.net.send(&k, buy(120 * TOKEN, &k));
                let d = device(providers);
                sends.push((
                    owner(),
                    Action::from(compute::RegisterProvider {
                        device: d.address(),
                        class: compute::ProcessorClass::Gpu,
                        benchmark: 10,
                        stake: 1_000_000,
                        device_signature: compute::sign_onboarding(CHAIN_ID, &k.address(), &d),
                    }),
                ));
            }
            1 => sends.push((
                fleet(),
                Action::from(compute::PostJob {
                    spec_hash: Hash::tagged("scene", &[]),
                    tasks: 3,
                    unit: compute::Unit::Frame,
                    units_per_task: 1,
                    price_per_unit: 10_000,
                    deadline_height: self.net.state.height() + 60,
                    min_tier: 0,
                    mode: compute::VerifyMode::Approval,
                    canary_commitment: None,
                }),
            )),
            2 => {
                for i in 0..providers {
                    let t = u32::from(i);
                    let d = device(i);
                    let commitment =
                        compute::result_commitment(job, t, &d.address(), &result(t), &salt);
                    sends.push((device(i), Action::from(compute::ClaimTask { job, task: t })));
                    sends.push((
                        d,
                        Action::from(compute::CommitResult {
                            job,
                            task: t,
                            commitment,
                            tag: compute::result_tag(job, t, &result(t)),
                        }),
                    ));
                }
            }
            3 => {
                for i in 0..providers {
                    let t = u32::from(i);
                    sends.push((
                        device(i),
                        Action::from(compute::RevealResult {
                            job,
                            task: t,
                            result: result(t),
                            salt,
                        }),
                    ));
                }
                sends.push((
                    fleet(),
                    Action::from(compute::JudgeTasks {
                        job,
                        tasks: vec![0],
                        approve: true,
                    }),
                ));
            }
            4 => {
                for i in 0..providers {
                    let seed_height = self.net.state.height();
                    let d = device(i);
                    let seed = ComputeView::entropy(&self.net.state, seed_height - 1);
                    let Some(seed) = seed else { continue };
                    let target = compute::challenge_target(10, 4);
                    let nonces = compute::solve_challenge(&seed, &d.address(), target, 16);
                    sends.push((
                        d,
                        Action::from(compute::AnswerChallenge {
                            seed_height: seed_height - 1,
                            nonces,
                        }),
                    ));
                }
            }
            _ => sends.push((owner(), Action::from(compute::CloseJob { job }))),
        }
        for (k, a) in sends {
            let r = self.net.send(&k, a);
            self.expect("compute", &r);
            if matches!(step % 6, 0) && r == Receipt::Success {
                self.providers += 1;
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
    let proof: Vec<&str> = state.params().modules.proof_modules();
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
        let mut pools = s.treasury.0 + s.validator_pool.0;
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
            // (The solo validator produced every turn: its pay leaves no dust and forfeits nothing.)
            assert_eq!((s.paid, s.demand_paid, s.dust), Default::default());
            assert_eq!(
                s.unminted.0,
                s.emission.0 + s.reminted.0 - s.treasury.0 - s.validator_paid.0
            );
        } else {
            assert_eq!(
                pools,
                s.emission.0 + s.reminted.0,
                "the treasury, the validators and the module pools split the epoch's rewards: {s:?}"
            );
        }
        if !run.demand {
            assert_eq!(
                (s.reminted, s.demand_pool, s.price),
                (Amount::ZERO, Amount::ZERO, None)
            );
        }
        minted += s.paid.0 + s.demand_paid.0 + s.validator_paid.0 + s.dust.0 + s.treasury.0;
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

#[test]
fn a_compute_coverage_and_demand_network_conserves_money_and_pays_capacity_and_service() {
    let mut g = module_genesis(true, true, None, 2_500);
    g.modules.compute = Some(compute_params());
    let mut run = Run::new(g);
    run.apply(&Op::Price(HALF_DOLLAR));
    run.apply(&Op::Buy {
        who: 0,
        tokens: 20 * TOKEN,
    });
    for _ in 0..3 {
        run.apply(&Op::Compute(0));
    }
    assert_eq!(run.providers, 3);
    for round in 0..6u8 {
        for step in 1..6 {
            run.apply(&Op::Compute(step));
        }
        run.apply(&Op::Window);
        run.apply(&Op::Price(HALF_DOLLAR + u64::from(round) * 1_000_000));
    }
    let epochs = run.finish(3);
    let summaries = closed_epochs(&run, epochs);
    assert!(
        summaries
            .iter()
            .any(|s| counter(s, "compute", "providers_proven") > 0
                && counter(s, "compute", "results_paid") > 0),
        "{summaries:?}"
    );
    let paid: u128 = summaries
        .iter()
        .map(|s| s.module("compute").unwrap().demand_paid.0 + s.module("compute").unwrap().paid.0)
        .sum();
    assert!(paid > 0, "compute providers earned from their pool");
    run.net.replays_identically();
}

/// The signer's account before and after, and the state next to the same block without the
/// transaction: only the signer's nonce moved, and what paying the transaction's fee moves.
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
    assert!(net.last_fee > 0, "the refused transaction paid its fee");
    let fee_tokens = net.state.meta().burned.0 - sibling.meta().burned.0;
    assert_eq!(
        net.state.account(&signer.address()),
        Some(&Account {
            balance: Amount(before.balance.0 - fee_tokens),
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
    let epoch = (net.state.height() - 1) / EPOCH_BLOCKS;
    let fee_entries = [
        StateKey::Account(signer.address()).to_bytes(),
        StateKey::Meta.to_bytes(),
        credits_key(&signer.address()),
        tally_key(epoch),
    ];
    assert!(
        changed.iter().all(|k| fee_entries.contains(k)),
        "only the signer's account (its nonce) and its fee's entries changed: {changed:?}"
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
    let close = Action::from(compute::CloseJob { job: 0 });
    refused_as_disabled(&mut net, &owner(), close, Compute::ID, "compute_disabled");
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
        3 => any::<u8>().prop_map(Op::Compute),
        2 => (any::<u8>(), 1u128..500 * TOKEN).prop_map(|(s, t)| Op::Stake(s, t)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Whichever modules run, whatever happens on the network, however the suppliers' share is
    /// weighted and whatever the validators' share: tokens are conserved after every block,
    /// every epoch mints exactly its emission and re-mint or leaves them unminted, and every
    /// token minted is in a summary.
    #[test]
    fn money_is_conserved_whatever_modules_run(
        coverage in any::<bool>(),
        demand in any::<bool>(),
        with_compute in any::<bool>(),
        with_governance in any::<bool>(),
        validator_bps in prop_oneof![Just(0u32), 1u32..=9_000],
        weight in prop_oneof![Just(None), (0u32..3).prop_map(Some), (1u32..1_000).prop_map(Some)],
        remint_bps in 0u32..=10_000,
        ops in proptest::collection::vec(op(), 1..50),
    ) {
        let mut g = module_genesis(coverage, demand, weight, remint_bps);
        // Compute needs demand; without it its actions must be refused as disabled.
        let compute_on = with_compute && demand;
        if compute_on {
            g.modules.compute = Some(compute_params());
        }
        if with_governance {
            let mut gov = depin_core::services::governance::GovernanceGenesis::devnet();
            gov.slash_storage_bps = 2_500;
            gov.emergency_key = Some(governor().address());
            // The validators' share of the emission (with the treasury's 10%, at most 90%).
            gov.validator_reward_bps = validator_bps;
            g.modules.governance = Some(gov);
        } else {
            g.modules.governance = None;
        }
        let mut run = Run::new(g);
        prop_assert_eq!((run.coverage, run.demand, run.compute), (coverage, demand, compute_on));
        // A price and credits to start from (the ops may bring more).
        run.apply(&Op::Price(HALF_DOLLAR));
        run.apply(&Op::Buy { who: 0, tokens: 20 * TOKEN });
        for op in &ops {
            run.apply(op);
        }
        let epochs = run.finish(2);
        let summaries = closed_epochs(&run, epochs);
        for s in &summaries {
            let share = s.emission.0 * u128::from(validator_bps) / 10_000;
            prop_assert_eq!(s.validator_pool.0, if with_governance { share } else { 0 });
            // The solo validator produced every turn of the epoch: it is paid the whole share.
            prop_assert_eq!(s.validator_paid, s.validator_pool);
            let weights: Vec<u32> = s.modules.iter().map(|m| m.weight).collect();
            let mut expected = if coverage { vec![weight.unwrap_or(1)] } else { vec![] };
            if compute_on {
                expected.push(1);
            }
            prop_assert_eq!(weights, expected);
            if coverage && weight == Some(0) && !compute_on {
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
            2 + usize::from(coverage) + usize::from(demand),
            "the device registry, governance (the test networks' emergency key), and the modules with a section"
        );
    }
}

/// Mapping beside coverage and demand: dashcams drive, a bounty is escrowed, claimed, paid and
/// its rest returned; every block conserves the supply and every epoch its emission.
#[test]
fn a_mapping_coverage_and_demand_network_conserves_money_with_bounties() {
    use common::mapping::{cam, cells_of, drive};
    use depin_core::modules::mapping::actions::{
        OnboardDashcam, OpenBounty, PayMapAccess, SubmitBundle,
    };
    use depin_core::modules::mapping::{preset as map_preset, records::escrow_account};

    let mut g = module_genesis(true, true, None, 2_500);
    let mut m = map_preset::single_region(preset::BERLIN);
    m.onboard_fee = "0".into();
    g.modules.mapping = Some(m);
    g.economics
        .as_mut()
        .unwrap()
        .pool_weights
        .insert("mapping".into(), 2);
    let (mut run, s) = {
        let mut run = Run::new(g);
        run.apply(&Op::Price(HALF_DOLLAR));
        for _ in 0..3 {
            run.apply(&Op::Onboard);
        }
        for i in 0..3 {
            let a = Action::from(OnboardDashcam {
                device: cam(i).address(),
                device_signature: depin_core::services::devices::sign_onboarding(
                    CHAIN_ID,
                    &owner().address(),
                    &cam(i),
                ),
            });
            assert_eq!(run.net.send(&owner(), a), Receipt::Success);
        }
        let street = drive(preset::BERLIN, 0, 30, 1_000, 0);
        let bounty = Action::from(OpenBounty {
            cells: cells_of(&street)[..5].to_vec(),
            amount: Amount(1_000_003),
            passes: 2,
            until_ms: run.net.time_ms + 3_600_000,
        });
        assert_eq!(run.net.send(&fleet(), bounty), Receipt::Success);
        assert_eq!(
            run.net.send(&fleet(), buy(TOKEN, &fleet())),
            Receipt::Success
        );
        for round in 0..12u64 {
            run.apply(&Op::Window);
            let seq = round + 1;
            let txs: Vec<Transaction> = (0..3u8)
                .map(|i| {
                    let north = depin_core::modules::mapping::actions::Location {
                        lat_udeg: preset::BERLIN.lat_udeg + i32::from(i) * 3_000,
                        ..preset::BERLIN
                    };
                    let t0 = run.net.time_ms - 31_000;
                    let frames = drive(north, t0, 30, 1_000, round * 10 + u64::from(i));
                    let b = SubmitBundle::signed(&run.net.state.network(), &cam(i), seq, frames);
                    run.net.tx(&cam(i), Action::from(b))
                })
                .collect();
            let drove = drive(
                depin_core::modules::mapping::actions::Location {
                    lat_udeg: preset::BERLIN.lat_udeg + i32::from((round % 3) as u8) * 3_000,
                    ..preset::BERLIN
                },
                run.net.time_ms - 31_000,
                30,
                1_000,
                round * 10 + round % 3,
            );
            for r in run.net.block(txs) {
                assert_eq!(r, Receipt::Success);
            }
            // A map user pays in credits for cells it was served: paid service of the dashcams
            // whose imagery they show.
            let mut served = cells_of(&drove);
            served.sort_unstable();
            served.dedup();
            served.truncate(8);
            let pay = Action::from(PayMapAccess { cells: served });
            assert_eq!(run.net.send(&fleet(), pay), Receipt::Success);
            run.apply(&Op::Traffic {
                payer: 0,
                device: (round % 3) as u8,
                packets: 400,
            });
            run.net.time_ms += 60_000;
        }
        // Past the bounty's period and upload window: it ends at the next close.
        for _ in 0..3 {
            run.net.time_ms += 86_400_000;
            run.net.block(vec![]);
        }
        let epochs = run.finish(3);
        let s = closed_epochs(&run, epochs);
        (run, s)
    };
    assert!(s.iter().any(|e| counter(e, "mapping", "frames_paid") > 0));
    assert!(s.iter().any(|e| counter(e, "mapping", "bounty_paid") > 0));
    assert!(
        s.iter()
            .map(|e| counter(e, "mapping", "cells_served"))
            .sum::<u64>()
            >= 12
    );
    assert_eq!(
        s.iter()
            .map(|e| counter(e, "mapping", "bounties_ended"))
            .sum::<u64>(),
        1
    );
    let mapping = s[0].module("mapping").expect("mapping is paid");
    assert_eq!(mapping.weight, 2);
    assert!(mapping.paid.0 > 0, "{mapping:?}");
    assert_eq!(
        run.net
            .state
            .account(&escrow_account())
            .map_or(0, |a| a.balance.0),
        0
    );
    run.net.replays_identically();
}

/// Storage beside coverage and demand: a provider proves a client's shard every period while
/// hotspots beacon and carry traffic; both proof modules are paid from their pools, every epoch
/// conserves its emission, and collateral stays whole in its escrow account.
#[test]
fn a_network_with_coverage_demand_and_storage_conserves_money_and_pays_both_modules() {
    use common::storage::{
        open_action, proof, provider_key, register_action, shard, terms, window, with_storage,
    };
    use depin_core::modules::storage::StorageView;
    use depin_core::modules::storage::actions::AddCollateral;
    use depin_core::modules::storage::records::escrow_account;

    let mut g = module_genesis(true, true, None, 2_500);
    with_storage(&mut g);
    // The fleet's deal earns storage's bootstrap pool only with a verified-data allowance.
    g.modules.storage.as_mut().unwrap().verified_clients =
        vec![depin_core::modules::storage::params::VerifiedClient {
            client: fleet().address(),
            allowance_bytes: 1 << 30,
        }];
    let mut run = Run::new(g);
    run.apply(&Op::Price(HALF_DOLLAR));
    for _ in 0..4 {
        run.apply(&Op::Onboard);
    }
    run.apply(&Op::Buy {
        who: 0,
        tokens: 50 * TOKEN,
    });
    let p = provider_key(0);
    assert_eq!(
        run.net.send(&owner(), register_action(&p, 1 << 30)),
        Receipt::Success
    );
    let add = Action::from(AddCollateral {
        device: p.address(),
        amount: Amount(50 * TOKEN),
    });
    assert_eq!(run.net.send(&owner(), add), Receipt::Success);
    let data = shard(1, 30_000);
    let deal = run.net.state.storage_meta().next_deal;
    let t = terms(&run.net, &fleet(), &p, &data, 3);
    assert_eq!(run.net.send(&fleet(), open_action(t, &p)), Receipt::Success);
    let start = run.net.state.deal(deal).unwrap().start_period;
    let prove_if_open = |run: &mut Run| {
        let period = run.net.state.height() / EPOCH_BLOCKS;
        let d = run.net.state.deal(deal).unwrap();
        if !(start..start + 3).contains(&period) || d.proven_period == Some(period) {
            return;
        }
        let (first, last) = window(&run.net, deal, period);
        let h = run.net.state.height();
        if h >= first && h < last {
            let a = proof(&run.net, &p, deal, period, &data);
            assert_eq!(run.net.send(&p, a), Receipt::Success);
        }
    };
    let mut round = 0u64;
    while run.net.state.height() + 2 * BEACON_INTERVAL < 5 * EPOCH_BLOCKS {
        for op in [
            Op::Price(HALF_DOLLAR + round * 1_000_000),
            Op::Window,
            Op::Traffic {
                payer: round as u8,
                device: (round % 3) as u8,
                packets: 500 + round,
            },
            Op::Transfer(u128::from(round) + 1),
        ] {
            run.apply(&op);
            prove_if_open(&mut run);
        }
        round += 1;
    }
    let epochs = run.finish(5);
    let summaries = closed_epochs(&run, epochs);
    for period in start..start + 3 {
        let s = &summaries[period as usize];
        assert_eq!(counter(s, "storage", "bytes_proven"), 30_000, "{s:?}");
        assert!(counter(s, "coverage", "beacons") > 0, "{s:?}");
        let storage = s.module("storage").unwrap();
        assert!(
            storage.paid.0 > 0 && storage.demand_paid.0 > 0,
            "{storage:?}"
        );
    }
    let d = run.net.state.deal(deal).unwrap();
    assert_eq!((d.proven_periods, d.escrow.credits), (3, 0));
    let record = StorageView::provider(&run.net.state, &p.address())
        .unwrap()
        .record;
    assert_eq!(
        run.net.state.account(&escrow_account()).map(|a| a.balance),
        Some(record.collateral)
    );
    run.net.replays_identically();
}
