//! Slashing end to end (issue 18): a storage provider whose deal is terminated for failed
//! proofs, and a compute provider whose result the referees prove wrong, lose the governance
//! stake of the account that owns them, by the rule the parameters set, once per evidence;
//! the supply and the stake escrow balance to the base unit, and the slash record explains why.

mod common;

use common::compute::*;
use common::storage::*;
use common::*;
use depin_core::modules::compute::ComputeView;
use depin_core::modules::compute::actions::{
    Canary, ClaimTask, CommitResult, PostJob, ProcessorClass, RegisterProvider, RevealCanaries,
    RevealResult, Unit, VerifyMode, canary_commitment, result_commitment, result_tag,
    sign_onboarding,
};
use depin_core::modules::compute::fate::{SlotFate, TaskOutcome};
use depin_core::modules::storage::StorageView;
use depin_core::modules::storage::actions::AddCollateral;
use depin_core::modules::storage::params::GIB;
use depin_core::modules::storage::records::DealStatus;
use depin_core::services::governance::actions::LockStake;
use depin_core::services::governance::records::GovernanceView;
use depin_core::services::governance::{SlashRecord, SlashRule, stake_escrow};
use depin_core::{Action, Amount, Genesis, Hash, Keypair, Receipt};

/// Tokens every slashed owner locks as stake.
const STAKED: u128 = 400;
/// The slash rules of these networks: a quarter of the owner's stake.
const SLASH_BPS: u32 = 2_500;

fn lock(net: &mut Net, who: &Keypair, tokens: u128) {
    let a = Action::from(LockStake {
        amount: Amount(tokens * TOKEN),
    });
    assert_eq!(net.send(who, a), Receipt::Success);
}

fn slashing(g: &mut Genesis) {
    let gov = g.modules.governance.as_mut().unwrap();
    gov.slash_storage_bps = SLASH_BPS;
    gov.slash_compute_bps = SLASH_BPS;
}

/// The sum of balances is the supply, and the stake escrow holds exactly the stake.
fn conserved(net: &Net) {
    net.supply_is_consistent();
    let t = net.state.stake_totals();
    let escrow = net
        .state
        .account(&stake_escrow())
        .map_or(0, |a| a.balance.0);
    assert_eq!(
        escrow,
        t.bonded.0 + t.unbonding.0,
        "escrow = bonded + unbonding"
    );
}

/// Checks that `who` was slashed once, by `rule`, a quarter of [`STAKED`], burned, and that
/// the record's explanation says why; returns the record.
fn slashed_once(net: &Net, who: &Keypair, rule: SlashRule, why: &str) -> SlashRecord {
    let records: Vec<SlashRecord> = net
        .state
        .slashes(100)
        .into_iter()
        .filter(|s| s.offender == who.address())
        .collect();
    assert_eq!(records.len(), 1, "one slash per evidence: {records:?}");
    let s = records[0].clone();
    assert_eq!((s.rule, s.bps, s.burned), (rule, SLASH_BPS, true));
    assert_eq!(s.amount.0, STAKED * TOKEN * u128::from(SLASH_BPS) / 10_000);
    assert_eq!(
        net.state.stake_of(&who.address()).amount.0,
        STAKED * TOKEN - s.amount.0,
        "the cut comes off the owner's bonded stake"
    );
    let text = s.explain(net.state.params().decimals);
    assert!(text.contains(why), "{text}");
    assert!(text.contains("100 tokens"), "{text}");
    assert!(text.contains("burned"), "{text}");
    s
}

