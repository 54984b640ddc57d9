//! The compute module through whole blocks: providers staking credits behind a benchmark, jobs
//! escrowed at posting, time-limited claims, commit-then-reveal, each verification mode
//! (redundant with a referee round, spot-check, canaries, requester approval with its timeout),
//! every refusal's reason code and every penalty's, exact credit accounting under random
//! activity, capacity-challenge shares at the epoch close, and the cheaters' balance sheets.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::compute::*;
use common::*;
use depin_core::economics::EconomyView;
use depin_core::modules::ModuleRejection;
use depin_core::modules::compute::actions::{
    AddStake, AnswerChallenge, Canary, ClaimTask, ClaimTasks, CloseJob, CommitResult,
    CommitResults, JudgeTasks, PostJob, ProcessorClass, RegisterProvider, RevealCanaries,
    RevealResult, RevealResults, SettleTask, Unit, VerifyMode, WithdrawStake, canary_commitment,
    challenge_target, result_commitment, result_tag, sign_onboarding, solve_challenge,
};
use depin_core::modules::compute::fate::{SlotFate, TaskOutcome};
use depin_core::modules::compute::params::{CHALLENGE_NONCES, MAX_TASK_BATCH};
use depin_core::modules::compute::records::{Job, Role, Task};
use depin_core::modules::compute::settle::{assigned_provider, slot_opening, spot_selected};
use depin_core::modules::compute::{ComputeGenesis, ComputeRejection, ComputeView};
use depin_core::services::demand::records::{CreditBalance, DemandView, credits_key};
use depin_core::services::devices::RetireDevice;
use depin_core::{Action, Address, Genesis, Hash, Keypair, Receipt, Rejection, StateRead};
use proptest::prelude::*;

/// Credits one task pays (one unit at this price).
const PRICE: u128 = 1_000;
/// What the provider is paid of it, after the 5% work fee.
const EARNED: u128 = 950;
/// Benchmark every test provider declares.
const BENCH: u64 = 10;
/// Credits every provider stakes.
const STAKE: u128 = 200_000;
/// Providers the tests use, at most.
const PROVIDERS: u8 = 8;

/// A compute network with its keys' credits bought, recording every code its actions got.
struct World {
    net: Net,
    seen: BTreeSet<&'static str>,
}

impl World {
    fn new() -> World {
        World::with(|_| {})
    }

    fn with(edit: impl FnOnce(&mut Genesis)) -> World {
        let mut net = Net::new(compute_genesis(PROVIDERS, edit));
        let a = price_action(&net, HALF_DOLLAR);
        assert_eq!(net.send(&oracle(0), a), Receipt::Success);
        let mut w = World {
            net,
            seen: BTreeSet::new(),
        };
        // 20 tokens at $0.50 buy 1,000,000 credits each.
        for key in std::iter::once(requester()).chain((0..PROVIDERS).map(owner_of)) {
            assert_eq!(w.act(&key, buy(20 * TOKEN, &key)), "success");
        }
        w
    }

    /// Sends one action in its own block; returns and records its code.
    fn act(&mut self, key: &Keypair, action: impl Into<Action>) -> &'static str {
        code(&self.receipt(key, action))
    }

    /// Sends one action in its own block; records its code (and a refused batch item's) and
    /// returns the receipt.
    fn receipt(&mut self, key: &Keypair, action: impl Into<Action>) -> Receipt {
        let r = self.net.send(key, action.into());
        self.seen.insert(code(&r));
        if let Some((_, inner)) = refused_item(&r) {
            let known = ComputeRejection::CODES.iter().find(|c| **c == inner);
            self.seen.insert(known.expect("a compute code"));
        }
        r
    }

    /// Sends `actions` signed by `key` in one block, each with the next nonce; all must pass.
    fn batch(&mut self, key: &Keypair, actions: Vec<Action>) {
        let nonce = self.net.nonce(key);
        let txs = actions
            .into_iter()
            .enumerate()
            .map(|(n, a)| self.net.tx_at(key, nonce + n as u64, a))
            .collect();
        for r in self.net.block(txs) {
            assert_eq!(code(&r), "success");
        }
    }

    /// Waits out the assignment of verifying slots (replicas after the first, spot-checks,
    /// referees): past the claim timeout they are open to every provider.
    fn open_up(&mut self) {
        self.pass(test_params().claim_timeout_blocks + 1);
    }

    fn pass(&mut self, blocks: u64) {
        for _ in 0..blocks {
            self.net.block(vec![]);
        }
    }

    fn height(&self) -> u64 {
        self.net.state.height()
    }

    fn register_as(&mut self, i: u8, benchmark: u64, stake: u128) -> &'static str {
        let owner = owner_of(i);
        let a = RegisterProvider {
            device: device(i).address(),
            class: ProcessorClass::Gpu,
            benchmark,
            stake,
            device_signature: sign_onboarding(CHAIN_ID, &owner.address(), &device(i)),
        };
        self.act(&owner, a)
    }

    fn register(&mut self, i: u8) {
        assert_eq!(self.register_as(i, BENCH, STAKE), "success");
    }

    fn post_as(&mut self, edit: impl FnOnce(&mut PostJob)) -> (&'static str, u64) {
        let id = self.net.state.next_job_id();
        let mut a = PostJob {
            spec_hash: Hash::tagged("spec", &[]),
            tasks: 4,
            unit: Unit::Frame,
            units_per_task: 1,
            price_per_unit: PRICE,
            deadline_height: self.height() + 100,
            min_tier: 0,
            mode: VerifyMode::Approval,
            canary_commitment: None,
        };
        edit(&mut a);
        (self.act(&requester(), a), id)
    }

    fn post(&mut self, mode: VerifyMode, tasks: u32) -> u64 {
        let (c, id) = self.post_as(|a| {
            a.mode = mode;
            a.tasks = tasks;
        });
        assert_eq!(c, "success");
        id
    }

    fn claim(&mut self, i: u8, job: u64, task: u32) -> &'static str {
        self.act(&device(i), ClaimTask { job, task })
    }

    fn commit(&mut self, i: u8, job: u64, task: u32, result: Hash) -> &'static str {
        let d = device(i).address();
        let commitment = result_commitment(job, task, &d, &result, &salt(i));
        self.act(
            &device(i),
            CommitResult {
                job,
                task,
                commitment,
                tag: result_tag(job, task, &result),
            },
        )
    }

    fn reveal(&mut self, i: u8, job: u64, task: u32, result: Hash) -> &'static str {
        self.act(
            &device(i),
            RevealResult {
                job,
                task,
                result,
                salt: salt(i),
            },
        )
    }

    /// Claims and commits `result` (no reveal).
    fn work(&mut self, i: u8, job: u64, task: u32, result: Hash) {
        assert_eq!(self.claim(i, job, task), "success", "claim by {i}");
        assert_eq!(
            self.commit(i, job, task, result),
            "success",
            "commit by {i}"
        );
    }

    fn job(&self, id: u64) -> Job {
        self.net.state.job(id).unwrap()
    }

    fn task(&self, job: u64, task: u32) -> Task {
        self.net.state.task(job, task).unwrap_or_default()
    }

    fn fate(&self, job: u64, task: u32, i: u8) -> SlotFate {
        let d = device(i).address();
        self.task(job, task)
            .slots
            .iter()
            .rev()
            .find(|s| s.device == d)
            .map(|s| s.fate)
            .unwrap()
    }

    fn credits(&self, key: &Keypair) -> u128 {
        self.net.state.credits(&key.address()).map_or(0, |c| c.own)
    }

    fn stake(&self, i: u8) -> u128 {
        self.net.state.provider(&device(i).address()).unwrap().stake
    }

    /// Passes blocks until the next few are well inside one epoch (a challenge's seed block
    /// must be in the epoch it answers).
    fn mid_epoch(&mut self) {
        while !(5..40).contains(&(self.height() % EPOCH_BLOCKS)) {
            self.pass(1);
        }
    }

    fn answer_challenge(&mut self, i: u8) -> &'static str {
        self.mid_epoch();
        let seed_height = self.height();
        self.pass(1);
        let seed = self.net.state.entropy(seed_height).unwrap();
        let p = test_params();
        let bench = self
            .net
            .state
            .provider(&device(i).address())
            .unwrap()
            .benchmark;
        let target = challenge_target(bench, p.challenge_hashes_per_score);
        let nonces = solve_challenge(&seed, &device(i).address(), target, CHALLENGE_NONCES);
        self.act(
            &device(i),
            AnswerChallenge {
                seed_height,
                nonces,
            },
        )
    }
}

/// The item a refused batch names, and the item's own code.
fn refused_item(r: &Receipt) -> Option<(u32, String)> {
    match r {
        Receipt::Rejected(Rejection::Module(ModuleRejection::Compute(
            ComputeRejection::BatchItemRefused { index, code, .. },
        ))) => Some((*index, code.clone())),
        _ => None,
    }
}

fn claims(job: u64, tasks: &[u32]) -> ClaimTasks {
    ClaimTasks {
        items: tasks.iter().map(|&task| ClaimTask { job, task }).collect(),
    }
}

fn commits(i: u8, job: u64, tasks: &[u32], result: impl Fn(u32) -> Hash) -> CommitResults {
    let d = device(i).address();
    CommitResults {
        items: tasks
            .iter()
            .map(|&task| CommitResult {
                job,
                task,
                commitment: result_commitment(job, task, &d, &result(task), &salt(i)),
                tag: result_tag(job, task, &result(task)),
            })
            .collect(),
    }
}

fn reveals(i: u8, job: u64, tasks: &[u32], result: impl Fn(u32) -> Hash) -> RevealResults {
    RevealResults {
        items: tasks
            .iter()
            .map(|&task| RevealResult {
                job,
                task,
                result: result(task),
                salt: salt(i),
            })
            .collect(),
    }
}

fn salt(i: u8) -> Hash {
    Hash::tagged("salt", &[&[i]])
}

/// The correct output of a task (what an honest provider computes).
fn honest(job: u64, task: u32) -> Hash {
    Hash::tagged("output", &[&job.to_le_bytes(), &task.to_le_bytes()])
}

