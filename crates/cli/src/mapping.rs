//! `depin map ...`: what a map user and a driver see of the mapping module (a cell's freshness
//! and contributors, an area's freshness, a dashcam's drives, flagged frames and earnings), and
//! bounties on cells that need mapping.

use anyhow::{Context, Result, bail};
use depin_agent::client::Client;
use depin_core::modules::mapping::actions::{OpenBounty, PayMapAccess};
use depin_core::{Action, Amount};
use depin_node::Home;
use serde_json::Value;

use crate::submit::{chain_info, send_action};

#[derive(clap::Subcommand)]
pub enum MapCmd {
    /// One cell: how fresh it is, who mapped it last, open bounties.
    Cell {
        /// H3 cell in hex (resolution 12).
        cell: String,
    },
    /// An area: the freshness of every recently mapped cell under a parent cell.
    Coverage {
        /// H3 cell in hex, resolution 12 or coarser (e.g. a resolution-8 cell of a district).
        parent: String,
        /// Most cells to list.
        #[arg(long, default_value_t = 200)]
        limit: usize,
    },
    /// A dashcam: its bundles, frames paid and flagged, and earnings per recent epoch.
    Dashcam {
        /// The dashcam's address.
        address: String,
        /// Also list the bundles accepted in this epoch with each frame's verdict.
        #[arg(long)]
        epoch: Option<u64>,
    },
    /// Escrow tokens on cells: the first passes of valid frames there share them; what is not
    /// claimed comes back when the bounty ends.
    Bounty {
        /// Whole tokens to escrow, e.g. 25.
        #[arg(long)]
        amount: String,
        /// H3 cells in hex (resolution 12), comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        cells: Vec<String>,
        /// Passes paid per cell.
        #[arg(long, default_value_t = 1)]
        passes: u8,
        /// Hours the bounty runs.
        #[arg(long, default_value_t = 24)]
        hours: u64,
        /// Key in --home that pays.
        #[arg(long, default_value = "faucet")]
        key: String,
    },
    /// An open bounty by id.
    ShowBounty { id: u64 },
    /// Pay, as a map user, for the cells you were served: each cell with payable imagery costs
    /// the network's price in credits, paid to the dashcam whose imagery is the cell's latest.
    Pay {
        /// H3 cells in hex (resolution 12), comma-separated, at most 256.
        #[arg(long, value_delimiter = ',', required = true)]
        cells: Vec<String>,
        /// Key in --home that pays (it needs credits: `depin credits buy`).
        #[arg(long, default_value = "alice")]
        key: String,
    },
}

pub fn run(home: &Home, client: &Client, cmd: &MapCmd, json_out: bool) -> Result<()> {
    match cmd {
        MapCmd::Cell { cell } => {
            let v = client.get(&format!("/v1/mapping/cells/{cell}"))?;
            show(&v, json_out, print_cell)
        }
        MapCmd::Coverage { parent, limit } => {
            let v = client.get(&format!("/v1/mapping/cells?parent={parent}&limit={limit}"))?;
            show(&v, json_out, print_area)
        }
        MapCmd::Dashcam { address, epoch } => {
            let v = client.get(&format!("/v1/mapping/dashcams/{address}"))?;
            show(&v, json_out, print_dashcam)?;
            if let Some(e) = epoch {
                let b = client.get(&format!("/v1/mapping/dashcams/{address}/bundles?epoch={e}"))?;
                show(&b, json_out, print_bundles)?;
            }
            Ok(())
        }
        MapCmd::Bounty {
            amount,
            cells,
            passes,
            hours,
            key,
        } => {
            let info = chain_info(client)?;
            let status = client.get("/v1/status")?;
            let now_ms = status["block_time_ms"]
                .as_u64()
                .context("the node's status has no block time")?;
            let cells = parse_cells(cells)?;
            if *hours == 0 {
                bail!("--hours must be at least 1");
            }
            let action = Action::from(OpenBounty {
                cells,
                amount: Amount::parse(amount, info.decimals)?,
                passes: *passes,
                until_ms: now_ms + hours * 3_600_000,
            });
            let signer = home.load_key(key)?;
            send_action(client, &info, &signer, key, action, None, false, json_out)?;
            if !json_out {
                println!("bounty of {amount} {} open for {hours} h", info.symbol);
            }
            Ok(())
        }
        MapCmd::Pay { cells, key } => {
            let info = chain_info(client)?;
            let mut cells = parse_cells(cells)?;
            cells.sort_unstable();
            cells.dedup();
            let count = cells.len();
            let signer = home.load_key(key)?;
            let action = Action::from(PayMapAccess { cells });
            send_action(client, &info, &signer, key, action, None, false, json_out)?;
            if !json_out {
                println!(
                    "paid for the cells with imagery among {count} (see `depin query credits {key}`)"
                );
            }
            Ok(())
        }
        MapCmd::ShowBounty { id } => {
            let v = client.get(&format!("/v1/mapping/bounties/{id}"))?;
            show(&v, json_out, |v| {
                println!("{}", serde_json::to_string_pretty(v).unwrap_or_default())
            })
        }
    }
}

