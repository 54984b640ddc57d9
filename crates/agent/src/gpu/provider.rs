//! `depin agent compute`: compute providers that do real work. Each provider is a device of its
//! own owner (funded by one funder key, as an operator's fleet would be), stakes credits behind
//! its benchmark, answers the capacity challenge every epoch, claims tasks of jobs whose scene
//! it knows, renders the frames, commits to their hash, reveals it once reveals open, and serves
//! the frames over HTTP. A behaviour flag turns the whole fleet into one kind of cheater.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use depin_core::modules::compute::actions::{
    AnswerChallenge, ClaimTask, ClaimTasks, CommitResult, CommitResults, ProcessorClass,
    RegisterProvider, RevealResult, RevealResults, challenge_digest, challenge_target,
    result_commitment, result_tag, sign_onboarding,
};
use depin_core::modules::compute::params::{CHALLENGE_NONCES, MAX_TASK_BATCH};
use depin_core::services::demand::actions::BuyCredits;
use depin_core::{Action, Address, Amount, Hash, Keypair, Transaction};
use serde_json::Value;

use super::outputs;
use super::render::{SceneSpec, frame_hash, render};
use crate::blocks::{self, Follower};
use crate::client::{Client, Signer, keep_running};

/// How a provider fleet behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Behaviour {
    /// Renders every frame it claims.
    Honest,
    /// Returns a cheap wrong hash on a share of its tasks (--garbage-bps), rendering the rest.
    Garbage,
    /// Sybils of one operator: every member returns the same wrong hash, hoping to be each
    /// other's checkers and referees.
    Collude,
    /// Renders nothing when others' commitments are visible (verifying and referee slots):
    /// copies their most common result tag and commits over a guess. Results are never
    /// revealed before every slot has committed (blind referees), so it cannot open the tag and
    /// forfeits its bond.
    Copy,
    /// Claims as many tasks as its stake allows and never commits (locks capacity).
    Abandon,
    /// Declares ten times the benchmark its hardware does (answers the challenge only within
    /// what it can really compute).
    Inflate,
}

/// What `depin agent compute` is asked for.
#[derive(Clone, Debug, clap::Args)]
pub struct ComputeArgs {
    /// Providers in the fleet, each with its own owner key.
    #[arg(long, default_value_t = 2)]
    pub providers: u32,
    /// Seed of the fleet's keys (a restarted fleet with the same seed finds its providers).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Benchmark each provider really has (challenge hashes it can do per window, in score
    /// points).
    #[arg(long, default_value_t = 20)]
    pub benchmark: u64,
    /// Credits each provider stakes.
    #[arg(long, default_value_t = 2_000_000)]
    pub stake: u128,
    /// Whole tokens the funder gives each owner to buy its credits (stake and fee).
    #[arg(long, default_value_t = 200)]
    pub fund_tokens: u64,
    #[arg(long, value_enum, default_value_t = Behaviour::Honest)]
    pub behaviour: Behaviour,
    /// With --behaviour garbage: share of tasks answered with garbage, basis points.
    #[arg(long, default_value_t = 10_000)]
    pub garbage_bps: u16,
    /// Pending claims per provider at most.
    #[arg(long, default_value_t = 4)]
    pub max_claims: usize,
    /// Directory of scene specs, named `<spec hash>.json` (`depin compute submit` writes them).
    #[arg(long)]
    pub specs: Option<PathBuf>,
    /// Directory the rendered frames are kept in.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Address the frames are served on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
}

/// One provider of the fleet.
struct Member {
    owner: Keypair,
    device: Keypair,
    /// What the ledger was told (ten times the real one for an inflater).
    declared: u64,
    /// Results committed and not yet revealed: (job, task) -> (result, salt).
    committed: BTreeMap<(u64, u32), (Hash, Hash)>,
    last_challenge_epoch: Option<u64>,
}

