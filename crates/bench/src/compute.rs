//! Compute market benchmark: task state changes per second through real blocks (jobs posted,
//! tasks claimed, committed, revealed and settled by signed transactions through the mempool,
//! execution and durable commits), and the epoch close of a network of 100,000 providers that
//! answered the capacity challenge, on the real state.
//!
//! Each round, a requester posts jobs in approval mode (a task's life: posted, claimed,
//! committed, revealed, approved and paid); every task is taken by one of the market's
//! providers, which claims and commits it in one block and reveals it in a later one, up to
//! [`ComputeBench::batch`] tasks per transaction (`claim_tasks`, `commit_results`,
//! `reveal_results`; 1: one `claim_task`, `commit_result`, `reveal_result` each); the
//! requester then approves the results in batches and closes the jobs. State changes count
//! each task's post, claim, commitment, reveal and settlement separately however many share a
//! transaction. Signing is the
//! providers' and requester's work, done before each round and not timed. Compared against, in
//! the same run: the raw batch verification rate of the round's own transaction signatures on
//! all cores (every claim, commit and reveal is one signed transaction, so this is the most the
//! node could admit if nothing else cost anything).
//!
//! The close: every provider of the network answers the epoch's capacity challenge (through
//! blocks, not timed), then the block at the epoch boundary is produced and timed: compute's
//! epoch work (reading every answer and registry entry), the shared close paying every proven
//! provider's owner, the reward records, the Merkle commit and the store's durable write.
//! Compared against reading every provider's record and registry entry once from the same
//! state.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use depin_core::crypto::{self, Hash};
use depin_core::economics::{EconomyView, TokenPrice};
use depin_core::genesis::Allocation;
use depin_core::modules::compute::actions::{
    AnswerChallenge, ClaimTask, ClaimTasks, CloseJob, CommitResult, CommitResults, JudgeTasks,
    PostJob, ProcessorClass, RegisterProvider, RevealResult, RevealResults, Unit, VerifyMode,
    challenge_target, result_commitment, result_tag, sign_onboarding, solve_challenge,
};
use depin_core::modules::compute::params::{CHALLENGE_NONCES, MAX_APPROVE_BATCH, MAX_TASK_BATCH};
use depin_core::modules::compute::{ComputeGenesis, ComputeView};
use depin_core::services::demand::actions::{BuyCredits, SubmitPrice};
use depin_core::services::demand::params;
use depin_core::services::devices::DevicesView;
use depin_core::{Action, Address, Amount, Keypair, Signature, Transaction};
use depin_node::mempool::VERIFY_CHUNK;
use rayon::prelude::*;
use serde::Serialize;

use crate::driver::Driver;
use crate::{median, seeded};

/// What to run.
#[derive(Clone, Debug)]
pub struct ComputeBench {
    /// Providers taking the rounds' tasks (the first of the network's providers).
    pub market_providers: usize,
    /// Jobs a round posts, each of [`TASKS_PER_JOB`] tasks.
    pub jobs_per_round: usize,
    /// Rounds measured (the report gives their median).
    pub rounds: usize,
    /// Providers in the network whose epoch close is timed (at least `market_providers`).
    pub close_providers: usize,
    /// Epoch closes timed (the report gives their median).
    pub closes: usize,
    pub max_block_txs: u32,
    /// Claims, commitments or reveals per provider transaction (1: single actions, as before
    /// session 26; at most [`MAX_TASK_BATCH`]).
    pub batch: usize,
}

impl Default for ComputeBench {
    fn default() -> Self {
        ComputeBench {
            market_providers: 2048,
            jobs_per_round: 16,
            rounds: 5,
            close_providers: 100_000,
            closes: 3,
            max_block_txs: 50_000,
            batch: MAX_TASK_BATCH,
        }
    }
}

/// One round of the market.
#[derive(Clone, Debug, Serialize)]
pub struct RoundReport {
    pub tasks: u64,
    /// Posted, claimed, committed, revealed and settled: five per task.
    pub state_changes: u64,
    pub transactions: u64,
    pub seconds: f64,
    pub state_changes_per_s: f64,
    pub transactions_per_s: f64,
    pub blocks: u64,
    /// Raw batch verification of this round's transaction signatures on all cores, per second.
    pub raw_verify_per_s: f64,
    /// Seconds the mempool took to admit the round's transactions (signature checks included).
    pub admit_seconds: f64,
    /// Seconds each of the round's blocks took to produce (execution, Merkle staging, durable
    /// commit), in order: posts, claims and commitments, reveals, approvals and closes.
    pub block_seconds: Vec<f64>,
    /// Entries in the state after the round (what grows from round to round).
    pub state_entries: u64,
}