/// A cheap wrong answer.
fn garbage(job: u64, task: u32) -> Hash {
    Hash::tagged("garbage", &[&job.to_le_bytes(), &task.to_le_bytes()])
}

/// Every credit is held by an account, escrowed or staked in the module, paid to a device,
/// forfeited, or spent on fees: nothing appears or vanishes.
fn credits_balance(net: &Net) {
    let table = &credits_key(&Address([0; 32]))[..2];
    let (mut held, mut bought, mut fees) = (0u128, 0u128, 0u128);
    for (_, v) in net.state.scan_prefix(table, usize::MAX) {
        let c: CreditBalance = depin_core::Decode::from_bytes(&v).unwrap();
        held += c.own + c.delegated;
        bought += c.bought;
        fees += c.spent_on_fees;
    }
    let t = net.state.totals();
    assert_eq!(
        held + t.held() + t.paid + t.fees + t.slashed + fees,
        bought,
        "credits: held + escrowed/staked + paid + work fees + forfeited + fees = bought ({t:?})"
    );
    let (mut escrow, mut stake) = (0u128, 0u128);
    for (_, job) in net.state.jobs(0, usize::MAX) {
        assert_eq!(
            job.escrow + job.paid + job.refunded,
            job.task_payment() * u128::from(job.tasks) * u128::from(job.mode.max_executions()),
            "a job's escrow is paid, refunded or still held"
        );
        escrow += job.escrow;
    }
    for i in 0..PROVIDERS {
        if let Some(p) = net.state.provider(&device(i).address()) {
            assert!(p.bonded <= p.stake, "bonds are backed");
            stake += p.stake;
        }
    }
    assert_eq!(t.escrowed - t.paid - t.fees - t.refunded, escrow);
    assert_eq!(t.staked - t.unstaked - t.slashed, stake);
}

// ---------------------------------------------------------------------------------------------
// Scenarios. Each drives one part of the protocol and checks its money; `every_code` runs them
// all and checks that every reason code and every fate was produced.

fn providers_register_and_manage_stake(w: &mut World) {
    let d0 = device(0).address();
    assert_eq!(w.register_as(0, 0, STAKE), "benchmark_out_of_range");
    assert_eq!(w.register_as(0, BENCH, 999), "stake_too_low");
    assert_eq!(w.register_as(0, BENCH, 50_000_000), "insufficient_credits");
    let before = w.credits(&owner_of(0));
    w.register(0);
    assert_eq!(
        w.credits(&owner_of(0)),
        before - STAKE - 10_000 - w.net.last_fee,
        "stake, the onboarding fee and the transaction's fee come from credits"
    );
    assert_eq!(w.register_as(0, BENCH, STAKE), "device_exists");
    assert_eq!(
        w.act(
            &owner_of(1),
            AddStake {
                device: d0,
                credits: 5
            }
        ),
        "not_device_owner"
    );
    assert_eq!(
        w.act(
            &owner_of(0),
            AddStake {
                device: d0,
                credits: 0
            }
        ),
        "zero_credits"
    );
    assert_eq!(
        w.act(
            &owner_of(0),
            AddStake {
                device: d0,
                credits: u128::MAX / 2
            }
        ),
        "insufficient_credits"
    );
    assert_eq!(
        w.act(
            &owner_of(0),
            AddStake {
                device: d0,
                credits: 500
            }
        ),
        "success"
    );
    // The benchmark keeps BENCH * 100 credits locked.
    let free = STAKE + 500 - u128::from(BENCH) * 100;
    assert_eq!(
        w.act(
            &owner_of(0),
            WithdrawStake {
                device: d0,
                credits: free + 1
            }
        ),
        "insufficient_free_stake"
    );
    assert_eq!(
        w.act(
            &owner_of(0),
            WithdrawStake {
                device: d0,
                credits: 500
            }
        ),
        "success"
    );
    assert_eq!(w.stake(0), STAKE);
    let stranger = Keypair::from_seed([77; 32]).address();
    assert_eq!(
        w.act(
            &owner_of(0),
            WithdrawStake {
                device: stranger,
                credits: 1
            }
        ),
        "unknown_provider"
    );
    credits_balance(&w.net);
}

fn jobs_are_checked_and_escrowed(w: &mut World) {
    let h = w.height();
    assert_eq!(w.post_as(|a| a.tasks = 0).0, "empty_job");
    assert_eq!(w.post_as(|a| a.tasks = 5_000).0, "too_many_tasks");
    assert_eq!(
        w.post_as(|a| a.mode = VerifyMode::Redundant { replicas: 1 })
            .0,
        "bad_replicas"
    );
    assert_eq!(
        w.post_as(|a| a.mode = VerifyMode::SpotCheck { rate_bps: 500 })
            .0,
        "spot_rate_too_low"
    );
    assert_eq!(
        w.post_as(|a| a.deadline_height = h + 3).0,
        "deadline_out_of_range"
    );
    assert_eq!(w.post_as(|a| a.min_tier = 4).0, "tier_out_of_range");
    assert_eq!(
        w.post_as(|a| a.mode = VerifyMode::Canary).0,
        "canary_commitment_mismatch"
    );
    assert_eq!(
        w.post_as(|a| a.price_per_unit = u128::MAX / 2).0,
        "escrow_overflow"
    );
    assert_eq!(
        w.post_as(|a| a.price_per_unit = 10_000_000).0,
        "insufficient_credits"
    );
    let before = w.credits(&requester());
    let job = w.post(VerifyMode::Redundant { replicas: 3 }, 4);
    // Three replicas and four referees per task are escrowed; the unused part returns.
    assert_eq!(
        w.credits(&requester()),
        before - 4 * PRICE * 7 - w.net.last_fee
    );
    assert_eq!(w.job(job).escrow, 4 * PRICE * 7);
    credits_balance(&w.net);
}

fn claims_are_checked(w: &mut World) {
    w.register(1);
    w.register(2);
    let job = w.post(VerifyMode::Approval, 2);
    assert_eq!(w.claim(1, job + 9, 0), "unknown_job");
    assert_eq!(w.claim(1, job, 7), "unknown_task");
    assert_eq!(w.claim(1, job, 0), "success");
    assert_eq!(w.claim(2, job, 0), "no_open_slot");
    assert_eq!(w.claim(1, job, 0), "owner_already_in_task");
    // A tiered job needs a proven tier: the challenge answered this epoch or the last.
    let (_, tiered) = w.post_as(|a| a.min_tier = 2);
    assert_eq!(w.claim(2, tiered, 0), "tier_too_low");
    assert_eq!(w.answer_challenge(2), "success");
    assert_eq!(w.claim(2, tiered, 0), "success");
    // A requester's own devices cannot work for it.
    let a = RegisterProvider {
        device: device(7).address(),
        class: ProcessorClass::Cpu,
        benchmark: BENCH,
        stake: STAKE,
        device_signature: sign_onboarding(CHAIN_ID, &requester().address(), &device(7)),
    };
    assert_eq!(w.act(&requester(), a), "success");
    assert_eq!(w.claim(7, job, 1), "own_job");
    // A bond larger than the free stake is refused.
    let (_, big) = w.post_as(|a| a.price_per_unit = 30_000);
    assert_eq!(w.claim(2, big, 0), "insufficient_free_stake");
    credits_balance(&w.net);
}

fn commit_and_reveal_are_checked(w: &mut World) {
    w.register(3);
    let job = w.post(VerifyMode::Redundant { replicas: 2 }, 1);
    assert_eq!(w.commit(1, job, 0, honest(job, 0)), "no_claim");
    w.work(1, job, 0, honest(job, 0));
    assert_eq!(w.commit(1, job, 0, honest(job, 0)), "already_committed");
    // The second replica has not committed: nobody may reveal (nothing to copy).
    assert_eq!(w.reveal(1, job, 0, honest(job, 0)), "reveals_not_open");
    w.open_up();
    w.work(3, job, 0, honest(job, 0));
    assert_eq!(w.reveal(1, job, 0, garbage(job, 0)), "wrong_reveal");
    assert_eq!(w.reveal(1, job, 0, honest(job, 0)), "success");
    assert_eq!(w.reveal(1, job, 0, honest(job, 0)), "already_revealed");
    assert_eq!(w.reveal(3, job, 0, honest(job, 0)), "success");
    assert_eq!(w.task(job, 0).outcome, Some(TaskOutcome::Verified));
    assert_eq!(w.fate(job, 0, 1), SlotFate::Paid);
    assert_eq!(w.claim(2, job, 0), "task_settled");
    // An expired claim can no longer commit.
    let job = w.post(VerifyMode::Approval, 1);
    assert_eq!(w.claim(1, job, 0), "success");
    w.pass(5);
    assert_eq!(w.commit(1, job, 0, honest(job, 0)), "claim_expired");
    credits_balance(&w.net);
}