/// A storage deal missed past the fault limit is terminated and its provider's owner loses a
/// quarter of its stake, once; an honest provider of the same owner on another deal changes
/// nothing more. The supply falls by exactly the slash (it is burned).
#[test]
fn a_terminated_storage_deal_slashes_its_provider_s_owner() {
    let mut net = Net::new(demand_genesis(1, |g| {
        with_storage(g);
        slashing(g);
    }));
    let a = price_action(&net, HALF_DOLLAR);
    assert_eq!(net.send(&oracle(0), a), Receipt::Success);
    assert_eq!(
        net.send(&fleet(), buy(1_000 * TOKEN, &fleet())),
        Receipt::Success
    );
    let p = provider_key(0);
    assert_eq!(
        net.send(&owner(), register_action(&p, GIB)),
        Receipt::Success
    );
    let collateral = Action::from(AddCollateral {
        device: p.address(),
        amount: Amount(100 * TOKEN),
    });
    assert_eq!(net.send(&owner(), collateral), Receipt::Success);
    lock(&mut net, &owner(), STAKED);
    let data = shard(3, 40_000);
    let deal = net.state.storage_meta().next_deal;
    let t = terms(&net, &fleet(), &p, &data, 10);
    assert_eq!(net.send(&fleet(), open_action(t, &p)), Receipt::Success);
    conserved(&net);
    let burned = net.state.meta().burned.0;
    let start = net.state.deal(deal).unwrap().start_period;
    // Four missed periods: the limit is three in a row.
    for period in start..start + 4 {
        let (_, last) = window(&net, deal, period);
        while net.state.height() < last {
            net.block(vec![]);
            conserved(&net);
        }
    }
    assert_eq!(
        net.state.deal(deal).unwrap().status,
        DealStatus::TerminatedFaults
    );
    let s = slashed_once(
        &net,
        &owner(),
        SlashRule::StorageDeal,
        "storage deal was terminated for failed proofs",
    );
    assert_eq!(
        s.evidence,
        Hash::tagged("depin/storage/terminated/v1", &[&deal.to_be_bytes()])
    );
    // Nothing else burned tokens meanwhile (empty blocks; the terminated deal pays the client
    // its collateral, a transfer): the burn counter rose by the slash.
    assert_eq!(net.state.meta().burned.0 - burned, s.amount.0);
    // More blocks do not slash the same deal again.
    for _ in 0..2 * WINDOW {
        net.block(vec![]);
    }
    slashed_once(&net, &owner(), SlashRule::StorageDeal, "failed proofs");
    conserved(&net);
    net.replays_identically();
}

fn salt(i: u8) -> Hash {
    Hash::tagged("salt", &[&[i]])
}

/// A network with compute and slashing, its price set, the requester and `providers` owners
/// holding credits, each owner staked and running one GPU provider.
fn compute_net(providers: u8) -> Net {
    let mut net = Net::new(compute_genesis(providers, slashing));
    let a = price_action(&net, HALF_DOLLAR);
    assert_eq!(net.send(&oracle(0), a), Receipt::Success);
    for key in std::iter::once(requester()).chain((0..providers).map(owner_of)) {
        assert_eq!(net.send(&key, buy(20 * TOKEN, &key)), Receipt::Success);
    }
    for i in 0..providers {
        let owner = owner_of(i);
        lock(&mut net, &owner, STAKED);
        let r = RegisterProvider {
            device: device(i).address(),
            class: ProcessorClass::Gpu,
            benchmark: 10,
            stake: 200_000,
            device_signature: sign_onboarding(CHAIN_ID, &owner.address(), &device(i)),
        };
        assert_eq!(net.send(&owner, r.into()), Receipt::Success);
    }
    net
}

/// Two replicas disagree, three referees side with the honest one: the garbage provider's
/// result is proven wrong (`wrong_result`) and its owner loses a quarter of its stake, while
/// the honest providers' owners (also staked) lose nothing.
#[test]
fn a_compute_result_proven_wrong_slashes_its_provider_s_owner() {
    const PROVIDERS: u8 = 5;
    let compute = test_params();
    let mut net = compute_net(PROVIDERS);
    let job = net.state.next_job_id();
    let post = PostJob {
        spec_hash: Hash::tagged("spec", &[]),
        tasks: 1,
        unit: Unit::Frame,
        units_per_task: 1,
        price_per_unit: 1_000,
        deadline_height: net.state.height() + 100,
        min_tier: 0,
        mode: VerifyMode::Redundant { replicas: 2 },
        canary_commitment: None,
    };
    assert_eq!(net.send(&requester(), post.into()), Receipt::Success);
    let honest = Hash::tagged("output", &[&job.to_le_bytes()]);
    let garbage = Hash::tagged("garbage", &[&job.to_le_bytes()]);
    let answers = [
        (0, honest),
        (1, garbage),
        (2, honest),
        (3, honest),
        (4, honest),
    ];
    let open_up = |net: &mut Net| {
        for _ in 0..=compute.claim_timeout_blocks {
            net.block(vec![]);
        }
    };
    // The two replicas, then (their tags disagree) three referees; slots after the first are
    // assigned, and open to anyone once the claim timeout passes.
    for (round, range) in [(0, 0..2), (1, 2..5)] {
        open_up(&mut net);
        for (i, result) in &answers[range] {
            let d = device(*i);
            let claim = ClaimTask { job, task: 0 };
            assert_eq!(net.send(&d, claim.into()), Receipt::Success, "claim {i}");
            let commit = CommitResult {
                job,
                task: 0,
                commitment: result_commitment(job, 0, &d.address(), result, &salt(*i)),
                tag: result_tag(job, 0, result),
            };
            assert_eq!(net.send(&d, commit.into()), Receipt::Success, "commit {i}");
        }
        if round == 0 {
            assert!(net.state.task(job, 0).unwrap().referees_called.is_some());
        }
    }
    net.block(vec![]);
    let burned = net.state.meta().burned.0;
    for (i, result) in answers {
        let reveal = RevealResult {
            job,
            task: 0,
            result,
            salt: salt(i),
        };
        assert_eq!(
            net.send(&device(i), reveal.into()),
            Receipt::Success,
            "reveal {i}"
        );
        conserved(&net);
    }
    let task = net.state.task(job, 0).unwrap();
    assert_eq!(task.outcome, Some(TaskOutcome::Verified));
    let fate = |i: u8| {
        task.slots
            .iter()
            .find(|s| s.device == device(i).address())
            .map(|s| s.fate)
            .unwrap()
    };
    assert_eq!(fate(1), SlotFate::WrongResult);
    let s = slashed_once(
        &net,
        &owner_of(1),
        SlashRule::ComputeResult,
        "compute result was proven wrong",
    );
    for i in [0, 2, 3, 4] {
        assert_ne!(fate(i), SlotFate::WrongResult);
        assert_eq!(
            net.state.stake_of(&owner_of(i).address()).amount.0,
            STAKED * TOKEN,
            "an honest provider's owner keeps its stake"
        );
    }
    // The reveals' fees are in credits (demand runs): only the slash burned tokens.
    assert_eq!(net.state.meta().burned.0 - burned, s.amount.0);
    conserved(&net);
    net.replays_identically();
}