/// Results, printed as JSON by `depin bench compute --json`.
#[derive(Clone, Debug, Serialize)]
pub struct ComputeReport {
    /// Median over the rounds of task state changes per second.
    pub state_changes_per_s: f64,
    /// Median over the rounds of compute transactions per second.
    pub transactions_per_s: f64,
    /// Median over the rounds of the raw batch verification rate, signatures per second.
    pub raw_verify_per_s: f64,
    /// `transactions_per_s / raw_verify_per_s`: the share of the machine's signature
    /// verification rate the market reaches end to end.
    pub ratio_to_raw_verify: f64,
    pub rounds: Vec<RoundReport>,
    /// Median seconds of the timed epoch-boundary blocks.
    pub close_seconds: f64,
    pub close_seconds_each: Vec<f64>,
    /// Seconds to read every provider's record and registry entry once (median).
    pub read_providers_seconds: f64,
    /// `close_seconds / read_providers_seconds`.
    pub close_vs_read: f64,
    /// Providers that answered the challenge and were counted by the close.
    pub providers_proven: u64,
    /// Devices the close paid.
    pub devices_paid: u64,
    pub close_providers: usize,
    pub market_providers: usize,
    /// Claims, commitments or reveals per provider transaction.
    pub batch: usize,
    /// Credits paid to providers over the rounds (checked against the ledger's totals).
    pub credits_paid: u128,
    /// Seconds spent signing (all cores; not timed).
    pub signing_seconds: f64,
    /// Seconds to register the network and answer its challenges through blocks (not timed).
    pub setup_seconds: f64,
    pub cores: usize,
}

/// Tasks of every bench job.
pub const TASKS_PER_JOB: u32 = 1_024;
/// Blocks per epoch.
const EPOCH_BLOCKS: u64 = 64;
/// Credits one task pays.
const PRICE: u128 = 1_000;
/// Credits staked by a market provider: bonds for every task of a round it may hold at once.
const MARKET_STAKE: u128 = 2_000_000;
/// Credits staked by every other provider: the least its benchmark needs.
const MIN_STAKE: u128 = 10;
/// Onboarding fee, credits.
const ONBOARD_FEE: u64 = 1_000;
/// Credits set aside per device (and a thousand times that for the requester) for transaction
/// fees, which a device's owner pays: a few credits a transaction.
const FEE_RESERVE: u128 = 20_000;
/// Devices per owner.
const DEVICES_PER_OWNER: usize = 1_000;
/// Base units of one whole token (6 decimals).
const TOKEN: u128 = 1_000_000;
/// Credits one whole token buys at $0.50 and $0.00001 a credit.
const CREDITS_PER_TOKEN: u128 = 50_000;
const PRICE_HALF_DOLLAR: u64 = 50_000_000;

/// The honest result of a task (what the providers computed off chain).
fn result_of(job: u64, task: u32) -> Hash {
    Hash::tagged(
        "depin/bench/compute/result",
        &[&job.to_le_bytes(), &task.to_le_bytes()],
    )
}

fn salt_of(device: &Address) -> Hash {
    Hash::tagged("depin/bench/compute/salt", &[&device.0])
}

