//! Honest simulated hotspots and cheaters on one real node: the cheaters earn little or nothing,
//! and the reports that give them away are refused with the right reason codes.

use std::collections::{BTreeMap, BTreeSet};

use depin_agent::devnet::earnings;
use depin_agent::hotspot::{Fleet, HotspotArgs, Role};
use depin_core::genesis::{Allocation, ConsensusParams, EconomicsGenesis, TokenParams};
use depin_core::modules::coverage::preset;
use depin_core::{Genesis, Keypair};
use depin_node::{Home, MempoolLimits, RunConfig};

const EPOCH_BLOCKS: u64 = 20;
const BEACON_INTERVAL: u64 = 5;

/// Starts a node in `home` on a background thread; returns its API URL.
fn start_node(home: &Home) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    let home = home.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let config = RunConfig {
            api_addr: "127.0.0.1:0".parse().expect("address"),
            mempool: MempoolLimits::default(),
        };
        runtime
            .block_on(depin_node::run(&home, config, |url, _| {
                tx.send(url.to_string()).expect("test waits for the url");
            }))
            .expect("node runs");
    });
    rx.recv_timeout(std::time::Duration::from_secs(30))
        .expect("the node starts")
}

#[test]
fn cheaters_earn_little_and_their_reports_are_refused_for_the_right_reasons() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = Home::new(dir.path());
    let validator = Keypair::from_seed([1; 32]);
    let owner = Keypair::from_seed([2; 32]);
    let genesis = Genesis {
        chain_id: "depin-cheaters".into(),
        genesis_time_ms: 0,
        token: TokenParams {
            symbol: "DPN".into(),
            decimals: 6,
        },
        consensus: ConsensusParams {
            block_interval_ms: 200,
            epoch_length_blocks: EPOCH_BLOCKS,
            max_block_txs: 20_000,
            validator: validator.address(),
        },
        allocations: vec![Allocation {
            address: owner.address(),
            amount: "100000".into(),
        }],
        economics: Some(EconomicsGenesis {
            emission_per_epoch: "1000".into(),
            halving_interval_epochs: 0,
            tail_per_epoch: "0".into(),
            treasury: Keypair::from_seed([3; 32]).address(),
            treasury_bps: 1000,
        }),
        coverage: Some(preset::single_region(preset::BERLIN, BEACON_INTERVAL, None)),
    };
    home.write_genesis(&genesis).expect("genesis");
    home.save_key("validator", &validator).expect("key");
    let url = start_node(&home);

    let args = HotspotArgs {
        hotspots: 25,
        center: None,
        radius_m: 8_000.0,
        seed: 5,
        spoofers: 3,
        inflators: 3,
        ring: 4,
        windows: None,
    };
    let mut fleet = Fleet::new(&args, &url, owner).expect("fleet");
    fleet.onboard().expect("onboarding");
    let first = fleet.current_epoch().expect("epoch") + 1;
    // Past the grace period (3 windows), then two whole epochs.
    let last = first + 2;
    while fleet.current_epoch().expect("epoch") <= last {
        fleet.run_window().expect("a window");
    }

    let mut total: BTreeMap<Role, Vec<u128>> = BTreeMap::new();
    for epoch in first + 1..=last {
        for (role, amounts) in earnings(&fleet, epoch).expect("earnings") {
            let t = total.entry(role).or_insert_with(|| vec![0; amounts.len()]);
            for (i, a) in amounts.into_iter().enumerate() {
                t[i] += a;
            }
        }
    }
    let mut honest = total[&Role::Honest].clone();
    honest.sort_unstable();
    let median = honest[honest.len() / 2];
    eprintln!(
        "earnings by role over epochs {}..={last}: {total:?}",
        first + 1
    );
    assert!(median > 0, "honest hotspots earn");
    for role in [Role::Spoofer, Role::Inflator, Role::Ring] {
        for (i, earned) in total[&role].iter().enumerate() {
            // A cheater keeps at most its own beacons' units while every report it makes is
            // refused; an honest hotspot also earns for what it witnesses. A quarter of the
            // honest median leaves room for that and nothing more.
            assert!(
                *earned * 4 <= median,
                "{} #{i} earned {earned}, the honest median is {median}",
                role.name()
            );
        }
    }

    // The reasons, from the start: a ring gives itself away while it still may beacon (its
    // members witness each other from too close), and is then cut off for lack of reciprocity.
    let mut codes: BTreeMap<Role, BTreeSet<String>> = BTreeMap::new();
    for m in &fleet.members {
        for epoch in 0..=last {
            let r = fleet
                .client()
                .get(&format!("/v1/rewards/{epoch}/{}", m.key.address()))
                .expect("explanation");
            for rej in r["rejected_reports"].as_array().into_iter().flatten() {
                codes
                    .entry(m.role)
                    .or_default()
                    .insert(rej["code"].as_str().unwrap_or("?").to_string());
            }
        }
    }
    eprintln!("rejection codes by role: {codes:?}");
    assert!(codes[&Role::Inflator].contains("rssi_too_strong"));
    assert!(
        codes[&Role::Spoofer].contains("rssi_too_strong")
            || codes[&Role::Spoofer].contains("too_far")
    );
    assert!(codes[&Role::Ring].contains("too_close"));
    for role in [Role::Spoofer, Role::Inflator, Role::Ring] {
        assert!(
            codes[&role].contains("no_reciprocity"),
            "a {} whose witness reports are all refused is soon refused as a beaconer too",
            role.name()
        );
    }

    let mut accepted = 0u64;
    let mut refused = 0u64;
    for epoch in first + 1..=last {
        let e = fleet
            .client()
            .get(&format!("/v1/epochs/{epoch}"))
            .expect("epoch");
        for (code, n) in e["report_outcomes"].as_object().expect("outcomes") {
            if code == "accepted" {
                accepted += n.as_u64().unwrap_or(0);
            } else {
                refused += n.as_u64().unwrap_or(0);
            }
        }
    }
    eprintln!("reports: {accepted} accepted, {refused} refused");
    assert!(
        accepted > 3 * refused,
        "{accepted} accepted vs {refused} refused"
    );
}