/// The fleet and the node it works for.
pub struct Fleet {
    client: Client,
    chain_id: String,
    /// Network and fee the fleet's transactions are signed for.
    signer: Signer,
    epoch_length_blocks: u64,
    challenge_hashes_per_score: u64,
    challenge_window_blocks: u64,
    args: ComputeArgs,
    specs: PathBuf,
    out: PathBuf,
    members: Vec<Member>,
    follower: Follower,
    /// Scene specs read, by hash.
    known: BTreeMap<Hash, SceneSpec>,
    /// What the fleet has done, for its report.
    pub counts: BTreeMap<String, u64>,
}

/// The device address of member `i` of a fleet with seed `seed`.
pub fn device_address(seed: u64, i: u32) -> Address {
    key_of(seed, "device", i).address()
}

fn key_of(seed: u64, what: &str, i: u32) -> Keypair {
    let h = Hash::tagged(
        "depin/agent/compute/v1",
        &[&seed.to_le_bytes(), what.as_bytes(), &i.to_le_bytes()],
    );
    Keypair::from_seed(h.0)
}

/// Runs a provider fleet against the node at `node_url` until the node stops, funded by
/// `funder`; `home_dir` holds the default spec and frame directories.
pub fn run(
    args: &ComputeArgs,
    node_url: &str,
    funder: &Keypair,
    home_dir: &std::path::Path,
) -> Result<()> {
    let mut fleet = Fleet::new(args, node_url, home_dir)?;
    let addr = outputs::serve(fleet.out.clone(), args.listen)?;
    println!(
        "compute: {} {:?} provider(s) serving frames on http://{addr}, scene specs from {}",
        args.providers,
        args.behaviour,
        fleet.specs.display()
    );
    fleet.setup(funder)?;
    let mut last_report = 0;
    keep_running("compute", Duration::from_secs(2), || {
        fleet.step()?;
        let h = blocks::height(&fleet.client)?;
        if h / fleet.epoch_length_blocks != last_report {
            last_report = h / fleet.epoch_length_blocks;
            fleet.report()?;
        }
        Ok(())
    });
    Ok(())
}

impl Fleet {
    /// Reads the network's compute parameters and derives the fleet's keys.
    pub fn new(args: &ComputeArgs, node_url: &str, home_dir: &std::path::Path) -> Result<Fleet> {
        let client = Client::new(node_url);
        let p = client.get("/v1/compute/params")?;
        let c = &p["compute"];
        let num = |v: &Value, what: &str| {
            v.as_u64()
                .with_context(|| format!("compute params have no {what}"))
        };
        if args.providers == 0 || args.providers > 64 {
            bail!("--providers must be 1 to 64");
        }
        let declared = if args.behaviour == Behaviour::Inflate {
            args.benchmark.saturating_mul(10)
        } else {
            args.benchmark
        };
        let members = (0..args.providers)
            .map(|i| Member {
                owner: key_of(args.seed, "owner", i),
                device: key_of(args.seed, "device", i),
                declared,
                committed: BTreeMap::new(),
                last_challenge_epoch: None,
            })
            .collect();
        let tip = blocks::height(&client)?;
        Ok(Fleet {
            chain_id: p["chain_id"].as_str().context("no chain_id")?.to_string(),
            signer: Signer::fetch(&client)?,
            epoch_length_blocks: num(&p["epoch_length_blocks"], "epoch_length_blocks")?,
            challenge_hashes_per_score: num(
                &c["challenge_hashes_per_score"],
                "challenge_hashes_per_score",
            )?,
            challenge_window_blocks: num(&c["challenge_window_blocks"], "challenge_window_blocks")?,
            specs: args
                .specs
                .clone()
                .unwrap_or_else(|| home_dir.join("compute").join("specs")),
            out: args.out.clone().unwrap_or_else(|| {
                home_dir
                    .join("compute")
                    .join(format!("frames-{}", args.seed))
            }),
            args: args.clone(),
            members,
            follower: Follower::from(tip + 1),
            known: BTreeMap::new(),
            counts: BTreeMap::new(),
            client,
        })
    }