/// Claims and commits `result` on `task` for each provider `i` (past the claim timeout, so
/// assigned slots are open to anyone).
fn referees_work(net: &mut Net, job: u64, task: u32, providers: &[u8], result: Hash) {
    for _ in 0..=test_params().claim_timeout_blocks {
        net.block(vec![]);
    }
    for &i in providers {
        let d = device(i);
        let claim = ClaimTask { job, task };
        assert_eq!(net.send(&d, claim.into()), Receipt::Success, "claim {i}");
        let commit = CommitResult {
            job,
            task,
            commitment: result_commitment(job, task, &d.address(), &result, &salt(i)),
            tag: result_tag(job, task, &result),
        };
        assert_eq!(net.send(&d, commit.into()), Receipt::Success, "commit {i}");
    }
    net.block(vec![]);
    for &i in providers {
        let reveal = RevealResult {
            job,
            task,
            result,
            salt: salt(i),
        };
        assert_eq!(net.send(&device(i), reveal.into()), Receipt::Success);
        conserved(net);
    }
}

/// A canary job on which provider 1 answers `given` for the canary task 1 whose answer the
/// requester committed as `answer`, and provider 0 does task 0 right; the canaries are
/// revealed. Returns the job.
fn canary_job(net: &mut Net, given: Hash, answer: Hash) -> u64 {
    let canaries = vec![Canary {
        task: 1,
        result: answer,
    }];
    let job_salt = Hash::tagged("requester salt", &[]);
    let job = net.state.next_job_id();
    let post = PostJob {
        spec_hash: Hash::tagged("spec", &[]),
        tasks: 2,
        unit: Unit::Frame,
        units_per_task: 1,
        price_per_unit: 1_000,
        deadline_height: net.state.height() + 100,
        min_tier: 0,
        mode: VerifyMode::Canary,
        canary_commitment: Some(canary_commitment(&job_salt, &canaries)),
    };
    assert_eq!(net.send(&requester(), post.into()), Receipt::Success);
    let honest = Hash::tagged("output", &[&job.to_le_bytes()]);
    let work = [(0u8, 0u32, honest), (1, 1, given)];
    for (i, task, result) in work {
        let d = device(i);
        let claim = ClaimTask { job, task };
        assert_eq!(net.send(&d, claim.into()), Receipt::Success, "claim {i}");
        let commit = CommitResult {
            job,
            task,
            commitment: result_commitment(job, task, &d.address(), &result, &salt(i)),
            tag: result_tag(job, task, &result),
        };
        assert_eq!(net.send(&d, commit.into()), Receipt::Success, "commit {i}");
    }
    net.block(vec![]);
    for (i, task, result) in work {
        let reveal = RevealResult {
            job,
            task,
            result,
            salt: salt(i),
        };
        assert_eq!(net.send(&device(i), reveal.into()), Receipt::Success);
        conserved(net);
    }
    let reveal = RevealCanaries {
        job,
        salt: job_salt,
        canaries,
    };
    assert_eq!(net.send(&requester(), reveal.into()), Receipt::Success);
    // Nobody is slashed on the requester's word: referees re-run the canary task first.
    let task = net.state.task(job, 1).unwrap();
    assert!(
        task.referees_called.is_some() && task.outcome.is_none(),
        "{task:?}"
    );
    assert!(net.state.slashes(100).is_empty(), "nothing proven yet");
    conserved(net);
    job
}

