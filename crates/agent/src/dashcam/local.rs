//! A run against an in-process ledger: the real state machine (one block a simulated minute,
//! an epoch an hour) with a mapping network around the city, so what each kind of dashcam
//! earns can be measured in seconds and the same seed gives the same numbers.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use depin_core::economics::EconomyView;
use depin_core::genesis::{Allocation, ConsensusParams, EconomicsGenesis, TokenParams};
use depin_core::modules::ModulesGenesis;
use depin_core::modules::mapping::actions::{Location, OnboardDashcam, sign_onboarding};
use depin_core::modules::mapping::preset;
use depin_core::modules::mapping::records::MappingView;
use depin_core::services::devices::DevicesGenesis;
use depin_core::tx::Network;
use depin_core::{Action, Genesis, Keypair, Receipt, Signatures, State, Transaction, build_block};
use serde_json::{Value, json};

use super::args::DashcamArgs;
use super::fleet::{Fleet, Role};

const CHAIN_ID: &str = "depin-dashcam-local";
/// Blocks per epoch (a block a minute: an hour).
const EPOCH_BLOCKS: u64 = 60;
const GENESIS_MS: u64 = 1_700_000_000_000;
/// Tokens minted per epoch (whole tokens).
const EMISSION: &str = "1000";

/// Plenty for any transaction at the run's base fee.
const MAX_FEE: u64 = 1_000_000;

/// Signs a transaction (the one place this file builds them).
fn sign_tx(network: &Network, key: &Keypair, nonce: u64, action: Action) -> Transaction {
    Transaction::sign(network, key, nonce, MAX_FEE, action)
}

fn genesis(
    center: Location,
    owner: &Keypair,
    validator: &Keypair,
    pass_rate_margin_pct: Option<u32>,
) -> Genesis {
    let mut mapping = preset::single_region(center);
    mapping.onboard_fee = "1".into();
    if let Some(margin) = pass_rate_margin_pct {
        mapping.freshness.pass_rate_margin_pct = margin;
    }
    Genesis {
        chain_id: CHAIN_ID.into(),
        genesis_time_ms: GENESIS_MS,
        token: TokenParams {
            symbol: "DPN".into(),
            decimals: 6,
        },
        consensus: ConsensusParams {
            block_interval_ms: 60_000,
            epoch_length_blocks: EPOCH_BLOCKS,
            max_block_txs: 100_000,
            validator: validator.address(),
            validators: Vec::new(),
        },
        allocations: vec![Allocation {
            address: owner.address(),
            amount: "1000000".into(),
        }],
        economics: Some(EconomicsGenesis {
            emission_per_epoch: EMISSION.into(),
            halving_interval_epochs: 0,
            tail_per_epoch: "0".into(),
            treasury: validator.address(),
            treasury_bps: 0,
            pool_weights: BTreeMap::new(),
        }),
        modules: ModulesGenesis {
            devices: Some(DevicesGenesis::default()),
            demand: None,
            coverage: None,
            mapping: Some(mapping),
            ..Default::default()
        },
        fees: None,
    }
}

/// What one kind of dashcam did and earned in a run.
#[derive(Debug, Default, Clone)]
pub struct RoleOutcome {
    pub dashcams: usize,
    pub frames: u64,
    pub frames_paid: u64,
    /// Sum of freshness weights, in fully fresh cells.
    pub fresh_cells: f64,
    /// Passes (valid frames entering a cell the dashcam had not just mapped).
    pub passes: u64,
    pub flagged: BTreeMap<&'static str, u64>,
    pub bundles_refused: BTreeMap<&'static str, u64>,
    /// Base units.
    pub earned: u128,
}