/// Runs the benchmark with its database in `dir`.
pub fn run(cfg: &ComputeBench, dir: &Path) -> Result<ComputeReport, String> {
    let m = cfg.market_providers.max(1);
    let n = cfg.close_providers.max(m);
    let owners_count = n.div_ceil(DEVICES_PER_OWNER);
    let validator = Keypair::from_seed([0xc0; 32]);
    let treasury = Keypair::from_seed([0xc1; 32]);
    let oracle = Keypair::from_seed([0xc2; 32]);
    let requester = Keypair::from_seed([0xc3; 32]);
    let owners: Vec<Keypair> = (0..owners_count).map(|i| seeded(0xc4, i)).collect();
    let devices: Vec<Keypair> = (0..n).into_par_iter().map(|i| seeded(0xc5, i)).collect();
    let owner_of = |i: usize| i / DEVICES_PER_OWNER;
    let stake_of = |i: usize| if i < m { MARKET_STAKE } else { MIN_STAKE };

    // Credits each owner needs: its devices' stakes and onboarding fees; tokens to buy them.
    // Plus the fees of every transaction their devices send (a device's fees are paid by its
    // owner, in credits): a reserve per device far above what the run spends.
    let mut owner_credits = vec![0u128; owners_count];
    for i in 0..n {
        owner_credits[owner_of(i)] += stake_of(i) + u128::from(ONBOARD_FEE) + FEE_RESERVE;
    }
    let tokens_for = |credits: u128| credits.div_ceil(CREDITS_PER_TOKEN) + 1;
    let rounds = cfg.rounds.max(1);
    let requester_credits =
        PRICE * u128::from(TASKS_PER_JOB) * (cfg.jobs_per_round * (rounds + 1)) as u128
            + FEE_RESERVE * 1_000;

    let mut demand = params::preset(vec![oracle.address()], 100);
    demand.onboard_fee_credits = ONBOARD_FEE;
    let compute = ComputeGenesis {
        // The capacity challenge at its cheapest (benchmark 1, one hash a score): the close's
        // cost does not depend on the work behind an answer.
        challenge_hashes_per_score: 1,
        challenge_window_blocks: 8,
        ..ComputeGenesis::default()
    };
    let mut allocations: Vec<Allocation> = owners
        .iter()
        .zip(&owner_credits)
        .map(|(o, c)| Allocation {
            address: o.address(),
            amount: (tokens_for(*c) + 1).to_string(),
        })
        .collect();
    allocations.push(Allocation {
        address: requester.address(),
        amount: (tokens_for(requester_credits) + 1).to_string(),
    });
    allocations.push(Allocation {
        address: oracle.address(),
        amount: "10".into(),
    });
    let genesis = crate::BenchNetwork {
        name: "compute",
        epoch_length_blocks: EPOCH_BLOCKS,
        max_block_txs: cfg.max_block_txs,
        validator: validator.address(),
        treasury: treasury.address(),
        allocations,
        modules: depin_core::modules::ModulesGenesis {
            demand: Some(demand),
            compute: Some(compute.clone()),
            ..Default::default()
        },
    }
    .genesis();
    let network = genesis.network();
    let chain_id = network.chain_id.clone();
    let (node, mut producer) = crate::open_node(genesis, dir, validator, 2_000_000, 1 << 31)?;
    let mut chain = Driver::new(&node, &mut producer);
    let sign =
        |key: &Keypair, nonce: u64, action: Action| crate::sign(&network, key, nonce, action);

    // Setup, not timed: a price, credits, every provider registered.
    let setup = Instant::now();
    let mut signing = 0.0f64;
    let price = Action::from(SubmitPrice {
        price: TokenPrice(PRICE_HALF_DOLLAR),
        observed_at_ms: chain.time_ms,
    });
    chain.settle(vec![sign(&oracle, 0, price)], "the price")?;
    let buy = |key: &Keypair, credits: u128| {
        Action::from(BuyCredits {
            tokens: Amount(tokens_for(credits) * TOKEN),
            min_credits: credits,
            to: key.address(),
        })
    };
    let mut buys: Vec<Transaction> = owners
        .iter()
        .zip(&owner_credits)
        .map(|(o, c)| sign(o, 0, buy(o, *c)))
        .collect();
    buys.push(sign(&requester, 0, buy(&requester, requester_credits)));
    chain.settle(buys, "a credit purchase")?;
    let t = Instant::now();
    let registrations: Vec<Transaction> = (0..n)
        .into_par_iter()
        .map(|i| {
            let owner = &owners[owner_of(i)];
            let action = Action::from(RegisterProvider {
                device: devices[i].address(),
                class: ProcessorClass::Gpu,
                benchmark: 1,
                stake: stake_of(i),
                device_signature: sign_onboarding(&chain_id, &owner.address(), &devices[i]),
            });
            sign(owner, 1 + (i % DEVICES_PER_OWNER) as u64, action)
        })
        .collect();
    signing += t.elapsed().as_secs_f64();
    chain.settle(registrations, "a provider registration")?;
    let mut setup_seconds = setup.elapsed().as_secs_f64();

    // The market: rounds of jobs through real blocks.
    let mut device_nonces = vec![0u64; n];
    let mut requester_nonce = 1u64;
    let mut reports = Vec::with_capacity(rounds);
    let mut credits_paid = 0u128;
    for _ in 0..rounds {
        let first_job = chain.producer.state().next_job_id();
        let jobs: Vec<u64> = (first_job..first_job + cfg.jobs_per_round as u64).collect();
        let height = chain.producer.state().height();
        let t = Instant::now();
        let posts: Vec<Transaction> = jobs
            .iter()
            .map(|job| {
                let post = Action::from(PostJob {
                    spec_hash: Hash::tagged("depin/bench/compute/spec", &[&job.to_le_bytes()]),
                    tasks: TASKS_PER_JOB,
                    unit: Unit::Frame,
                    units_per_task: 1,
                    price_per_unit: PRICE,
                    deadline_height: height + 200,
                    min_tier: 0,
                    mode: VerifyMode::Approval,
                    canary_commitment: None,
                });
                requester_nonce += 1;
                sign(&requester, requester_nonce - 1, post)
            })
            .collect();
        // Task k of the round goes to market provider k mod m.
        let tasks: Vec<(u64, u32, usize)> = jobs
            .iter()
            .flat_map(|&job| (0..TASKS_PER_JOB).map(move |t| (job, t)))
            .enumerate()
            .map(|(k, (job, t))| (job, t, k % m))
            .collect();
        let mut nonce_of = |p: usize| {
            device_nonces[p] += 1;
            device_nonces[p] - 1
        };
        // Each provider's tasks of the round, in (job, task) order, in transactions of up to
        // `batch` items: its claims and commitments for one block, its reveals for a later one.
        let batch = cfg.batch.clamp(1, MAX_TASK_BATCH);
        let mut mine: Vec<Vec<(u64, u32)>> = vec![Vec::new(); m];
        for &(job, task, p) in &tasks {
            mine[p].push((job, task));
        }
        let mut planned: Vec<(usize, u64, Action)> = Vec::new();
        let mut reveals_planned: Vec<(usize, u64, Action)> = Vec::new();
        for (p, list) in mine.iter().enumerate() {
            let d = devices[p].address();
            let salt = salt_of(&d);
            for chunk in list.chunks(batch) {
                let claims: Vec<ClaimTask> = chunk
                    .iter()
                    .map(|&(job, task)| ClaimTask { job, task })
                    .collect();
                let commits: Vec<CommitResult> = chunk
                    .iter()
                    .map(|&(job, task)| {
                        let result = result_of(job, task);
                        CommitResult {
                            job,
                            task,
                            commitment: result_commitment(job, task, &d, &result, &salt),
                            tag: result_tag(job, task, &result),
                        }
                    })
                    .collect();
                let reveals: Vec<RevealResult> = chunk
                    .iter()
                    .map(|&(job, task)| RevealResult {
                        job,
                        task,
                        result: result_of(job, task),
                        salt,
                    })
                    .collect();
                let (claim, commit, reveal) = if batch == 1 {
                    (
                        Action::from(claims[0].clone()),
                        Action::from(commits[0].clone()),
                        Action::from(reveals[0].clone()),
                    )
                } else {
                    (
                        Action::from(ClaimTasks { items: claims }),
                        Action::from(CommitResults { items: commits }),
                        Action::from(RevealResults { items: reveals }),
                    )
                };
                planned.push((p, nonce_of(p), claim));
                planned.push((p, nonce_of(p), commit));
                reveals_planned.push((p, 0, reveal));
            }
        }
        for r in &mut reveals_planned {
            r.1 = nonce_of(r.0);
        }
        let sign_all = |v: Vec<(usize, u64, Action)>| -> Vec<Transaction> {
            v.into_par_iter()
                .map(|(p, nonce, a)| sign(&devices[p], nonce, a))
                .collect()
        };
        let claims = sign_all(planned);
        let reveals = sign_all(reveals_planned);
        let mut judges: Vec<Transaction> = Vec::new();
        for &job in &jobs {
            for chunk in (0..TASKS_PER_JOB)
                .collect::<Vec<_>>()
                .chunks(MAX_APPROVE_BATCH)
            {
                let a = Action::from(JudgeTasks {
                    job,
                    tasks: chunk.to_vec(),
                    approve: true,
                });
                judges.push(sign(&requester, requester_nonce, a));
                requester_nonce += 1;
            }
        }
        for &job in &jobs {
            judges.push(sign(
                &requester,
                requester_nonce,
                Action::from(CloseJob { job }),
            ));
            requester_nonce += 1;
        }
        signing += t.elapsed().as_secs_f64();
        let raw_verify_per_s = raw_verify_rate(&network.genesis_hash, &claims, &reveals);

        let transactions = (posts.len() + claims.len() + reveals.len() + judges.len()) as u64;
        let blocks_before = chain.blocks;
        let paid_before = chain.producer.state().totals().paid;
        let t = Instant::now();
        let (mut admit_seconds, mut block_seconds) = (0.0f64, Vec::new());
        for (txs, what) in [
            (posts, "a job post"),
            (claims, "a claim or commitment"),
            (reveals, "a reveal"),
            (judges, "an approval or close"),
        ] {
            // `Driver::settle`, with the mempool's admission (signature checks) and each
            // block's production (execution, Merkle staging, durable commit) timed apart.
            let total = txs.len();
            let a = Instant::now();
            crate::driver::submit_all(chain.node, txs)?;
            admit_seconds += a.elapsed().as_secs_f64();
            let mut done = 0;
            while done < total {
                let b = Instant::now();
                let outcomes = chain.produce()?;
                block_seconds.push(b.elapsed().as_secs_f64());
                if outcomes.iter().any(|ok| !ok) {
                    return Err(format!(
                        "{what} was refused; the bench genesis is inconsistent"
                    ));
                }
                done += outcomes.len();
            }
        }
        let seconds = t.elapsed().as_secs_f64();
        let state = chain.producer.state();
        let paid = state.totals().paid - paid_before;
        for &job in &jobs {
            let j = state.job(job).ok_or("a bench job is missing")?;
            if !j.closed || j.delivered != TASKS_PER_JOB {
                return Err(format!(
                    "bench job {job} delivered {} of {TASKS_PER_JOB} tasks",
                    j.delivered
                ));
            }
        }
        let count = tasks.len() as u64;
        let expected =
            PRICE * u128::from(count) * (10_000 - u128::from(compute.work_fee_bps)) / 10_000;
        if paid != expected {
            return Err(format!(
                "the ledger paid {paid} credits for {count} tasks; expected {expected}"
            ));
        }
        credits_paid += paid;
        reports.push(RoundReport {
            tasks: count,
            state_changes: 5 * count,
            transactions,
            seconds,
            state_changes_per_s: (5 * count) as f64 / seconds,
            transactions_per_s: transactions as f64 / seconds,
            blocks: chain.blocks - blocks_before,
            raw_verify_per_s,
            admit_seconds,
            block_seconds,
            state_entries: chain.producer.state().entries().len() as u64,
        });
    }

    // The close: every provider answers the capacity challenge, then the boundary is timed.
    let mut close_seconds_each = Vec::new();
    let mut read_seconds = Vec::new();
    let (mut providers_proven, mut devices_paid) = (0u64, 0u64);
    let target = challenge_target(1, compute.challenge_hashes_per_score);
    for _ in 0..cfg.closes.max(1) {
        let setup = Instant::now();
        // Two blocks into a fresh epoch: the seed must be a block of the epoch answered.
        let epoch = chain.producer.state().height() / EPOCH_BLOCKS + 1;
        while chain.producer.state().height() < epoch * EPOCH_BLOCKS + 2 {
            chain.produce()?;
        }
        let per_chunk = cfg.max_block_txs as usize;
        for chunk in (0..n).collect::<Vec<_>>().chunks(per_chunk) {
            let state = chain.producer.state();
            let seed_height = state.height() - 1;
            let seed = state
                .entropy(seed_height)
                .ok_or("no entropy for the seed")?;
            let t = Instant::now();
            let answers: Vec<Transaction> = chunk
                .par_iter()
                .map(|&i| {
                    let d = &devices[i];
                    let nonces = solve_challenge(&seed, &d.address(), target, CHALLENGE_NONCES);
                    let a = Action::from(AnswerChallenge {
                        seed_height,
                        nonces,
                    });
                    sign(d, device_nonces[i], a)
                })
                .collect();
            signing += t.elapsed().as_secs_f64();
            for &i in chunk {
                device_nonces[i] += 1;
            }
            chain.settle(answers, "a challenge answer")?;
        }
        while chain.producer.state().height() + 1 < (epoch + 1) * EPOCH_BLOCKS {
            chain.produce()?;
        }
        setup_seconds += setup.elapsed().as_secs_f64();

        let state = chain.producer.state();
        let t = Instant::now();
        let mut found = 0usize;
        for d in &devices {
            let a = d.address();
            found += usize::from(
                black_box(state.provider(&a)).is_some()
                    && black_box(state.device_entry(&a)).is_some(),
            );
        }
        read_seconds.push(t.elapsed().as_secs_f64());
        if found != n {
            return Err(format!("{found} of {n} providers are registered"));
        }

        let t = Instant::now();
        chain.produce()?;
        close_seconds_each.push(t.elapsed().as_secs_f64());
        let state = chain.producer.state();
        let summary = state
            .epoch_summary(epoch)
            .ok_or("the timed block did not close the epoch")?;
        devices_paid = summary.devices_paid;
        providers_proven = summary
            .module("compute")
            .and_then(|m| {
                m.counters
                    .iter()
                    .find(|(c, _)| c == "providers_proven")
                    .map(|(_, v)| *v)
            })
            .unwrap_or(0);
        if providers_proven != n as u64 {
            return Err(format!(
                "the close counted {providers_proven} proven providers of {n}"
            ));
        }
    }

    let state_changes: Vec<f64> = reports.iter().map(|r| r.state_changes_per_s).collect();
    let txs: Vec<f64> = reports.iter().map(|r| r.transactions_per_s).collect();
    let raw: Vec<f64> = reports.iter().map(|r| r.raw_verify_per_s).collect();
    let close_seconds = median(&close_seconds_each);
    let read_providers_seconds = median(&read_seconds);
    Ok(ComputeReport {
        state_changes_per_s: median(&state_changes),
        transactions_per_s: median(&txs),
        raw_verify_per_s: median(&raw),
        ratio_to_raw_verify: median(&txs) / median(&raw),
        rounds: reports,
        close_seconds,
        close_seconds_each,
        read_providers_seconds,
        close_vs_read: close_seconds / read_providers_seconds,
        providers_proven,
        devices_paid,
        close_providers: n,
        market_providers: m,
        batch: cfg.batch.clamp(1, MAX_TASK_BATCH),
        credits_paid,
        signing_seconds: signing,
        setup_seconds,
        cores: rayon::current_num_threads(),
    })
}