/// A griefing requester commits a false answer for a canary task that provider 1 does right:
/// the referees re-run it and agree with the provider, so the task ends `canary_disproved`,
/// the provider is paid and keeps its bond, and nobody's governance stake is slashed; the
/// requester's escrow paid the referees.
#[test]
fn a_false_canary_answer_slashes_nobody_once_referees_agree_with_the_provider() {
    let mut net = compute_net(4);
    let truth = Hash::tagged("the real frame", &[]);
    let job = canary_job(&mut net, truth, Hash::tagged("a false answer", &[]));
    let bond_before = ComputeView::provider(&net.state, &device(1).address())
        .unwrap()
        .stake;
    referees_work(&mut net, job, 1, &[2, 3], truth);
    let task = net.state.task(job, 1).unwrap();
    assert_eq!(task.outcome, Some(TaskOutcome::CanaryDisproved));
    assert!(
        task.slots.iter().all(|s| s.fate == SlotFate::Paid),
        "{task:?}"
    );
    assert_eq!(
        ComputeView::provider(&net.state, &device(1).address())
            .unwrap()
            .stake,
        bond_before
    );
    assert!(net.state.slashes(100).is_empty());
    for i in 0..4 {
        assert_eq!(
            net.state.stake_of(&owner_of(i).address()).amount.0,
            STAKED * TOKEN
        );
    }
    let j = net.state.job(job).unwrap();
    assert_eq!(
        j.paid,
        3 * 1_000,
        "the provider and two referees, from the escrow"
    );
    assert!(j.caught.is_empty() && j.disputed.is_empty());
    conserved(&net);
    net.replays_identically();
}

/// A canary job: provider 1 returns garbage on the task whose answer the requester knew, and
/// provider 0 does its task right. Revealing the canaries calls referees; once they agree with
/// the requester, provider 1 is proven wrong (`canary_failed`): its bond is forfeited and its
/// owner loses a quarter of its stake, once, like a result outvoted after referees; the honest
/// providers' owners keep all of their stake. Credits, the supply and the stake escrow balance
/// throughout.
#[test]
fn a_failed_canary_slashes_its_provider_s_owner() {
    let mut net = compute_net(4);
    let known = Hash::tagged("known answer", &[]);
    let job = canary_job(&mut net, Hash::tagged("garbage", &[]), known);
    let burned = net.state.meta().burned.0;
    referees_work(&mut net, job, 1, &[2, 3], known);
    let task = net.state.task(job, 1).unwrap();
    assert_eq!(task.outcome, Some(TaskOutcome::Failed));
    assert_eq!(task.slots[0].fate, SlotFate::CanaryFailed);
    assert!(
        task.slots[1..].iter().all(|s| s.fate == SlotFate::Paid),
        "referees paid"
    );
    let s = slashed_once(
        &net,
        &owner_of(1),
        SlashRule::ComputeResult,
        "differed from the known answer of a canary task",
    );
    assert_eq!(
        s.evidence,
        Hash::tagged(
            "depin/compute/canary-failed/v1",
            &[
                &job.to_be_bytes(),
                &1u32.to_be_bytes(),
                &device(1).address().0
            ]
        )
    );
    for i in [0, 2, 3] {
        assert_eq!(
            net.state.stake_of(&owner_of(i).address()).amount.0,
            STAKED * TOKEN,
            "an honest provider's owner keeps its stake"
        );
    }
    // The reveal's fee is in credits (demand runs): only the slash burned tokens.
    assert_eq!(net.state.meta().burned.0 - burned, s.amount.0);
    conserved(&net);
    // More blocks, and the honest task's approval by timeout, slash nobody again.
    for _ in 0..8 {
        net.block(vec![]);
    }
    slashed_once(&net, &owner_of(1), SlashRule::ComputeResult, "canary task");
    conserved(&net);
    net.replays_identically();
}