/// Batched claims, commitments and reveals: bounds and order, all or nothing with the refused
/// item named, the free stake counted item by item, reveals only in a later block than the
/// commitments, and verifying slots claimed alone.
fn batches_are_all_or_nothing_and_checked_like_single_actions(w: &mut World) {
    // Devices 1 to 3 were registered by the scenarios before.
    let job = w.post(VerifyMode::Approval, 4);
    let d1 = device(1);
    assert_eq!(w.act(&d1, claims(job, &[])), "empty_batch");
    assert_eq!(w.act(&d1, claims(job, &[1, 0])), "batch_not_ascending");
    assert_eq!(w.act(&d1, claims(job, &[1, 1])), "batch_not_ascending");
    let many: Vec<u32> = (0..=MAX_TASK_BATCH as u32).collect();
    assert_eq!(w.act(&d1, claims(job, &many)), "too_many_items");
    // One taken task refuses the whole batch, naming it and why; nothing else is claimed.
    assert_eq!(w.claim(2, job, 2), "success");
    let bonded = |w: &World, i: u8| w.net.state.provider(&device(i).address()).unwrap().bonded;
    let before = bonded(w, 1);
    let r = w.receipt(&d1, claims(job, &[0, 1, 2, 3]));
    assert_eq!(refused_item(&r), Some((2, "no_open_slot".to_string())));
    for t in [0, 1, 3] {
        assert!(w.task(job, t).slots.is_empty(), "task {t} was claimed");
    }
    assert_eq!(bonded(w, 1), before);
    // Without it, the rest pass in one transaction: three slots, three bonds.
    assert_eq!(w.act(&d1, claims(job, &[0, 1, 3])), "success");
    let bond = PRICE * u128::from(test_params().bond_multiple);
    assert_eq!(bonded(w, 1), before + 3 * bond);
    // Commitments: an item without a claim refuses the batch.
    let r = w.receipt(&d1, commits(1, job, &[0, 1, 2], |t| honest(job, t)));
    assert_eq!(refused_item(&r), Some((2, "no_claim".to_string())));
    assert!(w.task(job, 0).slots[0].commitment.is_none());
    // Committed and revealed in one block: the reveals are refused (nothing is shown in the
    // block that fixes the commitments, batched or not).
    let n = w.net.nonce(&d1);
    let txs = vec![
        w.net.tx_at(
            &d1,
            n,
            commits(1, job, &[0, 1, 3], |t| honest(job, t)).into(),
        ),
        w.net.tx_at(
            &d1,
            n + 1,
            reveals(1, job, &[0, 1, 3], |t| honest(job, t)).into(),
        ),
    ];
    let receipts = w.net.block(txs);
    assert_eq!(receipts[0], Receipt::Success);
    assert_eq!(
        refused_item(&receipts[1]),
        Some((0, "reveals_not_open".to_string()))
    );
    // A wrong reveal refuses the batch; the honest ones then pass.
    let r = w.receipt(
        &d1,
        reveals(1, job, &[0, 1, 3], |t| {
            if t == 3 {
                garbage(job, t)
            } else {
                honest(job, t)
            }
        }),
    );
    assert_eq!(refused_item(&r), Some((2, "wrong_reveal".to_string())));
    assert!(w.task(job, 0).slots[0].result.is_none());
    assert_eq!(
        w.act(&d1, reveals(1, job, &[0, 1, 3], |t| honest(job, t))),
        "success"
    );
    assert_eq!(
        w.act(
            &requester(),
            JudgeTasks {
                job,
                tasks: vec![0, 1, 3],
                approve: true
            }
        ),
        "success"
    );
    for t in [0, 1, 3] {
        assert_eq!(w.fate(job, t, 1), SlotFate::Paid);
    }
    assert_eq!(bonded(w, 1), before);
    // The free stake is counted item by item: a batch cannot bond more than the stake backs.
    let p = w.net.state.provider(&device(3).address()).unwrap();
    let free = p.stake - p.bonded;
    let price = free / (2 * u128::from(test_params().bond_multiple));
    let (c, big) = w.post_as(|a| {
        a.price_per_unit = price;
        a.tasks = 3;
    });
    assert_eq!(c, "success");
    let r = w.receipt(&device(3), claims(big, &[0, 1, 2]));
    assert_eq!(
        refused_item(&r),
        Some((2, "insufficient_free_stake".to_string()))
    );
    assert_eq!(w.act(&device(3), claims(big, &[0, 1])), "success");
    // A verifying slot the ledger assigns is claimed alone, never in a batch.
    let rjob = w.post(VerifyMode::Redundant { replicas: 2 }, 2);
    assert_eq!(w.claim(2, rjob, 0), "success");
    let r = w.receipt(&d1, claims(rjob, &[0, 1]));
    assert_eq!(
        refused_item(&r),
        Some((0, "assigned_slot_in_batch".to_string()))
    );
    assert_eq!(w.act(&d1, claims(rjob, &[1])), "success");
    credits_balance(&w.net);
}

fn redundant_mode_pays_the_majority_after_a_referee_round(w: &mut World) {
    for i in 4..7 {
        w.register(i);
    }
    let job = w.post(VerifyMode::Redundant { replicas: 3 }, 1);
    let (s1, s2, s3) = (w.stake(1), w.stake(2), w.stake(3));
    // Two colluders (1, 2) commit the same garbage; 3 is honest. (The replicas after the first
    // are assigned; once the assignment window passes anyone may take them, as here.)
    w.open_up();
    w.work(1, job, 0, garbage(job, 0));
    w.work(2, job, 0, garbage(job, 0));
    w.work(3, job, 0, honest(job, 0));
    // The tags disagree: referees are called at the commit, before any result is revealed, so
    // they work blind; reveals stay shut until they have committed.
    let t = w.task(job, 0);
    assert!(t.referees_called.is_some() && t.outcome.is_none());
    assert!(t.slots.iter().all(|s| s.result.is_none()));
    assert_eq!(w.reveal(3, job, 0, honest(job, 0)), "reveals_not_open");
    assert_eq!(w.stake(3), s3, "the honest dissenter keeps its stake");
    w.open_up();
    for i in [0, 4, 5, 6] {
        w.work(i, job, 0, honest(job, 0));
    }
    assert_eq!(w.claim(7, job, 0), "own_job");
    w.pass(1);
    for (i, r) in [
        (1, garbage(job, 0)),
        (2, garbage(job, 0)),
        (3, honest(job, 0)),
    ] {
        assert_eq!(w.reveal(i, job, 0, r), "success");
    }
    for i in [0, 4, 5] {
        assert_eq!(w.reveal(i, job, 0, honest(job, 0)), "success");
    }
    assert_eq!(w.task(job, 0).outcome, None, "one referee still to reveal");
    assert_eq!(w.reveal(6, job, 0, honest(job, 0)), "success");
    assert_eq!(w.task(job, 0).outcome, Some(TaskOutcome::Verified));
    assert_eq!(w.fate(job, 0, 1), SlotFate::WrongResult);
    assert_eq!(w.fate(job, 0, 3), SlotFate::Paid);
    let bond = PRICE * 10;
    assert_eq!(w.stake(1), s1 - bond);
    assert_eq!(w.stake(2), s2 - bond);
    let record = w.net.state.provider(&device(1).address()).unwrap().record;
    assert_eq!(
        record.last.unwrap().fate,
        SlotFate::WrongResult,
        "the reason is recorded"
    );
    let j = w.job(job);
    assert_eq!(
        j.paid,
        5 * PRICE,
        "the honest five are paid, the cheats not"
    );
    // Closing refunds what was not paid.
    let before = w.credits(&requester());
    assert_eq!(w.act(&owner_of(0), CloseJob { job }), "success");
    assert_eq!(w.credits(&requester()), before + 7 * PRICE - 5 * PRICE);
    assert_eq!(w.act(&owner_of(0), CloseJob { job }), "job_closed");
    credits_balance(&w.net);
}

fn redundant_mode_without_majority_slashes_nobody(w: &mut World) {
    let job = w.post(VerifyMode::Redundant { replicas: 2 }, 1);
    w.open_up();
    w.work(1, job, 0, honest(job, 0));
    w.work(2, job, 0, garbage(job, 0));
    // Three referees for two replicas: two answers of 2-2-1, no strict majority of five.
    w.open_up();
    let answers = [
        (1, honest(job, 0)),
        (2, garbage(job, 0)),
        (3, Hash::tagged("third", &[])),
        (4, garbage(job, 0)),
        (5, honest(job, 0)),
    ];
    for (i, r) in &answers[2..] {
        w.work(*i, job, 0, *r);
    }
    w.pass(1);
    for (i, r) in answers {
        assert_eq!(w.reveal(i, job, 0, r), "success");
    }
    assert_eq!(w.task(job, 0).outcome, Some(TaskOutcome::NoMajority));
    assert_eq!(w.fate(job, 0, 1), SlotFate::Released);
    assert_eq!(w.fate(job, 0, 2), SlotFate::Released);
    credits_balance(&w.net);
}

/// Finds the first task of a spot-check job whose primary `i` commits and that the ledger does
/// (`picked`) or does not pick for a re-run; returns it with the primary committed.
fn spot_task(w: &mut World, job: u64, i: u8, picked: bool, result: impl Fn(u32) -> Hash) -> u32 {
    for t in 0..w.job(job).tasks {
        if w.task(job, t).slots.is_empty() {
            w.work(i, job, t, result(t));
            let at = w.height();
            w.pass(1);
            let entropy = w.net.state.entropy(at).unwrap();
            let VerifyMode::SpotCheck { rate_bps } = w.job(job).mode else {
                unreachable!()
            };
            let selected = spot_selected(&entropy, job, t, rate_bps);
            if selected == picked {
                return t;
            }
            if !selected {
                // Not the task wanted: settle it (paid) so it leaves nothing pending.
                assert_eq!(w.reveal(i, job, t, result(t)), "success");
            }
        }
    }
    panic!("no task was {}picked", if picked { "" } else { "un" });
}

