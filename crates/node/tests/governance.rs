//! Governance on a real node: stakers vote a reward change through and the next epoch is paid
//! under it (visible in the epoch summary); a proposal that fails changes nothing; a module's
//! voted parameters are what its API serves from the boundary on; the validators' endpoint lists
//! a candidate, and each epoch pays the validator its share.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{READ_BOUND, Running, get, send};
use depin_core::genesis::{Allocation, ConsensusParams, EconomicsGenesis, TokenParams};
use depin_core::modules::coverage::preset;
use depin_core::services::governance::GovernanceGenesis;
use depin_core::services::governance::actions::{
    Candidate, Choice, LockStake, ProposalKind, Propose, Vote,
};
use depin_core::{Action, Amount, Genesis, Keypair, Transaction};
use depin_node::{ApiLimits, Home, MempoolLimits, RunConfig};
use serde_json::Value;

const UNIT: u128 = 1_000_000;

fn staker(i: u8) -> Keypair {
    Keypair::from_seed([40 + i; 32])
}
fn treasury() -> Keypair {
    Keypair::from_seed([50; 32])
}

fn economics(treasury_bps: u32) -> EconomicsGenesis {
    EconomicsGenesis {
        emission_per_epoch: "1000".into(),
        halving_interval_epochs: 0,
        tail_per_epoch: "0".into(),
        treasury: treasury().address(),
        treasury_bps,
        pool_weights: Default::default(),
    }
}

fn genesis() -> Genesis {
    let mut gov = GovernanceGenesis::devnet();
    gov.voting_period_blocks = 4;
    gov.unbonding_blocks = 4;
    gov.min_proposal_stake = "10".into();
    // 5% of the emission to the validators (the treasury proposals below stay within 95%).
    gov.validator_reward_bps = 500;
    let mut g = Genesis {
        chain_id: "gov-node-test".into(),
        genesis_time_ms: 0,
        token: TokenParams {
            symbol: "DPN".into(),
            decimals: 6,
        },
        consensus: ConsensusParams {
            block_interval_ms: 100,
            epoch_length_blocks: 12,
            max_block_txs: 100,
            validator: Keypair::from_seed([3; 32]).address(),
            validators: Vec::new(),
        },
        allocations: (0..2)
            .map(|i| Allocation {
                address: staker(i).address(),
                amount: "1000".into(),
            })
            .collect(),
        economics: Some(economics(1_000)),
        fees: None,
        modules: Default::default(),
    };
    g.modules.governance = Some(gov);
    g.modules.coverage = Some(coverage(12));
    g
}

/// The coverage section with `reciprocity_windows`.
fn coverage(reciprocity_windows: u64) -> depin_core::modules::coverage::CoverageGenesis {
    let mut c = preset::single_region(preset::BERLIN, 4);
    c.rules.reciprocity_windows = reciprocity_windows;
    c
}

fn start() -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::new(dir.path());
    home.write_genesis(&genesis()).expect("genesis");
    home.save_key("validator", &Keypair::from_seed([3; 32]))
        .expect("key");
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let config = RunConfig {
            api_addr: "127.0.0.1:0".parse().expect("address"),
            mempool: MempoolLimits::default(),
            api: ApiLimits::default(),
        };
        runtime
            .block_on(depin_node::run(&home, config, |url, node| {
                tx.send((url.to_string(), node.clone())).expect("url");
            }))
            .expect("node runs");
    });
    let (url, node) = rx.recv_timeout(READ_BOUND).expect("the node starts");
    Running::new(
        url.trim_start_matches("http://").parse().expect("addr"),
        node,
        thread,
        dir,
    )
}

fn submit(addr: SocketAddr, key: &Keypair, nonce: u64, action: Action) {
    let tx = Transaction::sign(&genesis().network(), key, nonce, 1_000_000, action);
    let body = serde_json::to_vec(&tx).expect("json");
    let a = send(
        addr,
        b"POST /v1/tx HTTP/1.1\r\nContent-Type: application/json",
        &body,
    );
    assert!(
        a.status < 300,
        "{} {}",
        a.status,
        String::from_utf8_lossy(&a.body)
    );
}

