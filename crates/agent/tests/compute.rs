//! The compute market on one real node: four honest providers and one garbage provider render a
//! job whose every task is spot-checked; the job finishes with frames that match a local
//! re-render, the cheater is slashed and unpaid, and the requester gets back what was not spent.

mod common;

use common::{start_network, test_genesis};
use std::time::{Duration, Instant};

use depin_agent::blocks::{self, Follower};
use depin_agent::client::Client;
use depin_agent::gpu::outputs;
use depin_agent::gpu::{Behaviour, ComputeArgs, Fleet, SceneSpec, frame_hash, render};
use depin_agent::oracle_feed::{self, FeedArgs, PriceFeed};
use depin_core::modules::compute::ComputeGenesis;
use depin_core::modules::compute::actions::{CloseJob, PostJob, Unit, VerifyMode};
use depin_core::services::demand::actions::BuyCredits;
use depin_core::{Action, Amount, Keypair};
use depin_node::Home;

const CHAIN: &str = "depin-compute";

/// Every transaction of this file is signed here.
fn send(client: &Client, key: &Keypair, action: Action) {
    let nonce = client.nonce(&key.address()).unwrap().unwrap_or(0);
    let signer = depin_agent::client::Signer::fetch(client).unwrap();
    let tx = signer.sign(key, nonce, action);
    let hash = client.submit(&[tx]).unwrap().remove(0).expect("accepted");
    let tip = blocks::height(client).unwrap();
    let mut follower = Follower::from(tip);
    let outcome = blocks::await_outcomes(client, &mut follower, &[hash], |_| {}).unwrap();
    assert!(matches!(outcome[0], Some(Ok(()))), "{outcome:?}");
}

fn fleet_args(
    providers: u32,
    seed: u64,
    behaviour: Behaviour,
    dir: &std::path::Path,
) -> ComputeArgs {
    ComputeArgs {
        providers,
        seed,
        benchmark: 4,
        stake: 2_000_000,
        fund_tokens: 200,
        behaviour,
        garbage_bps: 10_000,
        max_claims: 4,
        specs: Some(dir.join("specs")),
        out: Some(dir.join(format!("frames-{seed}"))),
        listen: "127.0.0.1:0".parse().unwrap(),
    }
}

#[test]
fn a_spot_checked_job_renders_correct_frames_and_the_cheater_is_slashed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = Home::new(dir.path());
    let funder = Keypair::from_seed([2; 32]);
    let oracle = Keypair::from_seed([4; 32]);
    let requester = Keypair::from_seed([5; 32]);
    let mut genesis = test_genesis(
        CHAIN,
        &[
            (funder.address(), "100000"),
            (requester.address(), "1000"),
            (oracle.address(), "10"),
        ],
    );
    // Compute needs no radio: the coverage module is off.
    genesis.modules.coverage = None;
    genesis.modules.demand = Some(depin_core::services::demand::params::preset(
        vec![oracle.address()],
        100,
    ));
    genesis.modules.compute = Some(ComputeGenesis {
        claim_timeout_blocks: 10,
        reveal_timeout_blocks: 10,
        challenge_window_blocks: 3,
        ..ComputeGenesis::default()
    });
    let (url, _store) = start_network(&home, &genesis);
    let client = Client::new(&url);
    let mut feed = PriceFeed::new(
        &FeedArgs {
            every_blocks: 2,
            ..FeedArgs::default()
        },
        &url,
        oracle,
    )
    .expect("feed");
    feed.first_price().expect("the first price is accepted");
    oracle_feed::spawn(feed);

    let honest_args = fleet_args(4, 1, Behaviour::Honest, dir.path());
    let cheat_args = fleet_args(1, 2, Behaviour::Garbage, dir.path());
    let mut honest = Fleet::new(&honest_args, &url, dir.path()).expect("fleet");
    let mut cheat = Fleet::new(&cheat_args, &url, dir.path()).expect("fleet");
    honest.setup(&funder).expect("honest providers register");
    cheat.setup(&funder).expect("the cheater registers");
    let served =
        outputs::serve(dir.path().join("frames-1"), "127.0.0.1:0".parse().unwrap()).unwrap();

    // The requester's scene, where the providers find it, and its job: every task checked.
    let spec = SceneSpec {
        scene: "julia".into(),
        width: 32,
        height: 24,
        max_iter: 48,
        seed: 3,
    };
    std::fs::create_dir_all(dir.path().join("specs")).unwrap();
    std::fs::write(
        dir.path()
            .join("specs")
            .join(format!("{}.json", spec.hash().to_hex())),
        spec.to_json().to_string(),
    )
    .unwrap();
    send(
        &client,
        &requester,
        Action::from(BuyCredits {
            tokens: Amount(100_000_000),
            min_credits: 0,
            to: requester.address(),
        }),
    );
    let tip = blocks::height(&client).unwrap();
    let frames = 4u32;
    send(
        &client,
        &requester,
        Action::from(PostJob {
            spec_hash: spec.hash(),
            tasks: frames,
            unit: Unit::Frame,
            units_per_task: 1,
            price_per_unit: 10_000,
            deadline_height: tip + 600,
            min_tier: 0,
            mode: VerifyMode::SpotCheck { rate_bps: 10_000 },
            canary_commitment: None,
        }),
    );

    // The cheater races for the open slots first; then everyone works until the job settles.
    let started = Instant::now();
    loop {
        cheat.step().expect("cheater step");
        honest.step().expect("honest step");
        let job = client.get("/v1/compute/jobs/0").unwrap();
        if job["settled"].as_u64() == Some(u64::from(frames)) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "the job did not settle: {job}"
        );
    }
    let job = client.get("/v1/compute/jobs/0").unwrap();
    let mut cheats_caught = 0;
    for t in job["task_records"].as_array().unwrap() {
        assert_eq!(t["state"], "verified", "{t}");
        let task = t["task"].as_u64().unwrap() as u32;
        let expected = frame_hash(&render(&spec, task));
        for s in t["slots"].as_array().unwrap() {
            let result: Option<depin_core::Hash> = s["result"].as_str().map(|r| r.parse().unwrap());
            match s["fate"].as_str().unwrap() {
                "paid" => assert_eq!(result, Some(expected), "only correct frames are paid"),
                "wrong_result" => {
                    assert_ne!(result, Some(expected));
                    cheats_caught += 1;
                }
                _ => {}
            }
        }
        // The requester's copy: fetched from a provider and checked against the verified hash.
        let bytes = outputs::fetch(&format!("http://{served}"), &expected).unwrap();
        assert_eq!(bytes.map(|b| frame_hash(&b)), Some(expected));
    }
    assert!(
        cheats_caught > 0,
        "the garbage provider took slots and was caught: {job}"
    );
    let address = depin_agent::gpu::provider::device_address(cheat_args.seed, 0);
    let p = client
        .get(&format!("/v1/compute/providers/{address}"))
        .unwrap();
    assert_eq!(p["earned"], "0", "the cheater is unpaid: {p}");
    assert_ne!(p["slashed"], "0", "and slashed: {p}");

    // Every task settled: closing refunds the unused escrow.
    send(&client, &requester, Action::from(CloseJob { job: 0 }));
    let job = client.get("/v1/compute/jobs/0").unwrap();
    assert_eq!(job["state"], "closed");
    let escrowed: u128 = 10_000 * u128::from(frames) * 5;
    let paid: u128 = job["paid"].as_str().unwrap().parse().unwrap();
    let refunded: u128 = job["refunded"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        paid + refunded,
        escrowed,
        "escrow is paid or refunded: {job}"
    );
}

