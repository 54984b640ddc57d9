//! The devnet's simulated hotspots and its live summary: after each epoch closes, one block of
//! text with the height, active devices, report outcomes by reason, rewards paid, top earners and
//! how the cheaters fared against honest hotspots.

use std::collections::BTreeMap;
use std::thread::JoinHandle;

use anyhow::Result;
use depin_core::modules::coverage::actions::Location;
use depin_core::{Address, Amount, Keypair};
use serde_json::Value;

use crate::hotspot::{Fleet, HotspotArgs, Role};

/// Earnings of one epoch by role, base units per device.
pub type EarningsByRole = BTreeMap<Role, Vec<u128>>;

/// Follows closed epochs and turns each into summary lines.
pub struct Summaries {
    next_epoch: u64,
}

fn amount(v: &Value) -> u128 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn short(address: &str) -> String {
    let tail = &address[address.len().saturating_sub(6)..];
    format!("{}…{tail}", &address[..address.len().min(12)])
}

fn median(v: &mut [u128]) -> u128 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[v.len() / 2]
}

/// One simulated hotspot's reward for a closed epoch.
#[derive(Clone, Debug)]
pub struct MemberReward {
    pub role: Role,
    pub device: Address,
    /// Base units paid to its owner.
    pub amount: u128,
    /// Reward shares its verified work earned; the ledger counts a device with shares as active.
    pub shares: u128,
}

/// Every member's reward in `epoch`, in fleet order.
pub fn rewards(fleet: &Fleet, epoch: u64) -> Result<Vec<MemberReward>> {
    fleet
        .members
        .iter()
        .map(|m| {
            let device = m.key.address();
            let r = fleet
                .client()
                .get(&format!("/v1/rewards/{epoch}/{device}"))?;
            Ok(MemberReward {
                role: m.role,
                device,
                amount: amount(&r["reward"]["amount"]),
                shares: amount(&r["reward"]["score"]["shares"]),
            })
        })
        .collect()
}

/// What each member earned in `epoch`, grouped by role.
pub fn earnings(fleet: &Fleet, epoch: u64) -> Result<EarningsByRole> {
    let mut out: EarningsByRole = BTreeMap::new();
    for r in rewards(fleet, epoch)? {
        out.entry(r.role).or_default().push(r.amount);
    }
    Ok(out)
}

impl Summaries {
    /// Starts with the epoch the chain is in now (earlier ones are history).
    pub fn new(fleet: &Fleet) -> Summaries {
        Summaries {
            next_epoch: fleet.current_epoch().unwrap_or(0),
        }
    }

    /// Starts with `epoch` (for a summary of history).
    pub fn from_epoch(epoch: u64) -> Summaries {
        Summaries { next_epoch: epoch }
    }