    /// The fleet's provider devices.
    pub fn devices(&self) -> Vec<Address> {
        self.members.iter().map(|m| m.device.address()).collect()
    }

    /// The fleet's owners (one per provider).
    pub fn owners(&self) -> Vec<Address> {
        self.members.iter().map(|m| m.owner.address()).collect()
    }

    fn sign(&self, key: &Keypair, nonce: u64, action: Action) -> Transaction {
        self.signer.sign(key, nonce, action)
    }

    /// Sends each key's actions with consecutive nonces and waits for their blocks; counts the
    /// outcomes by code.
    fn send(&mut self, batch: Vec<(Keypair, Action)>) -> Result<()> {
        if batch.is_empty() {
            // Nothing to do: wait for the next block.
            let blocks = self.follower.poll(&self.client)?;
            if blocks.is_empty() {
                std::thread::sleep(self.follower.pause());
            }
            return Ok(());
        }
        let mut nonces: BTreeMap<Address, u64> = BTreeMap::new();
        let mut txs = Vec::with_capacity(batch.len());
        for (key, action) in batch {
            let a = key.address();
            let n = match nonces.get(&a) {
                Some(n) => *n,
                None => self.client.nonce(&a)?.unwrap_or(0),
            };
            nonces.insert(a, n + 1);
            txs.push(self.sign(&key, n, action));
        }
        let mut hashes = Vec::new();
        for verdict in self.client.submit(&txs)? {
            match verdict {
                Ok(h) => hashes.push(h),
                Err(e) => *self.counts.entry(e.code).or_default() += 1,
            }
        }
        let outcomes = blocks::await_outcomes(&self.client, &mut self.follower, &hashes, |_| {})?;
        for o in outcomes {
            let code = match o {
                Some(Ok(())) => "accepted".to_string(),
                Some(Err(e)) => e.code,
                None => "dropped".to_string(),
            };
            *self.counts.entry(code).or_default() += 1;
        }
        Ok(())
    }

    /// Funds, buys credits for and registers every provider not yet registered.
    pub fn setup(&mut self, funder: &Keypair) -> Result<()> {
        let mut fund = Vec::new();
        let mut register = Vec::new();
        let decimals = self.client.get("/v1/status")?["token"]["decimals"]
            .as_u64()
            .unwrap_or(0) as u32;
        let tokens = u128::from(self.args.fund_tokens) * 10u128.pow(decimals);
        // Each provider is a device of the shared registry: its owner also locks the bond.
        let bond: u128 = self.client.get("/v1/status")?["device_bond"]
            .as_str()
            .and_then(|b| b.parse().ok())
            .unwrap_or(0);
        for m in &self.members {
            if self
                .client
                .get_opt(&format!("/v1/compute/providers/{}", m.device.address()))?
                .is_some()
            {
                continue;
            }
            fund.push((
                dup(funder),
                Action::Transfer {
                    to: m.owner.address(),
                    amount: Amount(tokens + bond),
                },
            ));
            register.push((
                m.owner.address(),
                Action::from(BuyCredits {
                    // 1% stays in tokens for the owner's transaction fees.
                    tokens: Amount(tokens - tokens / 100),
                    min_credits: 0,
                    to: m.owner.address(),
                }),
                Action::from(RegisterProvider {
                    device: m.device.address(),
                    class: ProcessorClass::Gpu,
                    benchmark: m.declared,
                    stake: self.args.stake,
                    device_signature: sign_onboarding(
                        &self.chain_id,
                        &m.owner.address(),
                        &m.device,
                    ),
                }),
            ));
        }
        if fund.is_empty() {
            return Ok(());
        }
        self.send(fund)?;
        let owners: BTreeMap<Address, Keypair> = self
            .members
            .iter()
            .map(|m| (m.owner.address(), Keypair::from_seed(m.owner.seed())))
            .collect();
        let buys = register
            .iter()
            .map(|(o, buy, _)| (Keypair::from_seed(owners[o].seed()), buy.clone()))
            .collect();
        self.send(buys)?;
        let regs = register
            .into_iter()
            .map(|(o, _, reg)| (Keypair::from_seed(owners[&o].seed()), reg))
            .collect();
        self.send(regs)?;
        let registered = self
            .members
            .iter()
            .filter(|m| {
                self.client
                    .get_opt(&format!("/v1/compute/providers/{}", m.device.address()))
                    .ok()
                    .flatten()
                    .is_some()
            })
            .count();
        if registered < self.members.len() {
            bail!(
                "only {registered} of {} providers registered ({:?}); check the funder's tokens and the oracle price",
                self.members.len(),
                self.counts
            );
        }
        Ok(())
    }

