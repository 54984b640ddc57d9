//! `depin gov ...` and `depin stake ...`: open proposals and vote on them, list and show them
//! with their tallies; lock, delegate, unbond and withdraw stake.

use anyhow::{Context, Result, bail};
use depin_agent::client::Client;
use depin_core::services::governance::actions::{
    Candidate, Choice, DelegateStake, EmergencyEnact, LockStake, P2pEndpoint, ProposalKind,
    Propose, SetCommission, UnbondStake, Unjail, Vote, WithdrawStake,
};
use depin_core::{Action, Address, Amount};
use depin_node::Home;
use serde_json::Value;

use crate::keys::resolve;
use crate::submit::{chain_info, send_action};

#[derive(clap::Subcommand)]
pub enum GovCmd {
    /// Open a proposal (needs the minimum stake), or enact one with --emergency.
    Propose {
        #[command(subcommand)]
        change: ChangeCmd,
        /// One line saying what the proposal does and why (required; before or after the
        /// change).
        #[arg(long, global = true)]
        title: Option<String>,
        /// Proposer key in --home.
        #[arg(long, default_value = "alice", global = true)]
        key: String,
        /// Enact without a vote (the genesis' emergency key only; devnets).
        #[arg(long, global = true)]
        emergency: bool,
    },
    /// Vote yes, no or abstain on an open proposal (a second vote replaces the first).
    Vote {
        proposal: u64,
        /// yes, no or abstain.
        choice: String,
        /// Voter key in --home.
        #[arg(long, default_value = "alice")]
        key: String,
    },
    /// One proposal: its change, tally, state, explanation and votes.
    Show { proposal: u64 },
    /// The newest proposals with their tallies.
    List,
    /// Governance parameters (quorum, threshold, periods, slashing rules).
    Params,
}

#[derive(clap::Subcommand)]
pub enum ChangeCmd {
    /// New parameters for a module (or switch one on): its genesis section, a TOML or JSON file.
    Params {
        module: String,
        section_file: String,
    },
    /// A new [economics] section (TOML or JSON file).
    Economics { section_file: String },
    /// Add a key to the oracle set (--authorised true) or remove it (false).
    Oracle {
        oracle: String,
        #[arg(long, action = clap::ArgAction::Set, required = true)]
        authorised: bool,
    },
    /// Put a device on the denylist (--denied true) or take it off; --fraud also retires it,
    /// burns its bond and slashes its owner.
    Denylist {
        device: String,
        #[arg(long, action = clap::ArgAction::Set, required = true)]
        denied: bool,
        #[arg(long)]
        fraud: bool,
    },
    /// Put a pair of devices on the edge denylist or take it off.
    PairDenylist {
        a: String,
        b: String,
        #[arg(long, action = clap::ArgAction::Set, required = true)]
        denied: bool,
    },
    /// Pay whole tokens from the treasury.
    TreasurySpend { to: String, tokens: String },
    /// The validator set (addresses or key names).
    Validators {
        #[arg(required = true)]
        validators: Vec<String>,
    },
}

#[derive(clap::Subcommand)]
pub enum StakeCmd {
    /// Lock whole tokens as stake (it votes on proposals opened after this block).
    Lock {
        tokens: String,
        #[arg(long, default_value = "alice")]
        key: String,
    },
    /// Back a validator with your stake (address or key name), or "self".
    Delegate {
        validator: String,
        #[arg(long, default_value = "alice")]
        key: String,
    },
    /// Start unbonding whole tokens (withdrawable after the unbonding period).
    Unbond {
        tokens: String,
        #[arg(long, default_value = "alice")]
        key: String,
    },
    /// Move released unbondings back to your balance.
    Withdraw {
        #[arg(long, default_value = "alice")]
        key: String,
    },
    /// A jailed validator asks to come back.
    Unjail {
        #[arg(long, default_value = "validator")]
        key: String,
    },
    /// An account's stake and voting weight (address or key name).
    Show { who: String },
    /// Declare the key a validator candidate (its address is the consensus key its node runs
    /// with; it needs `min_validator_bond` locked and not delegated), or --withdraw.
    Candidate {
        #[arg(long, default_value = "validator")]
        key: String,
        /// Withdraw the candidacy (it leaves the set at the next election).
        #[arg(long)]
        withdraw: bool,
    },
    /// Set the commission a validator (or candidate) keeps of its pay, in percent ("10" or
    /// "2.5%"); the rest is shared with the stake backing it. A cut applies to this epoch's
    /// pay, a raise from the epoch after next.
    Commission {
        percent: String,
        #[arg(long, default_value = "validator")]
        key: String,
    },
    /// Register where this validator's (or candidate's) p2p listens, `host:port`, on the
    /// ledger; `--remove` takes it off.
    P2p {
        /// `host:port` (IPv4, `[IPv6]` or a DNS name).
        endpoint: Option<String>,
        #[arg(long, default_value = "validator")]
        key: String,
        #[arg(long, conflicts_with = "endpoint")]
        remove: bool,
    },
    /// The validator set, the candidates with their backing, and who the next epoch boundary
    /// elects if stake stays as it is.
    Validators,
}