/// Polls `path` until `done` holds of its JSON (at most a minute).
fn wait_for(addr: SocketAddr, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let a = get(addr, path);
        if a.status == 200 {
            let v = a.json();
            if done(&v) {
                return v;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{path} never got there"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn nonce_is(addr: SocketAddr, key: &Keypair, n: u64) {
    wait_for(addr, &format!("/v1/accounts/{}", key.address()), |v| {
        v["nonce"].as_u64() == Some(n)
    });
}

fn change(treasury_bps: u32) -> Action {
    Action::from(Propose {
        title: format!("treasury share {treasury_bps} bps"),
        change: ProposalKind::Economics {
            section: serde_json::to_string(&economics(treasury_bps)).unwrap(),
        },
    })
}

#[test]
fn a_voted_reward_change_pays_the_next_epoch_and_a_failed_one_changes_nothing() {
    let node = start();
    let addr = node.addr;
    for i in 0..2 {
        submit(
            addr,
            &staker(i),
            0,
            LockStake {
                amount: Amount(300 * UNIT),
            }
            .into(),
        );
    }
    for i in 0..2 {
        nonce_is(addr, &staker(i), 1);
    }
    // Proposal 0: the treasury's share from 10% to 50%. Proposal 1: to 90%, which nobody
    // votes for (no quorum).
    submit(addr, &staker(0), 1, change(5_000));
    nonce_is(addr, &staker(0), 2);
    submit(addr, &staker(1), 1, change(9_000));
    nonce_is(addr, &staker(1), 2);
    for i in 0..2 {
        submit(
            addr,
            &staker(i),
            2,
            Vote {
                proposal: 0,
                choice: Choice::Yes,
            }
            .into(),
        );
    }
    let applied = wait_for(addr, "/v1/governance/proposals/0", |v| {
        v["status"]["state"] == "applied"
    });
    let epoch = applied["status"]["epoch"]
        .as_u64()
        .expect("the epoch it applied at");
    assert_eq!(applied["votes"].as_array().map(Vec::len), Some(2));
    let failed = wait_for(addr, "/v1/governance/proposals/1", |v| {
        v["status"]["state"] != "voting"
    });
    assert_eq!(failed["status"]["state"], "rejected");
    assert_eq!(failed["status"]["code"], "no_quorum");
    assert!(failed["explanation"].as_str().unwrap().contains("quorum"));
    let params = get(addr, "/v1/governance/params").json();
    assert_eq!(
        params["params_in_force"]["economics"]["treasury_bps"],
        5_000
    );
    // The epoch the vote ended in was paid at 10%, the next one at 50%.
    let before = wait_for(addr, &format!("/v1/epochs/{}", epoch - 1), |_| true);
    let after = wait_for(addr, &format!("/v1/epochs/{epoch}"), |_| true);
    let treasury = |v: &Value| -> u128 {
        let t = &v["summary"]["treasury"];
        let t = if t.is_null() { &v["treasury"] } else { t };
        t.as_str().expect("treasury amount").parse().unwrap()
    };
    assert_eq!(treasury(&before), 100 * UNIT);
    assert_eq!(treasury(&after), 500 * UNIT);
    let list = get(addr, "/v1/governance/proposals").json();
    assert_eq!(list["proposals"].as_array().map(Vec::len), Some(2));
}

#[test]
fn a_voted_module_change_is_what_the_module_api_serves() {
    let node = start();
    let addr = node.addr;
    let windows = |v: &Value| v["coverage"]["rules"]["reciprocity_windows"].as_u64();
    assert_eq!(windows(&get(addr, "/v1/coverage/params").json()), Some(12));
    for i in 0..2 {
        let lock = LockStake {
            amount: Amount(300 * UNIT),
        };
        submit(addr, &staker(i), 0, lock.into());
    }
    for i in 0..2 {
        nonce_is(addr, &staker(i), 1);
    }
    let propose = Propose {
        title: "reciprocity over 20 windows".into(),
        change: ProposalKind::ModuleParams {
            module: "coverage".into(),
            section: serde_json::to_string(&coverage(20)).unwrap(),
        },
    };
    submit(addr, &staker(0), 1, propose.into());
    nonce_is(addr, &staker(0), 2);
    for (i, nonce) in [(0, 2), (1, 1)] {
        let vote = Vote {
            proposal: 0,
            choice: Choice::Yes,
        };
        submit(addr, &staker(i), nonce, vote.into());
    }
    wait_for(addr, "/v1/governance/proposals/0", |v| {
        v["status"]["state"] == "applied"
    });
    // Agents read their rules here: the node serves the parameters in force, not the genesis'.
    assert_eq!(windows(&get(addr, "/v1/coverage/params").json()), Some(20));
}

/// `/v1/governance/validators` lists a declared candidate with its backing (the election is off
/// on this network: the solo validator keeps the set), the solo validator's turns are counted,
/// and every epoch pays it the whole validators' share (5% of 1,000 tokens): every turn of a
/// solo epoch is its own.
#[test]
fn the_validators_endpoint_lists_candidates_and_each_epoch_pays_the_validator() {
    let node = start();
    let addr = node.addr;
    let lock = LockStake {
        amount: Amount(100 * UNIT),
    };
    submit(addr, &staker(0), 0, lock.into());
    nonce_is(addr, &staker(0), 1);
    submit(addr, &staker(0), 1, Candidate { candidate: true }.into());
    nonce_is(addr, &staker(0), 2);
    let v = get(addr, "/v1/governance/validators").json();
    assert_eq!(v["election"], false, "{v}");
    assert_eq!(v["validator_reward_bps"], 500);
    let me = serde_json::to_value(staker(0).address()).unwrap();
    let c = &v["candidates"][0];
    assert_eq!(c["address"], me, "{v}");
    assert_eq!(
        c["backing"],
        serde_json::to_value(Amount(100 * UNIT)).unwrap()
    );
    assert_eq!(c["qualifies"], true);
    assert_eq!(c["elected_next"], false, "no election: {v}");
    let validator = serde_json::to_value(Keypair::from_seed([3; 32]).address()).unwrap();
    assert_eq!(v["validators"][0]["address"], validator);
    assert!(v["validators"][0]["turns_this_epoch"]["produced"].as_u64() > Some(0));
    let e = wait_for(addr, "/v1/epochs/0", |_| true);
    let s = if e["summary"].is_null() {
        &e
    } else {
        &e["summary"]
    };
    let pool = serde_json::to_value(Amount(50 * UNIT)).unwrap();
    assert_eq!(s["validator_pool"], pool, "{e}");
    assert_eq!(s["validator_paid"], pool, "{e}");
    assert_eq!(
        s["validator_forfeited"],
        serde_json::to_value(Amount::ZERO).unwrap()
    );
}
