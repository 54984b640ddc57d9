//! Simulated dashcams on one real node: honest cars and a replayer upload their bundles over
//! HTTP, the node's mapping routes show the honest frames paid and the replayed ones flagged as
//! near duplicates, and at the close the honest cars earn while the replayer earns (almost)
//! nothing.

mod common;

use std::time::{Duration, Instant};

use common::{start_network, test_genesis};
use depin_agent::client::Client;
use depin_agent::dashcam::{DashcamArgs, Fleet, Role};
use depin_core::modules::coverage::preset::BERLIN;
use depin_core::modules::mapping::actions::{OnboardDashcam, sign_onboarding};
use depin_core::modules::mapping::preset;
use depin_core::tx::Network;
use depin_core::{Action, Keypair, Transaction};
use depin_node::Home;
use serde_json::Value;

/// Signs a transaction (the one place this file builds them).
fn sign_tx(network: &Network, key: &Keypair, nonce: u64, action: Action) -> Transaction {
    Transaction::sign(network, key, nonce, 1_000_000, action)
}

/// Onboards every member of `fleet` (signed by `owner`, nonces from 0) and waits for each.
fn onboard_fleet(
    client: &Client,
    network: &Network,
    owner: &Keypair,
    chain_id: &str,
    fleet: &Fleet,
) {
    let onboard: Vec<Transaction> = fleet
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let a = Action::from(OnboardDashcam {
                device: m.key.address(),
                device_signature: sign_onboarding(chain_id, &owner.address(), &m.key),
            });
            sign_tx(network, owner, i as u64, a)
        })
        .collect();
    assert!(
        client
            .submit(&onboard)
            .expect("submits")
            .iter()
            .all(|r| r.is_ok())
    );
    for m in &fleet.members {
        wait_for("onboarding", || {
            client.nonce(&m.key.address()).expect("reads").is_some()
        });
    }
}