/// A validator's commission as `stake validators` prints it.
fn commission_text(c: &Value, exposed: &Value) -> String {
    let pct = |bps: u64| format!("{}.{:02}%", bps / 100, bps % 100);
    let bps = c["bps"].as_u64().unwrap_or(10_000);
    let mut out = if c["set"] == Value::Bool(true) {
        format!("commission {}", pct(bps))
    } else {
        "keeps its whole pay (no commission set)".to_string()
    };
    if let (Some(next), Some(from)) = (c["next"]["bps"].as_u64(), c["next"]["from_epoch"].as_u64())
        && next != bps
    {
        out.push_str(&format!(", {} from epoch {from}", pct(next)));
    }
    if let Some(n) = exposed.as_u64() {
        out.push_str(&format!(", {n} backers share the next pay"));
    }
    out
}

/// A percentage with at most two decimals ("10", "2.5%", "0.25") in basis points.
fn percent_bps(text: &str) -> Result<u32> {
    let t = text.trim().trim_end_matches('%');
    let bad = || {
        anyhow::anyhow!(
            "{text:?} is not a percentage: give 0 to 100 with at most two decimals, e.g. 10 or 2.5%"
        )
    };
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty()
        || frac.len() > 2
        || !(whole.chars().chain(frac.chars())).all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: u32 = whole.parse().map_err(|_| bad())?;
    let frac: u32 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    let bps = whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(bad)?;
    if bps > 10_000 {
        return Err(bad());
    }
    Ok(bps)
}

/// Reads a genesis section from a TOML or JSON file, as the JSON a proposal carries.
fn section(path: &str) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the section file {path}"))?;
    if let Ok(v) = serde_json::from_str::<Value>(&text) {
        return Ok(v.to_string());
    }
    let v: toml::Value = toml::from_str(&text).with_context(|| {
        format!("{path} is neither JSON nor TOML; write the module's genesis section, e.g. quorum_bps = 3340")
    })?;
    Ok(serde_json::to_string(&v)?)
}

fn tokens(text: &str, decimals: u8) -> Result<Amount> {
    Amount::parse(text, decimals)
        .with_context(|| format!("'{text}' is not an amount of whole tokens, e.g. 100 or 2.5"))
}

fn change(home: &Home, c: &ChangeCmd, decimals: u8) -> Result<ProposalKind> {
    Ok(match c {
        ChangeCmd::Params {
            module,
            section_file,
        } => ProposalKind::ModuleParams {
            module: module.clone(),
            section: section(section_file)?,
        },
        ChangeCmd::Economics { section_file } => ProposalKind::Economics {
            section: section(section_file)?,
        },
        ChangeCmd::Oracle { oracle, authorised } => ProposalKind::OracleSet {
            oracle: resolve(home, oracle)?,
            authorised: *authorised,
        },
        ChangeCmd::Denylist {
            device,
            denied,
            fraud,
        } => ProposalKind::Denylist {
            device: resolve(home, device)?,
            denied: *denied,
            fraud: *fraud,
        },
        ChangeCmd::PairDenylist { a, b, denied } => ProposalKind::PairDenylist {
            a: resolve(home, a)?,
            b: resolve(home, b)?,
            denied: *denied,
        },
        ChangeCmd::TreasurySpend { to, tokens: t } => ProposalKind::TreasurySpend {
            to: resolve(home, to)?,
            amount: tokens(t, decimals)?,
        },
        ChangeCmd::Validators { validators } => ProposalKind::ValidatorSet {
            validators: validators
                .iter()
                .map(|v| resolve(home, v))
                .collect::<Result<_>>()?,
        },
    })
}

/// Signs and sends `action` with `key_name`, printing `done` and the block; the transaction's
/// status (`None` with `--json`, which prints it).
fn send(
    home: &Home,
    client: &Client,
    key_name: &str,
    action: Action,
    done: &str,
    json_out: bool,
) -> Result<Option<Value>> {
    let info = chain_info(client)?;
    let key = home.load_key(key_name)?;
    let status = send_action(client, &info, &key, key_name, action, None, false, json_out)?;
    if let Some(status) = &status
        && !json_out
    {
        println!("{done} in block {}", status["height"]);
    }
    Ok(status)
}