/// Runs `args` on an in-process ledger and returns each role's outcome.
pub fn measure(args: &DashcamArgs) -> Result<BTreeMap<Role, RoleOutcome>> {
    args.check()?;
    let center = args
        .center
        .unwrap_or(depin_core::modules::coverage::preset::BERLIN);
    let owner = Keypair::from_seed([7; 32]);
    let validator = Keypair::from_seed([8; 32]);
    let mut state = State::genesis(&genesis(
        center,
        &owner,
        &validator,
        args.pass_rate_margin_pct,
    ))?;
    let network = state.network();
    let mut fleet = Fleet::new(args, center, GENESIS_MS);
    let mut time_ms = GENESIS_MS;
    let block = |state: &mut State, time_ms: &mut u64, txs: Vec<Transaction>| {
        *time_ms += 60_000;
        build_block(state, txs, *time_ms, &validator, Signatures::Verify)
            .1
            .receipts
    };
    let onboard: Vec<Transaction> = fleet
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let a = Action::from(OnboardDashcam {
                device: m.key.address(),
                device_signature: sign_onboarding(CHAIN_ID, &owner.address(), &m.key),
            });
            sign_tx(&network, &owner, i as u64, a)
        })
        .collect();
    for r in block(&mut state, &mut time_ms, onboard) {
        if r != Receipt::Success {
            bail!("onboarding a dashcam was refused: {r:?}");
        }
    }
    // The cars start driving at the second block's time.
    fleet.start_ms = time_ms;
    let mut outcomes: BTreeMap<Role, RoleOutcome> = BTreeMap::new();
    for m in &fleet.members {
        outcomes.entry(m.role).or_default().dashcams += 1;
    }
    let minutes = args.minutes.unwrap_or(120);
    let mut nonces = vec![0u64; fleet.members.len()];
    for minute in 0..minutes {
        let mut ready = Vec::new();
        for _ in 0..60 {
            ready.extend(fleet.tick(&network));
        }
        if minute + 1 == minutes {
            ready.extend(fleet.flush(&network));
        }
        let mut roles = Vec::with_capacity(ready.len());
        let txs: Vec<Transaction> = ready
            .into_iter()
            .map(|(m, bundle)| {
                let member = &fleet.members[m];
                roles.push(member.role);
                let o = outcomes.entry(member.role).or_default();
                o.frames += bundle.frames.len() as u64;
                let tx = sign_tx(&network, &member.key, nonces[m], Action::from(bundle));
                nonces[m] += 1;
                tx
            })
            .collect();
        for (role, r) in roles.into_iter().zip(block(&mut state, &mut time_ms, txs)) {
            if let Receipt::Rejected(why) = r {
                *outcomes
                    .entry(role)
                    .or_default()
                    .bundles_refused
                    .entry(why.code())
                    .or_default() += 1;
            }
        }
    }
    // Close the last epoch.
    while !state.height().is_multiple_of(EPOCH_BLOCKS) {
        block(&mut state, &mut time_ms, Vec::new());
    }
    let epochs = state.height() / EPOCH_BLOCKS;
    for m in &fleet.members {
        let o = outcomes.entry(m.role).or_default();
        let device = m.key.address();
        for e in 0..epochs {
            if let Some(r) = state.reward(e, &device) {
                o.earned += r.amount.0;
            }
            if let Some(t) = state.tally(e, &device) {
                o.passes += t.passes.iter().map(|(_, n)| n).sum::<u64>();
            }
            for (_, b) in state.bundles(e, &device, usize::MAX) {
                for v in &b.verdicts {
                    match &v.fault {
                        None => {
                            o.frames_paid += 1;
                            o.fresh_cells += f64::from(v.weight_ppm) / 1e6;
                        }
                        Some(f) => *o.flagged.entry(f.code()).or_default() += 1,
                    }
                }
            }
        }
    }
    Ok(outcomes)
}

/// The outcomes as JSON, with each role's earnings per dashcam relative to an honest car's.
pub fn report(outcomes: &BTreeMap<Role, RoleOutcome>) -> Value {
    let per = |o: &RoleOutcome| o.earned as f64 / o.dashcams.max(1) as f64;
    let honest = outcomes.get(&Role::Honest).map(per).unwrap_or(0.0);
    let roles: Vec<Value> = outcomes
        .iter()
        .map(|(role, o)| {
            json!({
                "role": role.name(),
                "dashcams": o.dashcams,
                "frames": o.frames,
                "frames_paid": o.frames_paid,
                "fresh_cells": (o.fresh_cells * 10.0).round() / 10.0,
                "passes": o.passes,
                "fresh_per_pass": if o.passes > 0 { (o.fresh_cells / o.passes as f64 * 1000.0).round() / 1000.0 } else { 0.0 },
                "flagged": o.flagged,
                "bundles_refused": o.bundles_refused,
                "earned_tokens": o.earned as f64 / 1e6,
                "earned_per_dashcam_tokens": per(o) / 1e6,
                "vs_honest_per_dashcam": if honest > 0.0 { (per(o) / honest * 100.0).round() / 100.0 } else { 0.0 },
            })
        })
        .collect();
    json!({ "roles": roles })
}