fn spot_checks_catch_a_cheat_after_a_referee(w: &mut World) {
    let job = w.post(VerifyMode::SpotCheck { rate_bps: 5_000 }, 24);
    // Unpicked: the primary reveals at once and is paid.
    let t = spot_task(w, job, 1, false, |t| honest(job, t));
    assert_eq!(w.reveal(1, job, t, honest(job, t)), "success");
    assert_eq!(w.fate(job, t, 1), SlotFate::Paid);
    // Picked: the cheat's garbage waits for the checker, disagrees, and a referee decides.
    let t = spot_task(w, job, 2, true, |t| garbage(job, t));
    assert_eq!(w.reveal(2, job, t, garbage(job, t)), "reveals_not_open");
    w.open_up();
    w.work(3, job, t, honest(job, t));
    // The checker's tag disagrees: referees are called before anything is revealed.
    assert!(w.task(job, t).referees_called.is_some());
    assert_eq!(w.reveal(2, job, t, garbage(job, t)), "reveals_not_open");
    w.open_up();
    for i in [4, 5] {
        w.work(i, job, t, honest(job, t));
    }
    // A lazy referee copies the checker's tag; it cannot know the result it stands for, so its
    // commitment is over a guess, and the result revealed later does not open it.
    let copied = w.task(job, t).slots[1].tag.unwrap();
    assert_eq!(copied, result_tag(job, t, &honest(job, t)));
    assert_eq!(w.claim(6, job, t), "success");
    let guess = garbage(job, t);
    let c = CommitResult {
        job,
        task: t,
        commitment: result_commitment(job, t, &device(6).address(), &guess, &salt(6)),
        tag: copied,
    };
    assert_eq!(w.act(&device(6), c), "success");
    w.pass(1);
    for (i, r) in [
        (2, garbage(job, t)),
        (3, honest(job, t)),
        (4, honest(job, t)),
        (5, honest(job, t)),
    ] {
        assert_eq!(w.reveal(i, job, t, r), "success");
    }
    assert_eq!(w.reveal(6, job, t, honest(job, t)), "wrong_reveal");
    assert_eq!(w.reveal(6, job, t, guess), "wrong_reveal");
    let s6 = w.stake(6);
    w.pass(test_params().reveal_timeout_blocks + 1);
    assert_eq!(w.act(&owner_of(0), SettleTask { job, task: t }), "success");
    assert_eq!(w.fate(job, t, 2), SlotFate::WrongResult);
    assert_eq!(w.fate(job, t, 3), SlotFate::Paid);
    assert_eq!(w.fate(job, t, 4), SlotFate::Paid);
    assert_eq!(w.fate(job, t, 6), SlotFate::NotRevealed);
    assert!(w.stake(6) < s6, "the copier forfeits its bond");
    // Picked with no checker before the deadline: unpaid, unslashed, refunded.
    let t = spot_task(w, job, 5, true, |t| honest(job, t));
    let s5 = w.stake(5);
    let deadline = w.job(job).deadline_height;
    w.pass(deadline + 1 - w.height());
    assert_eq!(w.act(&owner_of(0), CloseJob { job }), "success");
    assert_eq!(w.task(job, t).outcome, Some(TaskOutcome::CheckUnavailable));
    assert_eq!(w.stake(5), s5);
    credits_balance(&w.net);
}

fn canaries_catch_a_cheat_on_the_whole_job(w: &mut World) {
    let canaries = vec![Canary {
        task: 1,
        result: Hash::tagged("known", &[]),
    }];
    let job_salt = Hash::tagged("requester salt", &[]);
    let commitment = canary_commitment(&job_salt, &canaries);
    let (c, job) = w.post_as(|a| {
        a.mode = VerifyMode::Canary;
        a.canary_commitment = Some(commitment);
        a.tasks = 3;
    });
    assert_eq!(c, "success");
    let answer = |t: u32| {
        if t == 1 {
            Hash::tagged("known", &[])
        } else {
            honest(job, t)
        }
    };
    // Provider 1 cheats on the canary (and does task 0 right); provider 2 is honest on task 2.
    w.work(1, job, 0, answer(0));
    w.work(1, job, 1, garbage(job, 1));
    w.work(2, job, 2, answer(2));
    w.pass(1);
    assert_eq!(w.reveal(1, job, 0, answer(0)), "success");
    assert_eq!(w.reveal(1, job, 1, garbage(job, 1)), "success");
    assert_eq!(w.reveal(2, job, 2, answer(2)), "success");
    let reveal = |salt: Hash, canaries: Vec<Canary>| RevealCanaries {
        job,
        salt,
        canaries,
    };
    assert_eq!(
        w.act(&owner_of(1), reveal(job_salt, canaries.clone())),
        "not_requester"
    );
    assert_eq!(
        w.act(&requester(), reveal(Hash::ZERO, canaries.clone())),
        "canaries_not_matching"
    );
    let twice = vec![canaries[0], canaries[0]];
    assert_eq!(
        w.act(&requester(), reveal(job_salt, twice)),
        "duplicate_item"
    );
    let s1 = w.stake(1);
    assert_eq!(
        w.act(&requester(), reveal(job_salt, canaries.clone())),
        "success"
    );
    // The honest task waits for the approval timeout (anyone may settle it then).
    assert_eq!(
        w.act(&owner_of(0), SettleTask { job, task: 2 }),
        "nothing_to_settle"
    );
    // Not on the requester's word: two referees re-run the canary task first.
    let t = w.task(job, 1);
    assert!(t.referees_called.is_some() && t.outcome.is_none());
    assert_eq!(w.fate(job, 1, 1), SlotFate::Pending);
    assert_eq!(w.job(job).disputed, vec![owner_of(1).address()]);
    assert_eq!(
        w.act(&requester(), reveal(job_salt, canaries.clone())),
        "canaries_already_revealed"
    );
    w.open_up();
    w.work(3, job, 1, answer(1));
    w.work(4, job, 1, answer(1));
    w.pass(1);
    assert_eq!(w.reveal(3, job, 1, answer(1)), "success");
    assert_eq!(w.task(job, 1).outcome, None, "one referee still to reveal");
    assert_eq!(w.reveal(4, job, 1, answer(1)), "success");
    assert_eq!(w.task(job, 1).outcome, Some(TaskOutcome::Failed));
    assert_eq!(w.fate(job, 1, 1), SlotFate::CanaryFailed);
    assert_eq!(w.fate(job, 1, 3), SlotFate::Paid);
    assert_eq!(w.stake(1), s1 - 10 * PRICE);
    assert_eq!(w.job(job).caught, vec![owner_of(1).address()]);
    assert!(w.job(job).disputed.is_empty());
    // Caught: its other result of the job is withheld, and the honest task is approved by
    // the timeout (anyone may settle them).
    w.pass(7);
    assert_eq!(w.act(&owner_of(0), SettleTask { job, task: 0 }), "success");
    assert_eq!(
        w.fate(job, 0, 1),
        SlotFate::Withheld,
        "caught: unpaid on the whole job"
    );
    assert_eq!(w.act(&owner_of(0), SettleTask { job, task: 2 }), "success");
    assert_eq!(w.fate(job, 2, 2), SlotFate::Paid);
    credits_balance(&w.net);
}

/// A griefing requester commits a false answer for its canary: the referees agree with the
/// provider, who is paid and keeps its bond (`canary_disproved`); the requester's escrow pays
/// the referees.
fn a_false_canary_answer_is_disproved_by_referees(w: &mut World) {
    let canaries = vec![Canary {
        task: 0,
        result: Hash::tagged("a false answer", &[]),
    }];
    let job_salt = Hash::tagged("griefer salt", &[]);
    let (c, job) = w.post_as(|a| {
        a.mode = VerifyMode::Canary;
        a.canary_commitment = Some(canary_commitment(&job_salt, &canaries));
        a.tasks = 1;
    });
    assert_eq!(c, "success");
    assert_eq!(
        w.job(job).escrow,
        3 * PRICE,
        "a canary job escrows its referees too"
    );
    w.work(5, job, 0, honest(job, 0));
    w.pass(1);
    assert_eq!(w.reveal(5, job, 0, honest(job, 0)), "success");
    let s5 = w.stake(5);
    let reveal = RevealCanaries {
        job,
        salt: job_salt,
        canaries,
    };
    assert_eq!(w.act(&requester(), reveal), "success");
    w.open_up();
    w.work(0, job, 0, honest(job, 0));
    w.work(6, job, 0, honest(job, 0));
    w.pass(1);
    assert_eq!(w.reveal(0, job, 0, honest(job, 0)), "success");
    assert_eq!(w.reveal(6, job, 0, honest(job, 0)), "success");
    assert_eq!(w.task(job, 0).outcome, Some(TaskOutcome::CanaryDisproved));
    for i in [5, 0, 6] {
        assert_eq!(w.fate(job, 0, i), SlotFate::Paid);
    }
    assert_eq!(w.stake(5), s5, "the provider keeps its bond");
    assert!(w.job(job).caught.is_empty());
    assert_eq!(
        w.job(job).paid,
        3 * PRICE,
        "the griefer paid for the referees"
    );
    credits_balance(&w.net);
}

fn approval_mode_pays_on_approval_or_silence_and_rejects_without_slashing(w: &mut World) {
    let job = w.post(VerifyMode::Approval, 3);
    let judge = |tasks: Vec<u32>, approve: bool| JudgeTasks {
        job,
        tasks,
        approve,
    };
    assert_eq!(w.act(&requester(), judge(vec![0], true)), "not_judgeable");
    for t in 0..3 {
        w.work(1, job, t, honest(job, t));
    }
    w.pass(1);
    for t in 0..3 {
        assert_eq!(w.reveal(1, job, t, honest(job, t)), "success");
    }
    assert_eq!(w.act(&owner_of(1), judge(vec![0], true)), "not_requester");
    assert_eq!(
        w.act(&requester(), judge(vec![0, 0], true)),
        "duplicate_item"
    );
    assert_eq!(
        w.act(&requester(), judge((0..300).collect(), true)),
        "too_many_items"
    );
    assert_eq!(w.act(&requester(), judge(vec![0], true)), "success");
    assert_eq!(w.fate(job, 0, 1), SlotFate::Paid);
    let s1 = w.stake(1);
    assert_eq!(w.act(&requester(), judge(vec![1], false)), "success");
    assert_eq!(w.fate(job, 1, 1), SlotFate::Rejected);
    assert_eq!(w.stake(1), s1, "a rejection is not a slash");
    // Another provider takes the rejected task; rejected too often, it is refunded.
    for i in [2, 3] {
        w.work(i, job, 1, honest(job, 1));
        w.pass(1);
        assert_eq!(w.reveal(i, job, 1, honest(job, 1)), "success");
        assert_eq!(w.act(&requester(), judge(vec![1], false)), "success");
    }
    assert_eq!(w.task(job, 1).outcome, Some(TaskOutcome::RejectedOut));
    // Silence approves after the timeout.
    w.pass(7);
    assert_eq!(w.act(&owner_of(0), SettleTask { job, task: 2 }), "success");
    assert_eq!(w.fate(job, 2, 1), SlotFate::Paid);
    // Judging a redundant job is refused.
    let other = w.post(VerifyMode::Redundant { replicas: 2 }, 1);
    assert_eq!(
        w.act(
            &requester(),
            JudgeTasks {
                job: other,
                tasks: vec![0],
                approve: true
            }
        ),
        "wrong_mode"
    );
    assert_eq!(
        w.act(
            &requester(),
            RevealCanaries {
                job: other,
                salt: Hash::ZERO,
                canaries: vec![]
            }
        ),
        "wrong_mode"
    );
    credits_balance(&w.net);
}