/// The id of the proposal `proposer` opened (or enacted) with `title` in the block at
/// `height`: read back from the ledger, since other proposals may land in the same blocks.
pub fn proposal_opened(
    client: &Client,
    proposer: &Address,
    height: u64,
    title: &str,
) -> Result<u64> {
    let listed = client.get("/v1/governance/proposals")?;
    let proposer = proposer.to_string();
    listed["proposals"]
        .as_array()
        .and_then(|list| {
            list.iter()
                .filter(|p| {
                    p["proposer"] == proposer.as_str()
                        && p["created_height"] == height
                        && p["title"] == title
                })
                .filter_map(|p| p["id"].as_u64())
                .max()
        })
        .with_context(|| {
            format!("no proposal \"{title}\" by {proposer} in block {height} is listed")
        })
}

pub fn run(home: &Home, client: &Client, cmd: &GovCmd, json_out: bool) -> Result<()> {
    match cmd {
        GovCmd::Propose {
            change: c,
            title,
            key,
            emergency,
        } => {
            let Some(title) = title else {
                bail!(
                    "a proposal needs --title: one line saying what it does and why, e.g. --title \"treasury 20%\""
                );
            };
            let info = chain_info(client)?;
            let change = change(home, c, info.decimals)?;
            let kind = change.name();
            let action = if *emergency {
                Action::from(EmergencyEnact {
                    title: title.clone(),
                    change,
                })
            } else {
                Action::from(Propose {
                    title: title.clone(),
                    change,
                })
            };
            let status = send(
                home,
                client,
                key,
                action,
                &format!("proposed a change ({kind})"),
                json_out,
            )?;
            if let Some(status) = status
                && !json_out
                && let Some(height) = status["height"].as_u64()
            {
                let proposer = home.load_key(key)?.address();
                let id = proposal_opened(client, &proposer, height, title)?;
                println!("proposal #{id}: see it with `depin gov show {id}`");
            }
            Ok(())
        }
        GovCmd::Vote {
            proposal,
            choice,
            key,
        } => {
            let c = match choice.as_str() {
                "yes" => Choice::Yes,
                "no" => Choice::No,
                "abstain" => Choice::Abstain,
                other => bail!("'{other}' is not a choice; vote yes, no or abstain"),
            };
            let action = Action::from(Vote {
                proposal: *proposal,
                choice: c,
            });
            send(
                home,
                client,
                key,
                action,
                &format!("voted {choice} on proposal {proposal}"),
                json_out,
            )
            .map(drop)
        }
        GovCmd::Show { proposal } => {
            let p = client.get(&format!("/v1/governance/proposals/{proposal}"))?;
            if json_out {
                println!("{p}");
            } else {
                print_proposal(&p);
                for v in p["votes"].as_array().into_iter().flatten() {
                    println!(
                        "  {} {} with {}",
                        v["voter"].as_str().unwrap_or("?"),
                        v["choice"].as_str().unwrap_or("?"),
                        v["weight"].as_str().unwrap_or("?")
                    );
                }
            }
            Ok(())
        }
        GovCmd::List => {
            let l = client.get("/v1/governance/proposals")?;
            if json_out {
                println!("{l}");
                return Ok(());
            }
            let list = l["proposals"].as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                println!("no proposals yet; open one with `depin gov propose ... --title ...`");
            }
            for p in &list {
                print_proposal(p);
            }
            Ok(())
        }
        GovCmd::Params => {
            let p = client.get("/v1/governance/params")?;
            if json_out {
                println!("{p}");
            } else {
                println!("{}", serde_json::to_string_pretty(&p["governance"])?);
                if let Some(k) = p["emergency_key"]["address"].as_str() {
                    println!(
                        "EMERGENCY KEY (devnet): {k} may change the denylists and the oracle set directly and enact any change without a vote"
                    );
                }
            }
            Ok(())
        }
    }
}

fn print_proposal(p: &Value) {
    println!(
        "#{} {} [{}] by {}: {}",
        p["id"],
        p["change"]["kind"].as_str().unwrap_or("?"),
        p["status"]["state"].as_str().unwrap_or("?"),
        p["proposer"].as_str().unwrap_or("?"),
        p["title"].as_str().unwrap_or("")
    );
    println!(
        "   yes {} no {} abstain {} of {} eligible",
        p["yes"].as_str().unwrap_or("0"),
        p["no"].as_str().unwrap_or("0"),
        p["abstain"].as_str().unwrap_or("0"),
        p["eligible"].as_str().unwrap_or("0")
    );
    println!("   {}", p["explanation"].as_str().unwrap_or(""));
}