/// A requester commits false canary answers on three jobs beside four honest providers (the
/// `canary-grief` attack): every time, two of the honest providers are assigned as referees,
/// re-run the canary and agree with the provider, so the canary task ends `canary_disproved`:
/// the honest providers forfeit nothing and nobody is slashed, and the griefer pays the
/// provider and both referees for each job.
#[test]
fn a_griefing_requester_costs_honest_providers_nothing_once_referees_re_run_its_canary() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = Home::new(dir.path());
    let funder = Keypair::from_seed([2; 32]);
    let oracle = Keypair::from_seed([4; 32]);
    let mut genesis = test_genesis(
        CHAIN,
        &[(funder.address(), "100000"), (oracle.address(), "10")],
    );
    genesis.modules.coverage = None;
    genesis.modules.demand = Some(depin_core::services::demand::params::preset(
        vec![oracle.address()],
        100,
    ));
    genesis.modules.compute = Some(ComputeGenesis {
        claim_timeout_blocks: 10,
        reveal_timeout_blocks: 10,
        approval_timeout_blocks: 50,
        challenge_window_blocks: 3,
        ..ComputeGenesis::default()
    });
    let (url, _store) = start_network(&home, &genesis);
    let mut feed = PriceFeed::new(
        &FeedArgs {
            every_blocks: 2,
            ..FeedArgs::default()
        },
        &url,
        oracle,
    )
    .expect("feed");
    feed.first_price().expect("the first price is accepted");
    oracle_feed::spawn(feed);
    let mut args = depin_agent::attack::AttackArgs::new(depin_agent::attack::Strategy::CanaryGrief);
    args.seed = 11;
    let report = depin_agent::attack::canary_grief::measure(&args, &url, &funder, 3, dir.path())
        .expect("the attack runs");
    eprint!("{}", report.table());
    assert_eq!(report.jobs.len(), 3);
    for j in &report.jobs {
        assert_eq!(j.canary_outcome, "canary_disproved", "{j:?}");
        assert_eq!(j.fates, ["paid", "paid", "paid"], "{j:?}");
        assert_eq!(j.requester_paid, 3 * 10_000, "{j:?}");
    }
    assert_eq!(report.honest_forfeited, 0);
    assert_eq!(report.governance_slashes, 0);
    // Paid for three executions a job, less the work fee burned.
    assert!(
        report.honest_earned > 0 && report.honest_earned <= 9 * 10_000,
        "{report:?}"
    );
    assert!(report.requester_spent >= 9 * 10_000, "{report:?}");
}