fn timeouts_return_abandoned_and_withheld_work(w: &mut World) {
    // Claim and abandon: the task returns to the pool and the claimant loses a tenth of its bond.
    let job = w.post(VerifyMode::Redundant { replicas: 2 }, 2);
    assert_eq!(w.claim(1, job, 0), "success");
    let s1 = w.stake(1);
    w.pass(5);
    w.work(2, job, 0, honest(job, 0));
    assert_eq!(
        w.claim(3, job, 0),
        "success",
        "the expired claim is taken over"
    );
    assert_eq!(w.fate(job, 0, 1), SlotFate::Abandoned);
    assert_eq!(w.stake(1), s1 - PRICE);
    assert_eq!(w.commit(3, job, 0, honest(job, 0)), "success");
    // Withheld reveal: 2 reveals, 3 does not; after the timeout 3 forfeits and 2 is paid.
    w.pass(1);
    assert_eq!(w.reveal(2, job, 0, honest(job, 0)), "success");
    let s3 = w.stake(3);
    w.pass(5);
    assert_eq!(w.act(&owner_of(0), SettleTask { job, task: 0 }), "success");
    assert_eq!(w.fate(job, 0, 3), SlotFate::NotRevealed);
    assert_eq!(w.fate(job, 0, 2), SlotFate::Paid);
    assert_eq!(w.stake(3), s3 - 10 * PRICE);
    assert_eq!(
        w.act(&owner_of(0), SettleTask { job, task: 0 }),
        "task_settled"
    );
    assert_eq!(
        w.act(&owner_of(0), CloseJob { job }),
        "job_still_running",
        "task 1 is unsettled until the deadline"
    );
    let deadline = w.job(job).deadline_height;
    w.pass(deadline - w.height() - 1);
    assert_eq!(w.claim(4, job, 1), "success");
    assert_eq!(w.claim(5, job, 1), "past_deadline");
    assert_eq!(w.act(&owner_of(0), CloseJob { job }), "success");
    assert_eq!(w.task(job, 1).outcome, Some(TaskOutcome::Expired));
    assert_eq!(w.fate(job, 1, 4), SlotFate::Released);
    credits_balance(&w.net);
}

fn the_capacity_challenge_is_checked(w: &mut World) {
    w.mid_epoch();
    let h = w.height();
    let stale = AnswerChallenge {
        seed_height: h.saturating_sub(10),
        nonces: vec![0; CHALLENGE_NONCES],
    };
    assert_eq!(w.act(&device(4), stale), "challenge_out_of_window");
    let fresh = |w: &World, nonces: Vec<u64>| AnswerChallenge {
        seed_height: w.height() - 1,
        nonces,
    };
    let a = fresh(w, vec![1, 2]);
    assert_eq!(w.act(&device(4), a), "wrong_nonce_count");
    let a = fresh(w, vec![5; CHALLENGE_NONCES]);
    assert_eq!(w.act(&device(4), a), "nonces_not_ascending");
    // Nonces that miss the declared benchmark's target (found for a benchmark of 1).
    let seed_height = w.height() - 1;
    let seed = w.net.state.entropy(seed_height).unwrap();
    let weak = solve_challenge(&seed, &device(4).address(), u64::MAX / 2, CHALLENGE_NONCES);
    let code = w.act(
        &device(4),
        AnswerChallenge {
            seed_height,
            nonces: weak,
        },
    );
    assert_eq!(code, "nonce_above_target");
    assert_eq!(w.answer_challenge(4), "success");
    let again = w.answer_challenge(4);
    assert_eq!(again, "challenge_answered");
    let a = fresh(w, vec![]);
    assert_eq!(
        w.act(
            &requester(),
            RetireDevice {
                device: device(7).address()
            }
        ),
        "success"
    );
    // A retired key has no owner to pay its fees, and holds nothing itself.
    assert_eq!(w.act(&device(7), a), "fee_unpaid");
    // A retired provider's last owner takes its whole stake back.
    let back = w.net.state.provider(&device(7).address()).unwrap();
    assert!(back.retired);
    assert_eq!(
        w.act(
            &requester(),
            WithdrawStake {
                device: device(7).address(),
                credits: back.stake
            }
        ),
        "success"
    );
    credits_balance(&w.net);
}

fn verifying_slots_are_assigned_from_entropy(w: &mut World) {
    let job = w.post(VerifyMode::Redundant { replicas: 2 }, 1);
    w.work(1, job, 0, honest(job, 0));
    // The second replica's provider is drawn from the posting block's entropy.
    let j = w.job(job);
    let t = w.task(job, 0);
    let p = test_params();
    let (opened, number) = slot_opening(&j, &t, Role::Primary, 1).unwrap();
    let assigned = assigned_provider(&w.net.state, &p, job, &j, 0, &t, opened, number).unwrap();
    let who = (0..PROVIDERS)
        .find(|i| device(*i).address() == assigned)
        .expect("a test provider");
    let other = (2..PROVIDERS)
        .find(|i| *i != who && w.net.state.provider(&device(*i).address()).is_some())
        .unwrap();
    assert_eq!(w.claim(other, job, 0), "not_assigned");
    w.work(who, job, 0, honest(job, 0));
    assert_eq!(w.reveal(1, job, 0, honest(job, 0)), "success");
    assert_eq!(w.reveal(who, job, 0, honest(job, 0)), "success");
    assert_eq!(w.task(job, 0).outcome, Some(TaskOutcome::Verified));
    credits_balance(&w.net);
}

/// Runs every scenario on one network.
fn all_scenarios() -> World {
    let mut w = World::new();
    providers_register_and_manage_stake(&mut w);
    jobs_are_checked_and_escrowed(&mut w);
    claims_are_checked(&mut w);
    commit_and_reveal_are_checked(&mut w);
    redundant_mode_pays_the_majority_after_a_referee_round(&mut w);
    redundant_mode_without_majority_slashes_nobody(&mut w);
    spot_checks_catch_a_cheat_after_a_referee(&mut w);
    verifying_slots_are_assigned_from_entropy(&mut w);
    canaries_catch_a_cheat_on_the_whole_job(&mut w);
    a_false_canary_answer_is_disproved_by_referees(&mut w);
    approval_mode_pays_on_approval_or_silence_and_rejects_without_slashing(&mut w);
    timeouts_return_abandoned_and_withheld_work(&mut w);
    the_capacity_challenge_is_checked(&mut w);
    batches_are_all_or_nothing_and_checked_like_single_actions(&mut w);
    w
}

#[test]
fn every_reason_code_and_every_fate_is_produced_and_money_balances() {
    let mut w = all_scenarios();
    for code in ComputeRejection::CODES {
        assert!(w.seen.contains(code), "no scenario produced {code}");
    }
    let mut fates = BTreeSet::new();
    let mut outcomes = BTreeSet::new();
    for (id, _) in w.net.state.jobs(0, usize::MAX) {
        for (_, t) in w.net.state.tasks(id, 0, usize::MAX) {
            fates.extend(t.slots.iter().map(|s| s.fate.code()));
            outcomes.extend(t.outcome.map(|o| o.code()));
        }
    }
    for f in SlotFate::ALL {
        assert!(fates.contains(f.code()), "no slot ended {}", f.code());
    }
    for o in TaskOutcome::ALL {
        // `failed`: a canary caught (it is the canary task's own outcome).
        assert!(outcomes.contains(o.code()), "no task ended {}", o.code());
    }
    credits_balance(&w.net);
    w.net.replays_identically();
}

/// The same claims, commitments and reveals sent batched (one transaction per kind) or alone
/// (one transaction each, in one block) leave the same tasks, providers, jobs and totals: a
/// batch does nothing a sequence of single actions could not.
#[test]
fn a_batch_leaves_the_market_as_the_same_actions_sent_alone() {
    let run = |batched: bool| {
        let mut w = World::new();
        w.register(1);
        w.register(2);
        let approval = w.post(VerifyMode::Approval, 6);
        let redundant = w.post(VerifyMode::Redundant { replicas: 2 }, 3);
        let send = |w: &mut World, i: u8, batch: Action, singles: Vec<Action>| {
            if batched {
                assert_eq!(w.act(&device(i), batch), "success");
            } else {
                w.batch(&device(i), singles);
            }
        };
        let steps = |job: u64, tasks: &[u32], i: u8, result: fn(u64, u32) -> Hash| {
            let c = claims(job, tasks);
            let m = commits(i, job, tasks, |t| result(job, t));
            let r = reveals(i, job, tasks, |t| result(job, t));
            [
                (
                    Action::from(c.clone()),
                    c.items.into_iter().map(Action::from).collect::<Vec<_>>(),
                ),
                (
                    Action::from(m.clone()),
                    m.items.into_iter().map(Action::from).collect(),
                ),
                (
                    Action::from(r.clone()),
                    r.items.into_iter().map(Action::from).collect(),
                ),
            ]
        };
        let [c1, m1, r1] = steps(approval, &[0, 2, 3, 5], 1, honest);
        let [rc1, rm1, rr1] = steps(redundant, &[0, 1, 2], 1, honest);
        let [rc2, rm2, rr2] = steps(redundant, &[0, 1, 2], 2, honest);
        for (i, (b, s)) in [(1, c1), (1, m1), (1, rc1), (1, rm1)] {
            send(&mut w, i, b, s);
        }
        // Past the assignment of the second replicas, every provider may take them.
        w.open_up();
        for (i, (b, s)) in [(2, rc2), (2, rm2)] {
            send(&mut w, i, b, s);
        }
        // The second replica's batch decides all three tasks, each paid from the job's escrow.
        for (i, (b, s)) in [(1, r1), (1, rr1), (2, rr2)] {
            send(&mut w, i, b, s);
        }
        credits_balance(&w.net);
        let tasks: Vec<Task> = (0..6)
            .map(|t| w.task(approval, t))
            .chain((0..3).map(|t| w.task(redundant, t)))
            .collect();
        let providers: Vec<_> = (1..=2)
            .map(|i| w.net.state.provider(&device(i).address()).unwrap())
            .collect();
        let jobs = (w.job(approval), w.job(redundant));
        (
            tasks,
            format!("{providers:?}"),
            format!("{jobs:?}"),
            format!("{:?}", w.net.state.totals()),
        )
    };
    let batched = run(true);
    for t in &batched.0[6..] {
        assert_eq!(t.outcome, Some(TaskOutcome::Verified));
    }
    assert_eq!(batched, run(false));
}