/// Signs each `(member, bundle)` with that member's key at its next nonce in `nonces` and
/// submits them all; every one must be admitted.
fn submit_bundles(
    client: &Client,
    network: &Network,
    fleet: &Fleet,
    nonces: &mut [u64],
    bundles: &[(usize, depin_core::modules::mapping::actions::SubmitBundle)],
) {
    let txs: Vec<Transaction> = bundles
        .iter()
        .map(|(m, b)| {
            let tx = sign_tx(
                network,
                &fleet.members[*m].key,
                nonces[*m],
                Action::from(b.clone()),
            );
            nonces[*m] += 1;
            tx
        })
        .collect();
    let verdicts = client.submit(&txs).expect("submits");
    assert!(verdicts.iter().all(|r| r.is_ok()), "{verdicts:?}");
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "waited too long for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn honest_dashcams_are_paid_and_a_replayer_is_flagged_on_a_real_node() {
    let chain_id = "depin-dashcams";
    let dir = tempfile::tempdir().expect("temp dir");
    let home = Home::new(dir.path());
    let owner = Keypair::from_seed([2; 32]);
    let mut genesis = test_genesis(chain_id, &[(owner.address(), "100000")]);
    genesis.modules.mapping = Some(preset::single_region(BERLIN));
    let (url, _) = start_network(&home, &genesis);
    let network = genesis.network();
    let client = Client::new(&url);

    let args = DashcamArgs {
        cars: 2,
        center: None,
        radius_m: 900.0,
        block_m: 150.0,
        seed: 4,
        replayers: 1,
        replay_lag_s: 300,
        replay_bits: 3,
        desk: 0,
        farm: 0,
        parked: 0,
        teleporters: 0,
        spoofers: 0,
        spoof_fresh_pct: 100,
        pass_rate_margin_pct: None,
        minutes: Some(15),
        local: false,
    };
    // Fifteen minutes of driving that ended a moment ago (within the upload window).
    let now = depin_node::node::now_ms();
    let mut fleet = Fleet::new(&args, BERLIN, now - 15 * 60_000 - 5_000);
    let mut bundles = Vec::new();
    for _ in 0..15 * 60 {
        bundles.extend(fleet.tick(&network));
    }
    bundles.extend(fleet.flush(&network));

    onboard_fleet(&client, &network, &owner, chain_id, &fleet);
    let mut nonces = vec![0u64; fleet.members.len()];
    submit_bundles(&client, &network, &fleet, &mut nonces, &bundles);

    let dashcam = |m: usize| -> Value {
        client
            .get(&format!(
                "/v1/mapping/dashcams/{}",
                fleet.members[m].key.address()
            ))
            .expect("a dashcam")
    };
    for (m, n) in nonces.iter().enumerate() {
        wait_for("the bundles", || dashcam(m)["bundles"].as_u64() == Some(*n));
    }
    let roles: Vec<Role> = fleet.members.iter().map(|m| m.role).collect();
    let replayer = roles
        .iter()
        .position(|r| *r == Role::Replayer)
        .expect("a replayer");
    for (m, role) in roles.iter().enumerate() {
        let d = dashcam(m);
        let (paid, flagged) = (
            d["frames_paid"].as_u64().unwrap(),
            d["frames_flagged"].as_u64().unwrap(),
        );
        if *role == Role::Honest {
            assert!(paid > 600 && flagged * 50 < paid, "{d}");
        } else {
            // A few copies of frames the original had flagged pass, worth next to nothing.
            assert!(flagged > 10 * paid, "{d}");
            let fresh = d["epochs"][0]["regions"][0]["freshness_ppm"]
                .as_u64()
                .unwrap_or(0);
            assert!(fresh < 10_000, "{d}");
        }
    }
    // The replayer's bundles say why, frame by frame.
    let epoch = dashcam(replayer)["epochs"][0]["epoch"].as_u64().unwrap();
    let b = client
        .get(&format!(
            "/v1/mapping/dashcams/{}/bundles?epoch={epoch}",
            fleet.members[replayer].key.address()
        ))
        .expect("bundles");
    let frame = &b["bundles"][0]["frames"][5];
    assert_eq!(frame["flagged"], "near_duplicate", "{frame}");
    assert!(frame["why"].as_str().unwrap().contains("looks like"));
    // What a map user sees of the area and of one cell the honest cars mapped: a paid frame's
    // cell (a replayed frame is flagged for looking like one in the same hex, which need not be
    // the same cell).
    let honest = roles
        .iter()
        .position(|r| *r == Role::Honest)
        .expect("an honest car");
    let hb = client
        .get(&format!(
            "/v1/mapping/dashcams/{}/bundles?epoch={epoch}",
            fleet.members[honest].key.address()
        ))
        .expect("bundles");
    let cell = hb["bundles"][0]["frames"]
        .as_array()
        .and_then(|frames| frames.iter().find(|f| f["flagged"].is_null()))
        .and_then(|f| f["cell"].as_str())
        .expect("an honest car's paid frame")
        .to_string();
    let c = client
        .get(&format!("/v1/mapping/cells/{cell}"))
        .expect("cell");
    assert!(c["last_mapped_ms"].as_u64().is_some(), "{c}");
    let parent = {
        let id = u64::from_str_radix(&cell, 16).unwrap();
        let cell = resolution8_parent(id);
        format!("{cell:x}")
    };
    let area = client
        .get(&format!("/v1/mapping/cells?parent={parent}"))
        .expect("area");
    assert!(!area["cells"].as_array().unwrap().is_empty(), "{area}");

    // At the close the honest cars are paid and the replayer gets at most a sliver.
    let status = client.get("/v1/status").expect("status");
    let close = (status["epoch"].as_u64().unwrap() + 1) * common::EPOCH_BLOCKS;
    wait_for("the close", || {
        client.get("/v1/status").expect("status")["height"]
            .as_u64()
            .unwrap()
            > close
    });
    let mut earned = vec![0u128; roles.len()];
    for (m, e) in earned.iter_mut().enumerate() {
        for ep in dashcam(m)["epochs"].as_array().unwrap() {
            *e += ep["reward"]
                .as_str()
                .map_or(0, |r| r.parse::<u128>().unwrap());
        }
    }
    let honest: u128 = roles
        .iter()
        .zip(&earned)
        .filter(|(r, _)| **r == Role::Honest)
        .map(|(_, e)| *e)
        .sum();
    assert!(honest > 0, "{earned:?}");
    assert!(earned[replayer] * 50 < honest, "{earned:?}");
}

/// The resolution-8 parent of a resolution-12 cell (bits: resolution at 52, digits of 3 bits
/// from 42 down; a parent's digits past its resolution are 7).
fn resolution8_parent(cell: u64) -> u64 {
    let mut p = (cell & !(0xF << 52)) | (8 << 52);
    for d in 9..=15u64 {
        p |= 0b111 << ((15 - d) * 3);
    }
    p
}