pub fn run_stake(home: &Home, client: &Client, cmd: &StakeCmd, json_out: bool) -> Result<()> {
    let decimals = || chain_info(client).map(|i| i.decimals);
    match cmd {
        StakeCmd::Lock { tokens: t, key } => {
            let amount = tokens(t, decimals()?)?;
            send(
                home,
                client,
                key,
                LockStake { amount }.into(),
                &format!("locked {t} tokens"),
                json_out,
            )
            .map(drop)
        }
        StakeCmd::Delegate { validator, key } => {
            let v = if validator == "self" {
                None
            } else {
                Some(resolve(home, validator)?)
            };
            send(
                home,
                client,
                key,
                DelegateStake { validator: v }.into(),
                &format!("stake now backs {validator}"),
                json_out,
            )
            .map(drop)
        }
        StakeCmd::Unbond { tokens: t, key } => {
            let amount = tokens(t, decimals()?)?;
            send(
                home,
                client,
                key,
                UnbondStake { amount }.into(),
                &format!("started unbonding {t} tokens"),
                json_out,
            )
            .map(drop)
        }
        StakeCmd::Withdraw { key } => send(
            home,
            client,
            key,
            WithdrawStake {}.into(),
            "withdrew released stake",
            json_out,
        )
        .map(drop),
        StakeCmd::Unjail { key } => send(
            home,
            client,
            key,
            Unjail {}.into(),
            "asked to leave jail",
            json_out,
        )
        .map(drop),
        StakeCmd::Candidate { key, withdraw } => send(
            home,
            client,
            key,
            Candidate {
                candidate: !withdraw,
            }
            .into(),
            if *withdraw {
                "withdrew the validator candidacy (it leaves the set at the next election)"
            } else {
                "declared a validator candidate (see `depin stake validators`)"
            },
            json_out,
        )
        .map(drop),
        StakeCmd::Commission { percent, key } => {
            let bps = percent_bps(percent)?;
            send(
                home,
                client,
                key,
                SetCommission {
                    commission_bps: bps,
                }
                .into(),
                &format!(
                    "set the commission to {}.{:02}% (a cut applies to this epoch's pay, a raise from the epoch after next; see `depin stake validators`)",
                    bps / 100,
                    bps % 100
                ),
                json_out,
            )
            .map(drop)
        }
        StakeCmd::P2p {
            endpoint,
            key,
            remove,
        } => {
            let p2p = match (endpoint, remove) {
                (Some(e), false) => {
                    depin_core::services::governance::p2p::check_p2p_endpoint(e).map_err(|why| {
                        anyhow::anyhow!(
                            "{e:?} is not host:port: {why}; give the address and port this validator's p2p listens on, e.g. 127.0.0.1:9000"
                        )
                    })?;
                    e.clone()
                }
                (None, true) => String::new(),
                _ => anyhow::bail!(
                    "give the p2p endpoint as host:port (e.g. 127.0.0.1:9000), or --remove"
                ),
            };
            let done = if p2p.is_empty() {
                "removed the p2p endpoint".to_string()
            } else {
                format!("registered the p2p endpoint {p2p} (see `depin stake validators`)")
            };
            send(
                home,
                client,
                key,
                P2pEndpoint { p2p }.into(),
                &done,
                json_out,
            )
            .map(drop)
        }
        StakeCmd::Validators => {
            let v = client.get("/v1/governance/validators")?;
            if json_out {
                println!("{v}");
            } else {
                print_validators(&v);
            }
            Ok(())
        }
        StakeCmd::Show { who } => {
            let address = resolve(home, who)?;
            let s = client.get(&format!("/v1/governance/stake/{address}"))?;
            if json_out {
                println!("{s}");
            } else {
                println!(
                    "{address}: bonded {} (since height {}), backs {}, voting weight {} ({} devices)",
                    s["bonded"].as_str().unwrap_or("0"),
                    s["since_height"],
                    s["backs"].as_str().unwrap_or("?"),
                    s["voting_weight"].as_str().unwrap_or("0"),
                    s["devices_counted"]
                );
                for u in s["unbonding"].as_array().into_iter().flatten() {
                    println!(
                        "  unbonding {} until height {}",
                        u["amount"].as_str().unwrap_or("?"),
                        u["release_height"]
                    );
                }
                if let Some(r) = s["last_backer_reward"].as_object() {
                    println!(
                        "  paid {} base units at the close of epoch {} as a backer of {}",
                        r["amount"].as_str().unwrap_or("0"),
                        r["epoch"],
                        r["validator"].as_str().unwrap_or("?")
                    );
                }
                let bonded = s["bonded"].as_str().is_some_and(|b| b != "0");
                if bonded && s["backs"].as_str() != Some(address.to_string().as_str()) {
                    println!(
                        "  {}",
                        if s["exposed_for_next_pay"] == Value::Bool(true) {
                            "shares the validator's next pay (in its exposure)"
                        } else {
                            "not in the validator's exposure yet: shares its pay from the epoch after the next close"
                        }
                    );
                }
                if !s["jail"].is_null() {
                    println!(
                        "  JAILED ({}) until height {}",
                        s["jail"]["reason"].as_str().unwrap_or("?"),
                        s["jail"]["until_height"]
                    );
                }
            }
            Ok(())
        }
    }
}