#[test]
fn a_retired_provider_cannot_claim_but_its_slots_still_settle() {
    let mut w = World::new();
    w.register(1);
    w.register(2);
    let job = w.post(VerifyMode::Redundant { replicas: 2 }, 2);
    w.open_up();
    w.work(1, job, 0, honest(job, 0));
    w.work(2, job, 0, honest(job, 0));
    assert_eq!(
        w.act(
            &owner_of(1),
            RetireDevice {
                device: device(1).address()
            }
        ),
        "success"
    );
    // Its owner no longer pays for it: the retired key pays its own fees from now on.
    assert_eq!(w.claim(1, job, 1), "fee_unpaid");
    let fund = Action::Transfer {
        to: device(1).address(),
        amount: depin_core::Amount(1_000_000),
    };
    assert_eq!(w.act(&owner_of(1), fund), "success");
    // The registry no longer lists it, so its device key can do nothing new.
    assert_eq!(w.claim(1, job, 1), "unknown_device");
    assert_eq!(w.reveal(2, job, 0, honest(job, 0)), "success");
    assert_eq!(w.reveal(1, job, 0, honest(job, 0)), "success");
    assert_eq!(w.fate(job, 0, 1), SlotFate::Paid);
    credits_balance(&w.net);
}

#[test]
fn an_epoch_pays_proven_capacity_and_paid_work_and_replays_identically() {
    let mut w = World::new();
    for i in 0..3 {
        w.register(i);
    }
    w.pass(EPOCH_BLOCKS - w.height() % EPOCH_BLOCKS + 1);
    let epoch = (w.height() - 1) / EPOCH_BLOCKS;
    assert_eq!(w.answer_challenge(0), "success");
    assert_eq!(w.answer_challenge(1), "success");
    let job = w.post(VerifyMode::Redundant { replicas: 2 }, 1);
    w.open_up();
    w.work(1, job, 0, honest(job, 0));
    w.work(2, job, 0, honest(job, 0));
    assert_eq!(w.reveal(1, job, 0, honest(job, 0)), "success");
    assert_eq!(w.reveal(2, job, 0, honest(job, 0)), "success");
    w.pass(EPOCH_BLOCKS * (epoch + 1) - w.height());
    let s = w.net.state.epoch_summary(epoch).expect("closed");
    epoch_is_conserved(&s);
    let m = s.module("compute").unwrap();
    assert_eq!(counter(&s, "compute", "providers_proven"), 2);
    assert_eq!(counter(&s, "compute", "results_paid"), 2);
    assert_eq!(m.total_shares, 2 * u128::from(BENCH));
    let r0 = w.net.state.reward(epoch, &device(0).address()).unwrap();
    let r2 = w.net.state.reward(epoch, &device(2).address()).unwrap();
    assert_eq!(r0.shares, u128::from(BENCH));
    assert!(
        !r0.bootstrap.is_zero(),
        "proven capacity earns the bootstrap share"
    );
    assert_eq!(r2.shares, 0, "no challenge answered, no capacity share");
    assert_eq!(
        r2.credits, EARNED,
        "paid work, less the work fee, counts as paid service"
    );
    assert!(!r2.demand.is_zero());
    credits_balance(&w.net);
    w.net.replays_identically();
}

#[test]
fn without_a_demand_section_the_genesis_is_refused() {
    let mut g = compute_genesis(PROVIDERS, |_| {});
    g.modules.demand = None;
    let Err(err) = depin_core::State::genesis(&g) else {
        panic!("a compute network without demand was accepted");
    };
    let err = err.to_string();
    assert!(err.contains("compute"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Cheaters' balance sheets.

/// Tasks a spot-check cheater works per round (its bonds must fit its stake).
const ROUND: u32 = 15;

/// A provider that returns garbage on every task of a spot-check job at the network's lowest
/// allowed rate (10%) and the default bond (10x), against honest checkers and referees:
/// returns (tasks picked for a check, what it earned, what it forfeited), in credits.
fn garbage_provider(rounds: u32) -> (u32, u128, u128) {
    let mut w = World::new();
    // Stake for a round's bonds and every forfeit to come.
    assert_eq!(w.register_as(0, BENCH, 600_000), "success");
    for i in 1..5 {
        w.register(i);
    }
    let (mut picked, mut earned, mut slashed) = (0, 0, 0);
    for _ in 0..rounds {
        let (c, job) = w.post_as(|a| {
            a.mode = VerifyMode::SpotCheck { rate_bps: 1_000 };
            a.tasks = ROUND;
        });
        assert_eq!(c, "success");
        let all: Vec<u32> = (0..ROUND).collect();
        let commits = |i: u8, tasks: &[u32], result: fn(u64, u32) -> Hash| {
            let d = device(i).address();
            tasks
                .iter()
                .flat_map(|&t| {
                    let commitment = result_commitment(job, t, &d, &result(job, t), &salt(i));
                    [
                        Action::from(ClaimTask { job, task: t }),
                        Action::from(CommitResult {
                            job,
                            task: t,
                            commitment,
                            tag: result_tag(job, t, &result(job, t)),
                        }),
                    ]
                })
                .collect::<Vec<_>>()
        };
        let reveals = |i: u8, tasks: &[u32], result: fn(u64, u32) -> Hash| {
            tasks
                .iter()
                .map(|&t| {
                    Action::from(RevealResult {
                        job,
                        task: t,
                        result: result(job, t),
                        salt: salt(i),
                    })
                })
                .collect::<Vec<_>>()
        };
        let a = commits(0, &all, garbage);
        w.batch(&device(0), a);
        w.pass(1);
        let entropy = w.net.state.entropy(w.height() - 1).unwrap();
        let (check, free): (Vec<u32>, Vec<u32>) = all
            .iter()
            .partition(|t| spot_selected(&entropy, job, **t, 1_000));
        picked += check.len() as u32;
        let a = reveals(0, &free, garbage);
        w.batch(&device(0), a);
        if !check.is_empty() {
            w.open_up();
            let a = commits(1, &check, honest);
            w.batch(&device(1), a);
            // The checker's tags disagree: referees are called before anything is revealed.
            w.open_up();
            for i in 2..5 {
                let a = commits(i, &check, honest);
                w.batch(&device(i), a);
            }
            w.pass(1);
            let a = reveals(0, &check, garbage);
            w.batch(&device(0), a);
            let a = reveals(1, &check, honest);
            w.batch(&device(1), a);
            for i in 2..5 {
                let a = reveals(i, &check, honest);
                w.batch(&device(i), a);
            }
        }
        for t in 0..ROUND {
            assert!(w.task(job, t).outcome.is_some(), "task {t} settled");
        }
        let record = w.net.state.provider(&device(0).address()).unwrap().record;
        (earned, slashed) = (record.earned, record.slashed);
        credits_balance(&w.net);
    }
    (picked, earned, slashed)
}

#[test]
fn a_garbage_provider_is_paid_only_when_unchecked_and_loses_its_bond_when_checked() {
    let rounds = 6;
    let (picked, earned, slashed) = garbage_provider(rounds);
    let tasks = rounds * ROUND;
    assert!(picked > 0, "some of {tasks} tasks were checked");
    assert_eq!(
        earned,
        u128::from(tasks - picked) * EARNED,
        "paid for every unchecked task"
    );
    assert_eq!(
        slashed,
        u128::from(picked) * 10 * PRICE,
        "a bond forfeited per checked task"
    );
    // In expectation at the defaults: (1 - p) C - p S = 0.9 C - 0.1 * 10 C = -0.1 C per task.
    let d = ComputeGenesis::default();
    let p = i128::from(d.min_spot_check_bps);
    let expected_bps_of_c = (10_000 - p) - p * i128::from(d.bond_multiple);
    assert!(
        expected_bps_of_c < 0,
        "a cheat's expected gain is negative at the defaults"
    );
    eprintln!(
        "garbage provider: {picked} of {tasks} tasks checked, earned {earned}, forfeited {slashed}, net {} credits (honest: {})",
        earned as i128 - slashed as i128,
        u128::from(tasks) * PRICE
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Whatever providers and requesters do (claim, commit right or wrong, reveal or withhold,
    /// alone or batched; abandon, judge, settle, close, reveal canaries true or false and the
    /// referee rounds they call), every credit is accounted for after every block, and each job's escrow is
    /// exactly paid, refunded or still held.
    #[test]
    fn credits_are_conserved_under_random_activity(ops in prop::collection::vec(op(), 1..60)) {
        let mut w = World::new();
        for i in 0..4 {
            w.register(i);
        }
        let modes = [
            VerifyMode::Redundant { replicas: 2 },
            VerifyMode::Redundant { replicas: 3 },
            VerifyMode::SpotCheck { rate_bps: 5_000 },
            VerifyMode::Approval,
            // Canary jobs: task 0 is the canary, with a true answer or (a griefer) a false one.
            VerifyMode::Canary,
            VerifyMode::Canary,
        ];
        let mut jobs = Vec::new();
        // Each canary job's salt and canaries, revealed by `Op::Canaries`.
        let mut canary_jobs: BTreeMap<u64, (Hash, Vec<Canary>)> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Post(m) => {
                    let k = m as usize % modes.len();
                    let id = w.net.state.next_job_id();
                    let salt = Hash::tagged("canary salt", &[&id.to_le_bytes()]);
                    let canaries = vec![Canary {
                        task: 0,
                        result: if k == 4 { honest(id, 0) } else { Hash::tagged("a lie", &[]) },
                    }];
                    let (c, id) = w.post_as(|a| {
                        a.mode = modes[k];
                        a.tasks = 3;
                        if a.mode == VerifyMode::Canary {
                            a.canary_commitment = Some(canary_commitment(&salt, &canaries));
                        }
                    });
                    prop_assert_eq!(c, "success");
                    if modes[k] == VerifyMode::Canary {
                        canary_jobs.insert(id, (salt, canaries));
                    }
                    jobs.push(id);
                }
                Op::Canaries(j) if !jobs.is_empty() => {
                    let job = jobs[j as usize % jobs.len()];
                    if let Some((salt, canaries)) = canary_jobs.get(&job).cloned() {
                        w.act(&requester(), RevealCanaries { job, salt, canaries });
                    }
                }
                Op::Claim(i, j, t) if !jobs.is_empty() => {
                    let job = jobs[j as usize % jobs.len()];
                    w.claim(i % 4, job, u32::from(t % 3));
                }
                Op::Commit(i, j, t, good) if !jobs.is_empty() => {
                    let job = jobs[j as usize % jobs.len()];
                    let t = u32::from(t % 3);
                    let r = if good { honest(job, t) } else { garbage(job, t) };
                    w.commit(i % 4, job, t, r);
                }
                Op::Reveal(i, j, t, good) if !jobs.is_empty() => {
                    let job = jobs[j as usize % jobs.len()];
                    let t = u32::from(t % 3);
                    let r = if good { honest(job, t) } else { garbage(job, t) };
                    w.reveal(i % 4, job, t, r);
                }
                Op::Judge(j, t, approve) if !jobs.is_empty() => {
                    let job = jobs[j as usize % jobs.len()];
                    w.act(&requester(), JudgeTasks { job, tasks: vec![u32::from(t % 3)], approve });
                }
                Op::Settle(j, t) if !jobs.is_empty() => {
                    let job = jobs[j as usize % jobs.len()];
                    w.act(&owner_of(0), SettleTask { job, task: u32::from(t % 3) });
                }
                Op::Close(j) if !jobs.is_empty() => {
                    let job = jobs[j as usize % jobs.len()];
                    w.act(&owner_of(0), CloseJob { job });
                }
                Op::ClaimBatch(i, j, mask) if !jobs.is_empty() => {
                    let job = jobs[j as usize % jobs.len()];
                    w.act(&device(i % 4), claims(job, &masked(mask)));
                }
                Op::CommitBatch(i, j, mask, good) if !jobs.is_empty() => {
                    let job = jobs[j as usize % jobs.len()];
                    let r = |t| if good { honest(job, t) } else { garbage(job, t) };
                    w.act(&device(i % 4), commits(i % 4, job, &masked(mask), r));
                }
                Op::RevealBatch(i, j, mask, good) if !jobs.is_empty() => {
                    let job = jobs[j as usize % jobs.len()];
                    let r = |t| if good { honest(job, t) } else { garbage(job, t) };
                    w.act(&device(i % 4), reveals(i % 4, job, &masked(mask), r));
                }
                Op::Pass(n) => w.pass(u64::from(n)),
                _ => {}
            }
            credits_balance(&w.net);
        }
        // Past every deadline, every job closes and nothing stays bonded.
        w.pass(120);
        for job in jobs {
            let c = w.act(&owner_of(0), CloseJob { job });
            prop_assert!(c == "success" || c == "job_closed", "{c}");
        }
        credits_balance(&w.net);
        for i in 0..4 {
            prop_assert_eq!(w.net.state.provider(&device(i).address()).unwrap().bonded, 0);
        }
        let t = w.net.state.totals();
        prop_assert_eq!(t.escrowed, t.paid + t.fees + t.refunded);
    }
}

#[derive(Clone, Debug)]
enum Op {
    Post(u8),
    Claim(u8, u8, u8),
    Commit(u8, u8, u8, bool),
    Reveal(u8, u8, u8, bool),
    Judge(u8, u8, bool),
    Settle(u8, u8),
    Close(u8),
    Pass(u8),
    Canaries(u8),
    /// Batched forms: the job's tasks whose bit is set in the mask (of 3).
    ClaimBatch(u8, u8, u8),
    CommitBatch(u8, u8, u8, bool),
    RevealBatch(u8, u8, u8, bool),
}

/// The tasks (of a 3-task job) whose bit is set, ascending.
fn masked(mask: u8) -> Vec<u32> {
    (0..3).filter(|t| mask & (1 << t) != 0).collect()
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => any::<u8>().prop_map(Op::Post),
        3 => (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(i, j, t)| Op::Claim(i, j, t)),
        3 => (any::<u8>(), any::<u8>(), any::<u8>(), prop::bool::weighted(0.8))
            .prop_map(|(i, j, t, g)| Op::Commit(i, j, t, g)),
        3 => (any::<u8>(), any::<u8>(), any::<u8>(), prop::bool::weighted(0.8))
            .prop_map(|(i, j, t, g)| Op::Reveal(i, j, t, g)),
        1 => (any::<u8>(), any::<u8>(), any::<bool>()).prop_map(|(j, t, a)| Op::Judge(j, t, a)),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(j, t)| Op::Settle(j, t)),
        1 => any::<u8>().prop_map(Op::Close),
        1 => (1u8..8).prop_map(Op::Pass),
        1 => any::<u8>().prop_map(Op::Canaries),
        2 => (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(i, j, m)| Op::ClaimBatch(i, j, m)),
        2 => (any::<u8>(), any::<u8>(), any::<u8>(), prop::bool::weighted(0.8))
            .prop_map(|(i, j, m, g)| Op::CommitBatch(i, j, m, g)),
        2 => (any::<u8>(), any::<u8>(), any::<u8>(), prop::bool::weighted(0.8))
            .prop_map(|(i, j, m, g)| Op::RevealBatch(i, j, m, g)),
    ]
}

// ---------------------------------------------------------------------------------------------
// The cheaters' table: a market of eight providers, one job per task, the default bond (10x the
// payment) and spot-check rate (10%). Everybody else is honest; the first provider free in a
// rotation takes each task's open slot, the ledger's assignee each verifying slot.

/// How a provider behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Play {
    Honest,
    /// Returns a cheap wrong answer on every task.
    Garbage,
    /// Sybil identities of one operator: all return the same wrong answer.
    Collude,
    /// Copies instead of computing on referee slots: no result is revealed before referees
    /// commit, so it copies the most common committed tag, commits over a guess, and reveals
    /// the majority's result once it is shown; honest on every other slot.
    Copy,
    /// Claims and never commits.
    Abandon,
}