    fn spec(&mut self, hash: &Hash) -> Option<SceneSpec> {
        if let Some(s) = self.known.get(hash) {
            return Some(s.clone());
        }
        let text =
            std::fs::read_to_string(self.specs.join(format!("{}.json", hash.to_hex()))).ok()?;
        let spec = SceneSpec::from_json(&serde_json::from_str(&text).ok()?).ok()?;
        (spec.hash() == *hash).then(|| {
            self.known.insert(*hash, spec.clone());
            spec
        })
    }

    /// The result a member returns for a task, and whether it rendered it (real work).
    /// The result to commit to, and the tag to send when it is not the result's own (a copier's).
    fn result_for(
        &self,
        spec: &SceneSpec,
        job: u64,
        task: u32,
        tags: &[Hash],
    ) -> Result<(Hash, Option<Hash>)> {
        let garbage = || {
            Hash::tagged(
                "depin/agent/compute/garbage",
                &[
                    &self.args.seed.to_le_bytes(),
                    &job.to_le_bytes(),
                    &task.to_le_bytes(),
                ],
            )
        };
        let cheat = match self.args.behaviour {
            Behaviour::Garbage => {
                let roll = Hash::tagged(
                    "roll",
                    &[
                        &self.args.seed.to_le_bytes(),
                        &job.to_le_bytes(),
                        &task.to_le_bytes(),
                    ],
                );
                u16::from_le_bytes([roll.0[0], roll.0[1]]) % 10_000 < self.args.garbage_bps
            }
            Behaviour::Collude => {
                return Ok((
                    Hash::tagged(
                        "depin/agent/compute/collude",
                        &[&job.to_le_bytes(), &task.to_le_bytes()],
                    ),
                    None,
                ));
            }
            Behaviour::Copy if !tags.is_empty() => {
                let mut counts: BTreeMap<Hash, usize> = BTreeMap::new();
                for h in tags {
                    *counts.entry(*h).or_default() += 1;
                }
                let best = counts.iter().max_by_key(|(_, n)| **n).map(|(h, _)| *h);
                return Ok((garbage(), best));
            }
            _ => false,
        };
        if cheat {
            return Ok((garbage(), None));
        }
        let ppm = render(spec, task);
        let hash = frame_hash(&ppm);
        outputs::store(&self.out, &hash, &ppm)?;
        Ok((hash, None))
    }