/// Raw batch verification of the round's signatures on all cores, signatures per second (the
/// signing bytes made first, so only the curve arithmetic and batch hashing are timed).
fn raw_verify_rate(genesis_hash: &Hash, a: &[Transaction], b: &[Transaction]) -> f64 {
    let txs: Vec<&Transaction> = a.iter().chain(b).collect();
    let messages: Vec<Vec<u8>> = txs
        .par_iter()
        .map(|tx| tx.signing_bytes(genesis_hash))
        .collect();
    let items: Vec<(&Address, &[u8], &Signature)> = txs
        .iter()
        .zip(&messages)
        .map(|(tx, m)| (&tx.signer, m.as_slice(), &tx.signature))
        .collect();
    let t = Instant::now();
    let ok: usize = items
        .par_chunks(VERIFY_CHUNK)
        .map(|c| crypto::verify_many(c).iter().filter(|v| **v).count())
        .sum();
    let rate = items.len() as f64 / t.elapsed().as_secs_f64();
    assert_eq!(ok, items.len(), "the bench transactions are validly signed");
    rate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bench_task_is_paid_and_every_provider_counted() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = ComputeBench {
            market_providers: 8,
            jobs_per_round: 1,
            rounds: 1,
            close_providers: 20,
            closes: 1,
            max_block_txs: 5_000,
            batch: 4,
        };
        let r = run(&cfg, dir.path()).unwrap();
        assert_eq!(r.rounds[0].tasks, u64::from(TASKS_PER_JOB));
        assert_eq!(r.providers_proven, 20);
        assert_eq!(r.credits_paid, u128::from(TASKS_PER_JOB) * PRICE * 95 / 100);
    }
}