/// One provider's balance sheet over a run: slots it took, credits earned and forfeited.
#[derive(Clone, Copy, Debug, Default)]
struct Sheet {
    slots: u64,
    earned: u128,
    forfeited: u128,
}

impl Sheet {
    fn net(&self) -> i128 {
        self.earned as i128 - self.forfeited as i128
    }
}

fn answer(s: Play, job: u64, task: u32, revealed: &[Hash]) -> Option<Hash> {
    match s {
        Play::Honest => Some(honest(job, task)),
        Play::Garbage => Some(garbage(job, task)),
        Play::Collude => Some(Hash::tagged("collude", &[&job.to_le_bytes()])),
        Play::Copy => Some(majority(revealed).unwrap_or(honest(job, task))),
        Play::Abandon => None,
    }
}

/// Runs `tasks` one-task jobs in `mode` with providers 0..8 behaving as `strategies`; returns
/// each provider's sheet and how many tasks ended verified with a wrong (non-honest) result.
fn market(mode: VerifyMode, strategies: [Play; 8], tasks: u32) -> ([Sheet; 8], u32) {
    let mut w = World::with(|g| {
        let c = g.modules.compute.as_mut().unwrap();
        c.max_job_blocks = 400;
        c.bond_multiple = ComputeGenesis::default().bond_multiple;
    });
    for i in 0..8 {
        assert_eq!(w.register_as(i, BENCH, 900_000), "success");
    }
    let mut sheets = [Sheet::default(); 8];
    let mut wrong_paid = 0;
    let mut turn = 0usize;
    let index_of = |a: &Address| (0..8).find(|i| device(*i).address() == *a);
    for _ in 0..tasks {
        let job = w.post(mode, 1);
        // Up to a few rounds of claims, commits and reveals until the task settles.
        for _round in 0..12 {
            let t = w.task(job, 0);
            if t.outcome.is_some() {
                break;
            }
            let j = w.job(job);
            let h = w.height() + 1;
            // Who takes the next slot: the assignee of a verifying slot, else the next in turn.
            let role =
                depin_core::modules::compute::settle::next_role(&w.net.state, job, &j, 0, &t, h);
            let mut claimed = false;
            if let Some(role) = role {
                let same = t
                    .slots
                    .iter()
                    .filter(|s| s.active() && s.role == role)
                    .count() as u32;
                let taker = match slot_opening(&j, &t, role, same) {
                    Some((opened, n)) => {
                        let p = test_params();
                        assigned_provider(&w.net.state, &p, job, &j, 0, &t, opened, n)
                            .and_then(|a| index_of(&a))
                    }
                    // Cheaters race for open slots (they take as many as they can); honest
                    // providers take the rest in turn.
                    None => {
                        turn += 1;
                        let free =
                            |i: &u8| !t.slots.iter().any(|s| s.owner == owner_of(*i).address());
                        (0..8u8)
                            .filter(|i| strategies[*i as usize] != Play::Honest)
                            .find(free)
                            .or_else(|| (0..8).map(|k| ((turn + k) % 8) as u8).find(free))
                    }
                };
                if let Some(i) = taker {
                    let revealed: Vec<Hash> = t.slots.iter().filter_map(|s| s.result).collect();
                    assert!(
                        revealed.is_empty() || role != Role::Referee,
                        "referees claim before any result is revealed"
                    );
                    let tags: Vec<Hash> = t
                        .slots
                        .iter()
                        .filter(|s| s.active())
                        .filter_map(|s| s.tag)
                        .collect();
                    if w.claim(i, job, 0) == "success" {
                        claimed = true;
                        sheets[i as usize].slots += 1;
                        if strategies[i as usize] == Play::Copy && role == Role::Referee {
                            let guess = garbage(job, 0);
                            let d = device(i).address();
                            let c = CommitResult {
                                job,
                                task: 0,
                                commitment: result_commitment(job, 0, &d, &guess, &salt(i)),
                                tag: majority(&tags).unwrap_or(result_tag(job, 0, &guess)),
                            };
                            assert_eq!(w.act(&device(i), c), "success");
                        } else if let Some(r) = answer(strategies[i as usize], job, 0, &revealed) {
                            assert_eq!(w.commit(i, job, 0, r), "success");
                        }
                    }
                }
            }
            if !claimed {
                w.pass(1);
                // Reveal whatever can be revealed; settle timeouts (abandoned claims).
                let t = w.task(job, 0);
                for s in t
                    .slots
                    .iter()
                    .filter(|s| s.active() && s.commitment.is_some() && s.result.is_none())
                {
                    let i = index_of(&s.device).unwrap();
                    let revealed: Vec<Hash> = t.slots.iter().filter_map(|s| s.result).collect();
                    let r = answer(strategies[i as usize], job, 0, &revealed).unwrap();
                    // A copier on a referee slot reveals the majority it now sees (refused:
                    // its commitment was fixed before), else what it committed to.
                    let r = if strategies[i as usize] == Play::Copy && s.role != Role::Referee {
                        honest(job, 0)
                    } else {
                        r
                    };
                    w.reveal(i, job, 0, r);
                }
                if w.task(job, 0).outcome.is_none() {
                    w.act(&owner_of(0), SettleTask { job, task: 0 });
                }
            }
        }
        if w.task(job, 0).outcome.is_none() {
            w.pass(w.job(job).deadline_height + 1 - w.height());
        }
        if !w.job(job).closed {
            assert_eq!(w.act(&owner_of(0), CloseJob { job }), "success");
        }
        let t = w.task(job, 0);
        if t.outcome == Some(TaskOutcome::Verified)
            && t.slots
                .iter()
                .any(|s| s.fate == SlotFate::Paid && s.result != Some(honest(job, 0)))
        {
            wrong_paid += 1;
        }
    }
    credits_balance(&w.net);
    for (i, sheet) in sheets.iter_mut().enumerate() {
        let r = w
            .net
            .state
            .provider(&device(i as u8).address())
            .unwrap()
            .record;
        sheet.earned = r.earned;
        sheet.forfeited = r.slashed;
    }
    (sheets, wrong_paid)
}