    /// One round: challenges, claims, commitments and reveals, sent together. Each member's
    /// claims of tasks nobody holds yet, its commitments and its reveals go in batches of up to
    /// [`MAX_TASK_BATCH`] (one signed transaction each); a claim of a task someone holds (a
    /// verifying slot, which the ledger may have assigned to another provider) goes alone, so
    /// its refusal does not take the others with it.
    pub fn step(&mut self) -> Result<()> {
        let tip = blocks::height(&self.client)?;
        let epoch = tip / self.epoch_length_blocks;
        let mut batch: Vec<(Keypair, Action)> = Vec::new();
        // The capacity challenge, once per epoch, seeded by the newest block the ledger keeps.
        let in_epoch = tip % self.epoch_length_blocks;
        if in_epoch >= 2 && in_epoch + self.challenge_window_blocks < self.epoch_length_blocks {
            for i in 0..self.members.len() {
                if self.members[i].last_challenge_epoch == Some(epoch) {
                    continue;
                }
                // The hash of block `tip` is recorded when block `tip + 1` begins: the newest
                // seed there is is the block before the tip's.
                let seed_height = tip - 1;
                let Some(e) = self
                    .client
                    .get_opt(&format!("/v1/compute/entropy/{seed_height}"))?
                else {
                    continue;
                };
                self.members[i].last_challenge_epoch = Some(epoch);
                let seed: Hash = e["entropy"].as_str().context("no entropy")?.parse()?;
                if let Some(nonces) = self.solve(&seed, i) {
                    batch.push((
                        dup(&self.members[i].device),
                        Action::from(AnswerChallenge {
                            seed_height,
                            nonces,
                        }),
                    ));
                }
            }
        }
        let n = self.members.len();
        let mut fresh: Vec<Vec<ClaimTask>> = vec![Vec::new(); n];
        let mut commits: Vec<Vec<CommitResult>> = vec![Vec::new(); n];
        let mut reveals: Vec<Vec<RevealResult>> = vec![Vec::new(); n];
        // Fresh tasks a member of the fleet claims this round: the others leave them alone
        // (only one can have a task's first slot, and a batch is refused whole).
        let mut taken: BTreeSet<(u64, u32)> = BTreeSet::new();
        let jobs = self.client.get("/v1/compute/jobs?open=true&limit=50")?;
        for job in jobs["jobs"].as_array().into_iter().flatten() {
            let id = job["id"].as_u64().context("a job without id")?;
            let spec_hash: Hash = job["spec_hash"].as_str().context("no spec hash")?.parse()?;
            let Some(spec) = self.spec(&spec_hash) else {
                continue;
            };
            let tasks = job["tasks"].as_u64().unwrap_or(0) as u32;
            let detail = self.client.get(&format!("/v1/compute/jobs/{id}"))?;
            let records: BTreeMap<u32, &Value> = detail["task_records"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| Some((t["task"].as_u64()? as u32, t)))
                .collect();
            for i in 0..self.members.len() {
                let device = self.members[i].device.address().to_string();
                let owner = self.members[i].owner.address().to_string();
                let mut claims = self.members[i].committed.len();
                for t in 0..tasks {
                    let record = records.get(&t);
                    let settled = record.is_some_and(|r| r["state"] != "working");
                    if settled {
                        self.members[i].committed.remove(&(id, t));
                        continue;
                    }
                    let slots: Vec<&Value> = record
                        .and_then(|r| r["slots"].as_array())
                        .map(|s| s.iter().collect())
                        .unwrap_or_default();
                    let mine = slots
                        .iter()
                        .find(|s| s["device"] == device.as_str() && s["fate"] == "pending");
                    let tags: Vec<Hash> = slots
                        .iter()
                        .filter(|s| s["fate"] == "pending" && s["device"] != device.as_str())
                        .filter_map(|s| s["tag"].as_str()?.parse().ok())
                        .collect();
                    match mine {
                        None => {
                            let ours = slots.iter().any(|s| s["owner"] == owner.as_str());
                            if ours || claims >= self.args.max_claims {
                                continue;
                            }
                            let claim = ClaimTask { job: id, task: t };
                            if slots.is_empty() {
                                if !taken.insert((id, t)) {
                                    continue;
                                }
                                fresh[i].push(claim);
                            } else {
                                batch.push((dup(&self.members[i].device), Action::from(claim)));
                            }
                            claims += 1;
                        }
                        Some(s) if s["commitment"].is_null() => {
                            if self.args.behaviour == Behaviour::Abandon {
                                continue;
                            }
                            let (result, copied) = self.result_for(&spec, id, t, &tags)?;
                            let salt = Hash::tagged(
                                "salt",
                                &[
                                    &self.members[i].device.seed(),
                                    &id.to_le_bytes(),
                                    &t.to_le_bytes(),
                                ],
                            );
                            let d = self.members[i].device.address();
                            self.members[i].committed.insert((id, t), (result, salt));
                            commits[i].push(CommitResult {
                                job: id,
                                task: t,
                                commitment: result_commitment(id, t, &d, &result, &salt),
                                tag: copied.unwrap_or(result_tag(id, t, &result)),
                            });
                        }
                        Some(s) if s["result"].is_null() => {
                            if let Some((result, salt)) =
                                self.members[i].committed.get(&(id, t)).copied()
                            {
                                reveals[i].push(RevealResult {
                                    job: id,
                                    task: t,
                                    result,
                                    salt,
                                });
                            }
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        for i in 0..n {
            let key = &self.members[i].device;
            batched(&mut batch, key, &mut fresh[i], |items| {
                ClaimTasks { items }.into()
            });
            batched(&mut batch, key, &mut commits[i], |items| {
                CommitResults { items }.into()
            });
            batched(&mut batch, key, &mut reveals[i], |items| {
                RevealResults { items }.into()
            });
        }
        self.send(batch)
    }

    /// Nonces meeting member `i`'s declared target, searched within the work its hardware can
    /// really do in the challenge window (its real benchmark); `None` if it runs out.
    fn solve(&self, seed: &Hash, i: usize) -> Option<Vec<u64>> {
        let m = &self.members[i];
        let target = challenge_target(m.declared, self.challenge_hashes_per_score);
        // Four times the expected work of the real benchmark: an honest provider nearly always
        // finishes, an inflater cannot do ten times as much.
        let budget = self
            .args
            .benchmark
            .saturating_mul(self.challenge_hashes_per_score)
            .saturating_mul(CHALLENGE_NONCES as u64 * 4);
        let device = m.device.address();
        let mut found = Vec::with_capacity(CHALLENGE_NONCES);
        for nonce in 0..budget {
            if challenge_digest(seed, &device, nonce) <= target {
                found.push(nonce);
                if found.len() == CHALLENGE_NONCES {
                    return Some(found);
                }
            }
        }
        None
    }

    /// Prints each provider's stake, reputation and earnings as the ledger has them.
    pub fn report(&self) -> Result<()> {
        let mut seen = BTreeSet::new();
        for m in &self.members {
            let a = m.device.address();
            if !seen.insert(a) {
                continue;
            }
            if let Some(p) = self.client.get_opt(&format!("/v1/compute/providers/{a}"))? {
                println!(
                    "compute {a}: tier {} reputation {} bps, verified {} failed {} abandoned {}, earned {} slashed {} credits, stake {}{}",
                    p["tier"],
                    p["reputation_bps"],
                    p["verified"],
                    p["failed"],
                    p["abandoned"],
                    p["earned"].as_str().unwrap_or("?"),
                    p["slashed"].as_str().unwrap_or("?"),
                    p["stake"].as_str().unwrap_or("?"),
                    p["last_change"]["why"]
                        .as_str()
                        .map(|w| format!("; last: {w}"))
                        .unwrap_or_default(),
                );
            }
        }
        println!("compute: transactions {:?}", self.counts);
        Ok(())
    }
}

/// Queues `items` (sorted by job and task, as a batch must be) in transactions of up to
/// [`MAX_TASK_BATCH`]: a lone item as its own action, more as one batch.
fn batched<T>(
    out: &mut Vec<(Keypair, Action)>,
    key: &Keypair,
    items: &mut [T],
    many: impl Fn(Vec<T>) -> Action,
) where
    T: Clone + Into<Action> + depin_core::modules::compute::actions::TaskItem,
{
    items.sort_by_key(|i| i.job_task());
    for chunk in items.chunks(MAX_TASK_BATCH) {
        let action = match chunk {
            [one] => one.clone().into(),
            _ => many(chunk.to_vec()),
        };
        out.push((dup(key), action));
    }
}

/// A key's copy (keys are not `Clone`, so a signing batch gets its own).
fn dup(k: &Keypair) -> Keypair {
    Keypair::from_seed(k.seed())
}