/// What each dashcam of `fleet` earned in epochs `from..` on the node, base units.
fn earned_since(client: &Client, fleet: &Fleet, from: u64) -> Vec<u128> {
    fleet
        .members
        .iter()
        .map(|m| {
            let d = client
                .get(&format!("/v1/mapping/dashcams/{}", m.key.address()))
                .expect("a dashcam");
            d["epochs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|ep| ep["epoch"].as_u64().is_some_and(|e| e >= from))
                .map(|ep| {
                    ep["reward"]
                        .as_str()
                        .map_or(0, |r| r.parse::<u128>().unwrap())
                })
                .sum()
        })
        .collect()
}

/// Three honest cars map a small city for 20 minutes; in the next epochs they drive it 10
/// more minutes beside a GPS spoofer filing a desk drive of never-mapped cells (consistent
/// kinematics, plausible GNSS, fabricated images). Returns the spoofer's earnings per
/// dashcam over the honest cars' in those epochs, and the freshness the close capped.
fn spoofer_vs_honest_on_a_node(margin_pct: u32) -> (f64, u64) {
    let chain_id = "depin-spoofer";
    let dir = tempfile::tempdir().expect("temp dir");
    let home = Home::new(dir.path());
    let owner = Keypair::from_seed([2; 32]);
    let mut genesis = test_genesis(chain_id, &[(owner.address(), "100000")]);
    let mut mapping = preset::single_region(BERLIN);
    mapping.freshness.pass_rate_margin_pct = margin_pct;
    genesis.modules.mapping = Some(mapping);
    let (url, _) = start_network(&home, &genesis);
    let network = genesis.network();
    let client = Client::new(&url);
    let args = DashcamArgs {
        cars: 3,
        center: None,
        radius_m: 450.0,
        block_m: 150.0,
        seed: 9,
        replayers: 0,
        replay_lag_s: 300,
        replay_bits: 3,
        desk: 0,
        farm: 0,
        parked: 0,
        teleporters: 0,
        spoofers: 1,
        spoof_fresh_pct: 100,
        pass_rate_margin_pct: None,
        minutes: Some(30),
        local: false,
    };
    let now = depin_node::node::now_ms();
    let mut fleet = Fleet::new(&args, BERLIN, now - 30 * 60_000 - 5_000);
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for s in 0..30 * 60 {
        let ready = fleet.tick(&network);
        if s < 20 * 60 {
            before.extend(ready)
        } else {
            after.extend(ready)
        }
    }
    after.extend(fleet.flush(&network));
    let spoofer = fleet
        .members
        .iter()
        .position(|m| m.role == Role::Spoofer)
        .expect("a spoofer");
    // The spoofer files only in the second phase.
    before.retain(|(m, _)| *m != spoofer);
    onboard_fleet(&client, &network, &owner, chain_id, &fleet);
    let mut nonces = vec![0u64; fleet.members.len()];
    let mut send = |bundles: &[(usize, depin_core::modules::mapping::actions::SubmitBundle)]| {
        submit_bundles(&client, &network, &fleet, &mut nonces, bundles);
        for (m, n) in nonces.iter().enumerate() {
            wait_for("the bundles", || {
                client
                    .nonce(&fleet.members[m].key.address())
                    .expect("reads")
                    == Some(*n)
            });
        }
    };
    send(&before);
    let height = || {
        client.get("/v1/status").expect("status")["height"]
            .as_u64()
            .unwrap()
    };
    // The second phase starts in a fresh epoch.
    let next = (height() / common::EPOCH_BLOCKS + 1) * common::EPOCH_BLOCKS;
    wait_for("the close", || height() > next);
    let from = height() / common::EPOCH_BLOCKS;
    send(&after);
    let last = (height() / common::EPOCH_BLOCKS + 1) * common::EPOCH_BLOCKS;
    wait_for("the close", || height() > last);
    let earned = earned_since(&client, &fleet, from);
    let honest: Vec<u128> = earned
        .iter()
        .zip(&fleet.members)
        .filter(|(_, m)| m.role == Role::Honest)
        .map(|(e, _)| *e)
        .collect();
    let honest_mean = honest.iter().sum::<u128>() as f64 / honest.len() as f64;
    assert!(honest_mean > 0.0, "{earned:?}");
    let mut capped = 0;
    for e in from..=last / common::EPOCH_BLOCKS {
        if let Some(s) = client.get_opt(&format!("/v1/epochs/{e}")).expect("reads") {
            capped += s["modules"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|m| m["module"] == "mapping")
                .filter_map(|m| m["counters"]["freshness_capped"].as_u64())
                .sum::<u64>();
        }
    }
    (earned[spoofer] as f64 / honest_mean, capped)
}

#[test]
fn a_gps_spoofer_of_never_mapped_cells_is_held_to_the_fleet_s_pay_per_pass_on_a_real_node() {
    let (unbounded, none) = spoofer_vs_honest_on_a_node(0);
    let (bounded, capped) = spoofer_vs_honest_on_a_node(150);
    eprintln!(
        "spoofer / honest per dashcam: {unbounded:.2} without the bound, {bounded:.2} with it ({capped} ppm capped)"
    );
    assert_eq!(none, 0);
    assert!(capped > 0);
    assert!(unbounded > 2.0, "{unbounded}");
    assert!(bounded < unbounded / 2.0, "{bounded} vs {unbounded}");
}