    /// Lines for every epoch that closed since the last call.
    pub fn new_epochs(&mut self, fleet: &Fleet) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        while let Some(e) = fleet
            .client()
            .get_opt(&format!("/v1/epochs/{}", self.next_epoch))?
        {
            lines.extend(self.lines(fleet, &e)?);
            self.next_epoch += 1;
        }
        Ok(lines)
    }

    fn lines(&self, fleet: &Fleet, e: &Value) -> Result<Vec<String>> {
        let tokens =
            |base: u128| format!("{} {}", Amount(base).display(fleet.decimals), fleet.symbol);
        let epoch = e["epoch"].as_u64().unwrap_or(0);
        let mut accepted = 0u64;
        let mut rejected: Vec<(String, u64)> = Vec::new();
        if let Some(o) = e["report_outcomes"].as_object() {
            for (code, n) in o {
                let n = n.as_u64().unwrap_or(0);
                if code == "accepted" {
                    accepted = n;
                } else {
                    rejected.push((code.clone(), n));
                }
            }
        }
        rejected.sort_by_key(|r| std::cmp::Reverse(r.1));
        let rejected_text = if rejected.is_empty() {
            "none".to_string()
        } else {
            rejected
                .iter()
                .map(|(c, n)| format!("{c} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let top: Vec<String> = e["top_earners"]
            .as_array()
            .into_iter()
            .flatten()
            .take(3)
            .map(|t| {
                format!(
                    "{} {}",
                    short(t["device"].as_str().unwrap_or("?")),
                    tokens(amount(&t["amount"]))
                )
            })
            .collect();
        let rewards = rewards(fleet, epoch)?;
        let active = rewards.iter().filter(|r| r.shares > 0).count();
        let mut out = vec![
            format!(
                "── epoch {epoch} closed at height {} · {} devices paid · {active} of {} simulated hotspots active · reports: {accepted} accepted; refused: {rejected_text}",
                e["height"],
                e["devices_paid"],
                rewards.len(),
            ),
            format!(
                "   paid {} to owners, {} to the treasury (+{} dust) · top: {}",
                tokens(amount(&e["paid"])),
                tokens(amount(&e["treasury"])),
                tokens(amount(&e["dust"])),
                if top.is_empty() {
                    "nobody yet".into()
                } else {
                    top.join(", ")
                }
            ),
        ];
        let mut by_role: EarningsByRole = BTreeMap::new();
        for r in &rewards {
            by_role.entry(r.role).or_default().push(r.amount);
        }
        if by_role.keys().any(|r| *r != Role::Honest) {
            let honest = median(by_role.get_mut(&Role::Honest).map_or(&mut [], |v| v));
            let parts: Vec<String> = by_role
                .iter()
                .filter(|(r, _)| **r != Role::Honest)
                .map(|(r, v)| {
                    format!(
                        "{} {} earned {}",
                        v.len(),
                        r.plural(),
                        tokens(v.iter().sum::<u128>())
                    )
                })
                .collect();
            out.push(format!(
                "   cheaters: {} (an honest hotspot's median: {})",
                parts.join(", "),
                tokens(honest)
            ));
        }
        Ok(out)
    }
}

/// The centre of the devnet's hotspots: Berlin, the default city of `depin init`.
pub fn default_center() -> Location {
    depin_core::modules::coverage::preset::BERLIN
}

/// Starts `hotspots` honest simulated hotspots plus a few cheaters (one spoofer and one inflator
/// per 60 honest, and a ring of 4) on a background thread that prints a summary after each
/// epoch. The thread ends quietly when the node goes away.
pub fn spawn(node_url: String, owner: Keypair, hotspots: usize) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("devnet-hotspots".into())
        .spawn(move || {
            let args = HotspotArgs {
                hotspots,
                center: Some(default_center()),
                // Wide enough that most beacons are heard by fewer than the 32 witnesses the
                // ledger records, as in a real city network.
                radius_m: 40_000.0,
                seed: 1,
                spoofers: hotspots.div_ceil(60),
                inflators: hotspots.div_ceil(60),
                ring: 4,
                windows: None,
            };
            if let Err(e) = drive(&args, &node_url, owner) {
                println!("simulated hotspots stopped: {e:#}");
            }
        })
        .expect("spawning the hotspot thread")
}

fn drive(args: &HotspotArgs, node_url: &str, owner: Keypair) -> Result<()> {
    let mut fleet = Fleet::new(args, node_url, owner)?;
    let new = fleet.onboard()?;
    println!(
        "{} simulated hotspots on the network ({new} onboarded now by the faucet key); the first summary comes when the next epoch closes",
        fleet.members.len()
    );
    let mut summaries = Summaries::new(&fleet);
    let mut last_error = String::new();
    let mut warned = false;
    loop {
        let step = fleet.run_window().and_then(|report| {
            if let Some(warning) = fleet.behind_warning(&report).filter(|_| !warned) {
                println!("simulated hotspots: {warning}");
                warned = true;
            }
            summaries.new_epochs(&fleet)
        });
        match step {
            Ok(lines) => {
                for line in lines {
                    println!("{line}");
                }
            }
            // The node is gone (stopped with Ctrl-C): end quietly.
            Err(e) if format!("{e:#}").contains("cannot reach") => return Ok(()),
            Err(e) => {
                let text = format!("{e:#}");
                if text != last_error {
                    println!("simulated hotspots: {text}; retrying");
                    last_error = text;
                }
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
    }
}

/// Addresses of the fleet by role (for tests and tools).
pub fn addresses(fleet: &Fleet) -> BTreeMap<Role, Vec<Address>> {
    let mut out: BTreeMap<Role, Vec<Address>> = BTreeMap::new();
    for m in &fleet.members {
        out.entry(m.role).or_default().push(m.key.address());
    }
    out
}