fn print_validators(v: &Value) {
    let text = |x: &Value| {
        x.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| x.to_string())
    };
    println!("validator set:");
    for m in v["validators"].as_array().into_iter().flatten() {
        let t = &m["turns_this_epoch"];
        println!(
            "  {}  power {}  turns this epoch: {} produced, {} skipped  {}{}{}",
            text(&m["address"]),
            m["power"],
            t["produced"],
            t["skipped"],
            commission_text(&m["commission"], &m["exposed_backers"]),
            m["p2p"]
                .as_str()
                .map_or(String::new(), |p| format!("  p2p {p}")),
            if m["jail"].is_null() { "" } else { "  JAILED" }
        );
    }
    if v["election"] != Value::Bool(true) {
        println!("no election (max_validators = 0): the set changes by validator-set proposals");
    } else {
        println!(
            "election: {} seats, candidates need {} base units bonded to themselves",
            v["max_validators"],
            text(&v["min_validator_bond"])
        );
    }
    println!(
        "validators' share of the emission: {} bps",
        v["validator_reward_bps"]
    );
    let candidates = v["candidates"].as_array().cloned().unwrap_or_default();
    if candidates.is_empty() {
        println!("no candidates declared (`depin stake candidate --key <name>`)");
    } else {
        println!("candidates (rank, address, backing and self-bond in base units):");
        for c in &candidates {
            let rank = c["rank"]
                .as_u64()
                .map_or("-".to_string(), |r| r.to_string());
            let state = if v["election"] != Value::Bool(true) {
                "declared (this network does not elect its set)"
            } else if c["jailed"] == Value::Bool(true) {
                "jailed"
            } else if c["qualifies"] != Value::Bool(true) {
                "self-bond below the minimum"
            } else if c["elected_next"] == Value::Bool(true) {
                "elected next"
            } else {
                "not elected"
            };
            println!(
                "  {rank:>3}  {}  backing {}  self-bond {}  {state}",
                text(&c["address"]),
                text(&c["backing"]),
                text(&c["self_bond"])
            );
        }
    }
    let listed = |key: &str| -> Vec<String> {
        v["next"][key]
            .as_array()
            .map(|a| a.iter().map(&text).collect())
            .unwrap_or_default()
    };
    let deferred = listed("deferred");
    if !deferred.is_empty() {
        println!(
            "if the epoch ended now, the liveness guard would make wait (no block produced this epoch): {}",
            deferred.join(", ")
        );
    }
    let reseated = listed("reseated");
    if !reseated.is_empty() {
        println!(
            "if the epoch ended now, the liveness guard would keep (they produced): {}",
            reseated.join(", ")
        );
    }
    if let Some(kept) = v["next"]["kept"].as_object() {
        println!(
            "next boundary keeps the set ({}): {}",
            text(&kept["code"]),
            text(&kept["why"])
        );
    }
}

#[cfg(test)]
mod tests {
    use super::percent_bps;

    #[test]
    fn percentages_become_basis_points_and_bad_ones_say_what_to_give() {
        assert_eq!(percent_bps("10").unwrap(), 1_000);
        assert_eq!(percent_bps("2.5%").unwrap(), 250);
        assert_eq!(percent_bps("0.25").unwrap(), 25);
        assert_eq!(percent_bps("100%").unwrap(), 10_000);
        assert_eq!(percent_bps("0").unwrap(), 0);
        for bad in ["", "%", "101", "2.555", "-1", "ten", ".5", "4294967296"] {
            let e = percent_bps(bad).map(|_| ()).unwrap_err().to_string();
            assert!(e.contains("0 to 100"), "{bad:?}: {e}");
        }
    }
}