/// H3 cells given in hex.
fn parse_cells(cells: &[String]) -> Result<Vec<u64>> {
    cells
        .iter()
        .map(|c| {
            u64::from_str_radix(c.trim_start_matches("0x"), 16)
                .with_context(|| format!("'{c}' is not an H3 cell in hex (e.g. 8c1f1d48a4a6bff)"))
        })
        .collect()
}

fn show(v: &Value, json_out: bool, human: impl Fn(&Value)) -> Result<()> {
    if json_out {
        println!("{v}");
    } else {
        human(v);
    }
    Ok(())
}

/// Hours, with one decimal.
fn hours(ms: &Value) -> String {
    ms.as_u64().map_or("never".into(), |ms| {
        format!("{:.1} h", ms as f64 / 3_600_000.0)
    })
}

fn print_cell(v: &Value) {
    println!("cell        {}", v["cell"].as_str().unwrap_or("?"));
    println!(
        "freshness   {:.1}% (a new pass would earn this share of a fully fresh cell)",
        v["freshness_ppm"].as_f64().unwrap_or(0.0) / 10_000.0
    );
    println!("last mapped {} ago", hours(&v["age_ms"]));
    for s in v["recent"].as_array().into_iter().flatten() {
        println!(
            "  by {} at {} ms, phash {}",
            s["dashcam"].as_str().unwrap_or("?"),
            s["time_ms"],
            s["phash"].as_str().unwrap_or("?")
        );
    }
    for b in v["bounties"].as_array().into_iter().flatten() {
        println!(
            "  bounty {}: {} per pass, {} passes, claimed by {}",
            b["id"], b["per_pass"], b["passes"], b["claimed_by"]
        );
    }
}

fn print_area(v: &Value) {
    let cells = v["cells"].as_array().cloned().unwrap_or_default();
    println!("{:<17} {:>9} {:>10}", "cell", "fresh %", "age");
    for c in &cells {
        println!(
            "{:<17} {:>9.1} {:>10}",
            c["cell"].as_str().unwrap_or("?"),
            c["freshness_ppm"].as_f64().unwrap_or(0.0) / 10_000.0,
            hours(&c["age_ms"])
        );
    }
    println!(
        "{} recently mapped cells{}",
        cells.len(),
        if v["truncated"] == true {
            " (more not shown)"
        } else {
            ""
        }
    );
}

fn print_dashcam(v: &Value) {
    println!(
        "dashcam {}  owner {}",
        v["address"].as_str().unwrap_or("?"),
        v["owner"].as_str().unwrap_or("?")
    );
    println!(
        "bundles {}, frames paid {}, flagged {}, last bundle #{}",
        v["bundles"], v["frames_paid"], v["frames_flagged"], v["last_seq"]
    );
    println!(
        "{:>6} {:>8} {:>7} {:>8} {:>14}",
        "epoch", "bundles", "paid", "flagged", "reward"
    );
    for e in v["epochs"].as_array().into_iter().flatten() {
        let n = |k: &str| e[k].as_u64().unwrap_or(0);
        let reward = e["reward"]
            .as_str()
            .unwrap_or(if e["closed"] == true { "0" } else { "open" });
        println!(
            "{:>6} {:>8} {:>7} {:>8} {:>14}",
            n("epoch"),
            n("bundles"),
            n("frames_paid"),
            n("frames_flagged"),
            reward
        );
    }
}

fn print_bundles(v: &Value) {
    for b in v["bundles"].as_array().into_iter().flatten() {
        let frames = b["frames"].as_array().cloned().unwrap_or_default();
        let flagged: Vec<&Value> = frames
            .iter()
            .filter(|f| f.get("flagged").is_some())
            .collect();
        println!(
            "bundle #{} at height {}: {} frames, {} flagged",
            b["seq"],
            b["height"],
            frames.len(),
            flagged.len()
        );
        for f in flagged {
            println!(
                "  {} {}: {}",
                f["cell"].as_str().unwrap_or("?"),
                f["flagged"].as_str().unwrap_or("?"),
                f["why"].as_str().unwrap_or("")
            );
        }
    }
}