/// Prints the outcomes as a table.
pub fn print_table(outcomes: &BTreeMap<Role, RoleOutcome>) {
    let report = report(outcomes);
    println!(
        "{:<11} {:>5} {:>7} {:>7} {:>7} {:>8} {:>8} {:>11} {:>9}  flagged",
        "role", "cams", "frames", "paid", "passes", "fresh", "per pass", "tokens/cam", "vs honest"
    );
    for r in report["roles"].as_array().into_iter().flatten() {
        let n = |k: &str| r[k].as_f64().unwrap_or(0.0);
        println!(
            "{:<11} {:>5} {:>7} {:>7} {:>7} {:>8.1} {:>8.3} {:>11.3} {:>9.2}  {}",
            r["role"].as_str().unwrap_or(""),
            n("dashcams"),
            n("frames"),
            n("frames_paid"),
            n("passes"),
            n("fresh_cells"),
            n("fresh_per_pass"),
            n("earned_per_dashcam_tokens"),
            n("vs_honest_per_dashcam"),
            r["flagged"]
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(edit: impl FnOnce(&mut DashcamArgs)) -> BTreeMap<Role, RoleOutcome> {
        let mut a = DashcamArgs {
            cars: 2,
            center: None,
            radius_m: 900.0,
            block_m: 150.0,
            seed: 3,
            replayers: 0,
            replay_lag_s: 600,
            replay_bits: 3,
            desk: 0,
            farm: 0,
            parked: 0,
            teleporters: 0,
            spoofers: 0,
            spoof_fresh_pct: 100,
            pass_rate_margin_pct: None,
            minutes: Some(20),
            local: true,
        };
        edit(&mut a);
        measure(&a).expect("runs")
    }

    #[test]
    fn honest_cars_earn_and_replayers_parked_cameras_and_teleporters_are_flagged() {
        let o = run(|a| {
            a.replayers = 1;
            a.parked = 1;
            a.teleporters = 1;
        });
        let honest = &o[&Role::Honest];
        assert!(honest.earned > 0 && honest.frames_paid > 500, "{honest:?}");
        let replayer = &o[&Role::Replayer];
        assert!(replayer.frames > 100, "{replayer:?}");
        // A copy of a frame the original had flagged (a car pulling away from a stop moves
        // under a metre) can pass: a few frames, under 2% of an honest car's take.
        assert!(
            replayer.earned * 50 < honest.earned / 2,
            "{replayer:?} vs {honest:?}"
        );
        assert!(
            replayer.flagged["near_duplicate"] * 10 >= replayer.frames * 9,
            "{replayer:?}"
        );
        let parked = &o[&Role::Parked];
        assert!(
            parked.earned * 50 < honest.earned / 2,
            "{parked:?} vs {honest:?}"
        );
        let teleporter = &o[&Role::Teleporter];
        assert!(
            teleporter.flagged["implausible_jump"] > 100,
            "{teleporter:?}"
        );
    }

    #[test]
    fn a_farm_splitting_one_drive_earns_what_one_car_does() {
        let one = run(|a| a.cars = 1);
        let farm = run(|a| {
            a.cars = 1;
            a.farm = 4;
        });
        // The farm's car is another car on the same grid: compare its whole take to the
        // honest car's, not per identity.
        let f = &farm[&Role::Farm];
        let h = &one[&Role::Honest];
        assert!(f.flagged.values().sum::<u64>() * 20 < f.frames, "{f:?}");
        assert!(f.fresh_cells < h.fresh_cells * 1.6, "{f:?} vs {h:?}");
    }

    #[test]
    fn a_spoofer_of_never_mapped_cells_is_held_to_the_fleet_s_pay_per_pass() {
        // A small city its cars map within the hour, and a spoofer filing a desk drive on a
        // grid of never-mapped cells beside it.
        let per_dashcam =
            |o: &BTreeMap<Role, RoleOutcome>, r: Role| o[&r].earned as f64 / o[&r].dashcams as f64;
        let ratio = |margin: u32, fresh_pct: u32| {
            let o = run(|a| {
                a.cars = 3;
                a.radius_m = 600.0;
                a.spoofers = 1;
                a.spoof_fresh_pct = fresh_pct;
                a.pass_rate_margin_pct = Some(margin);
                // One whole epoch (the onboarding takes the first block): a last epoch of a
                // few blocks would split a whole epoch's pool among a minute's frames.
                a.minutes = Some(59);
            });
            let s = &o[&Role::Spoofer];
            assert!(s.flagged.values().sum::<u64>() * 100 < s.frames, "{s:?}");
            per_dashcam(&o, Role::Spoofer) / per_dashcam(&o, Role::Honest)
        };
        let unbounded = ratio(0, 100);
        let bounded = ratio(150, 100);
        eprintln!("spoofer / honest: {unbounded:.2} unbounded, {bounded:.2} bounded");
        assert!(unbounded > 2.0, "{unbounded}");
        assert!(bounded < 1.6, "{bounded}");
    }
}