/// The most common of `hashes` (the first of the most common), if any.
fn majority(hashes: &[Hash]) -> Option<Hash> {
    let mut best: Option<(usize, Hash)> = None;
    for h in hashes {
        let n = hashes.iter().filter(|x| *x == h).count();
        if best.is_none_or(|(m, _)| n > m) {
            best = Some((n, *h));
        }
    }
    best.map(|(_, h)| h)
}

/// Prints one row of the table and returns (cheaters' net per slot, honest net per slot).
fn row(
    name: &str,
    sheets: &[Sheet; 8],
    strategies: &[Play; 8],
    wrong_paid: u32,
    tasks: u32,
) -> (i128, i128) {
    let sum = |pick: &dyn Fn(Play) -> bool| {
        let (mut slots, mut net) = (0u64, 0i128);
        for (s, st) in sheets.iter().zip(strategies) {
            if pick(*st) {
                slots += s.slots;
                net += s.net();
            }
        }
        (slots, net)
    };
    let (cs, cn) = sum(&|s| s != Play::Honest);
    let (hs, hn) = sum(&|s| s == Play::Honest);
    let per = |n: i128, s: u64| if s == 0 { 0 } else { n / s as i128 };
    eprintln!(
        "| {name} | {cs} | {cn} | {} | {hs} | {hn} | {} | {wrong_paid} of {tasks} |",
        per(cn, cs),
        per(hn, hs)
    );
    (per(cn, cs), per(hn, hs))
}

#[test]
fn cheaters_earn_less_per_slot_than_honest_providers_at_the_defaults() {
    use Play::*;
    // `COMPUTE_ATTACK_TASKS=400` for the numbers in docs/SECURITY.md (80 keeps CI fast).
    let tasks = std::env::var("COMPUTE_ATTACK_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(80);
    eprintln!(
        "| attack | cheater slots | cheater net (credits) | per slot | honest slots | honest net | per slot | wrong results paid |"
    );
    eprintln!("|---|---|---|---|---|---|---|---|");
    let spot = VerifyMode::SpotCheck { rate_bps: 1_000 };
    let s = [
        Garbage, Honest, Honest, Honest, Honest, Honest, Honest, Honest,
    ];
    let (sheets, wrong) = market(spot, s, tasks);
    let (c, h) = row("garbage, spot-check 10%", &sheets, &s, wrong, tasks);
    assert!(
        c < h,
        "a lone garbage provider earns less per slot: {c} vs {h}"
    );

    let s = [
        Abandon, Honest, Honest, Honest, Honest, Honest, Honest, Honest,
    ];
    let (sheets, wrong) = market(spot, s, tasks);
    let (c, h) = row("claim and abandon", &sheets, &s, wrong, tasks);
    assert!(c < 0 && c < h, "an abandoner loses: {c} per slot vs {h}");
    let _ = Play::Copy;

    let redundant = VerifyMode::Redundant { replicas: 3 };
    let s = [
        Garbage, Copy, Honest, Honest, Honest, Honest, Honest, Honest,
    ];
    let (sheets, wrong) = market(redundant, s, tasks);
    let g = sheets[0];
    eprintln!(
        "| garbage provider in redundant 3 (referee rounds) | {} | {} | {} | | | | {wrong} of {tasks} |",
        g.slots,
        g.net(),
        g.net() / i128::from(g.slots.max(1) as u32)
    );
    let honest_sheets = &sheets[2..];
    let (hs, hn) = honest_sheets
        .iter()
        .fold((0u64, 0i128), |(s, n), x| (s + x.slots, n + x.net()));
    let c = sheets[1];
    eprintln!(
        "| copier (copies the majority tag on referee slots, else honest), redundant 3 | {} | {} | {} | {hs} | {hn} | {} | {wrong} of {tasks} |",
        c.slots,
        c.net(),
        c.net() / i128::from(c.slots.max(1) as u32),
        hn / i128::from(hs.max(1) as u32)
    );
    assert!(
        c.net() / i128::from(c.slots.max(1) as u32) <= hn / i128::from(hs.max(1) as u32),
        "a copier earns no more per slot than an honest provider"
    );

    let s = [
        Collude, Collude, Honest, Honest, Honest, Honest, Honest, Honest,
    ];
    let (sheets, wrong) = market(spot, s, tasks);
    let (c, h) = row(
        "2 colluding Sybils of 8, spot-check 10%",
        &sheets,
        &s,
        wrong,
        tasks,
    );
    assert!(
        c < h,
        "colluders earn less per slot than honest providers: {c} vs {h}"
    );
    let (sheets, wrong) = market(redundant, s, tasks);
    let (c, h) = row(
        "2 colluding Sybils of 8, redundant 3",
        &sheets,
        &s,
        wrong,
        tasks,
    );
    assert!(
        c < h,
        "colluders earn less per slot than honest providers: {c} vs {h}"
    );
}

/// Self-dealing: a requester pays its own provider (another key of the same operator) to farm
/// rewards. Capacity shares do not depend on jobs, and paid work is worth at most the tokens
/// burned for its credits, so what comes back is at most what was burned.
#[test]
fn self_dealing_returns_at_most_the_tokens_burned() {
    let mut w = World::new();
    // The operator's provider (owner 1, staked for 50 bonds) and an honest one (owner 2).
    assert_eq!(w.register_as(1, BENCH, 600_000), "success");
    w.register(2);
    w.pass(EPOCH_BLOCKS - w.height() % EPOCH_BLOCKS + 1);
    let epoch = (w.height() - 1) / EPOCH_BLOCKS;
    assert_eq!(w.answer_challenge(1), "success");
    assert_eq!(w.answer_challenge(2), "success");
    // The requester buys fresh credits for its jobs: 4 tokens at $0.50 = 200,000 credits.
    let burned_before = w.net.state.meta().burned.0;
    assert_eq!(w.act(&requester(), buy(4 * TOKEN, &requester())), "success");
    let burned = w.net.state.meta().burned.0 - burned_before;
    // Jobs in approval mode, all taken by its own provider, all approved, no work done.
    let mut paid = 0u128;
    for _ in 0..4 {
        let (c, job) = w.post_as(|a| {
            a.tasks = 50;
            a.price_per_unit = 1_000;
        });
        assert_eq!(c, "success");
        let all: Vec<u32> = (0..50).collect();
        let d = device(1).address();
        let actions: Vec<Action> = all
            .iter()
            .flat_map(|&t| {
                let r = garbage(job, t);
                [
                    Action::from(ClaimTask { job, task: t }),
                    Action::from(CommitResult {
                        job,
                        task: t,
                        commitment: result_commitment(job, t, &d, &r, &salt(1)),
                        tag: result_tag(job, t, &r),
                    }),
                ]
            })
            .collect();
        w.batch(&device(1), actions);
        w.pass(1);
        let reveals = all
            .iter()
            .map(|&t| {
                Action::from(RevealResult {
                    job,
                    task: t,
                    result: garbage(job, t),
                    salt: salt(1),
                })
            })
            .collect();
        w.batch(&device(1), reveals);
        assert_eq!(
            w.act(
                &requester(),
                JudgeTasks {
                    job,
                    tasks: all,
                    approve: true
                }
            ),
            "success"
        );
        paid += w.job(job).paid;
        assert_eq!(w.act(&requester(), CloseJob { job }), "success");
    }
    assert_eq!(
        paid, 200_000,
        "every credit bought went to its own provider"
    );
    w.pass(EPOCH_BLOCKS * (epoch + 1) - w.height());
    let own = w.net.state.reward(epoch, &device(1).address()).unwrap();
    let honest_capacity = w.net.state.reward(epoch, &device(2).address()).unwrap();
    // Capacity shares: the same for both providers, jobs or not.
    assert_eq!(own.shares, honest_capacity.shares);
    assert_eq!(own.bootstrap, honest_capacity.bootstrap);
    // Paid work: back at most what its credits cost.
    assert!(
        own.demand.0 * 10_000 <= burned * (10_000 - 500),
        "self-dealing returned {} of {burned} burned: more than the work fee leaves",
        own.demand.0
    );
    eprintln!(
        "self-dealing: burned {burned} base units for 200000 credits paid to its own provider; the demand pool returned {} ({} bps); capacity share {} = the honest provider's",
        own.demand.0,
        own.demand.0 * 10_000 / burned,
        own.bootstrap.0
    );
    credits_balance(&w.net);
}
