//! `depin storage ...`: register a storage provider and move its collateral, offer a shard to a
//! client (the provider's signature a client's deal needs), open a deal, quit one, and read
//! providers, deals (with their proof history and why each period went as it did) and a
//! client's deals.

use std::path::PathBuf;

use anyhow::{Context, Result};
use depin_agent::client::Client;
use depin_agent::storage::HeldShard;
use depin_core::modules::storage::actions::{
    AddCollateral, DealTerms, OpenDeal, RegisterProvider, TerminateDeal, WithdrawCollateral,
    sign_onboarding,
};
use depin_core::{Action, Amount, Keypair, Signature};
use depin_node::Home;
use serde_json::{Value, json};

use crate::keys::resolve;
use crate::submit::{chain_info, send_action};

#[derive(clap::Subcommand)]
pub enum StorageCmd {
    /// Register a storage provider (the device key is created if new) and lock its collateral.
    Register {
        /// Owner key name in --home (pays the fee and the collateral, is paid the rewards).
        #[arg(long)]
        owner: String,
        /// Device key name in --home; created if it does not exist.
        #[arg(long)]
        device: String,
        /// Capacity offered, GiB.
        #[arg(long)]
        capacity_gib: u64,
        /// Collateral to lock, whole tokens (decimals allowed).
        #[arg(long)]
        collateral: String,
    },
    /// Lock more collateral, or take free collateral back with --withdraw.
    Collateral {
        #[arg(long)]
        owner: String,
        /// Device address or key name.
        #[arg(long)]
        device: String,
        /// Whole tokens.
        #[arg(long)]
        amount: String,
        #[arg(long)]
        withdraw: bool,
    },
    /// As a provider: store FILE as a shard under the provider's shards directory and print a
    /// signed offer (JSON) for the client to open the deal with.
    Offer {
        /// Provider device key name in --home.
        #[arg(long)]
        device: String,
        /// The client's address or key name.
        #[arg(long)]
        client: String,
        /// The shard's bytes.
        file: PathBuf,
        /// Periods (epochs) the deal runs.
        #[arg(long, default_value_t = 10)]
        periods: u32,
        /// Price per period in credits [default: ten times the network's floor].
        #[arg(long)]
        price: Option<u128>,
        /// Blocks the offer stays valid.
        #[arg(long, default_value_t = 100)]
        valid_blocks: u64,
        /// Where the provider keeps shards [default: <home>/shards].
        #[arg(long)]
        shards: Option<PathBuf>,
    },
    /// As a client: open the deal of an offer printed by `depin storage offer` (its whole price
    /// is held from the client's credits).
    Open {
        /// Client key name in --home.
        #[arg(long)]
        client: String,
        /// The offer JSON (a file, or `-` for standard input).
        offer: PathBuf,
    },
    /// As a client: erasure-code FILE into k data + m parity shards, store each with a distinct
    /// provider (uploaded to its retrieval server, one deal a shard, paid from the client's
    /// credits) and keep a manifest under <home>/manifests; prints the file's id for `get`.
    Put {
        /// Client key name in --home (pays the deals).
        #[arg(long)]
        client: String,
        /// The file to store.
        file: PathBuf,
        /// Retrieval server of a candidate provider (repeat); the distinct live ones with the
        /// most free capacity are chosen [default: every provider that announced a retrieval
        /// URL on the ledger].
        #[arg(long = "provider")]
        providers: Vec<String>,
        /// Data shards: any this many rebuild the file.
        #[arg(long, default_value_t = depin_agent::storage::erasure::DEFAULT_DATA_SHARDS)]
        data_shards: usize,
        /// Parity shards: this many providers may vanish or lie.
        #[arg(long, default_value_t = depin_agent::storage::erasure::DEFAULT_PARITY_SHARDS)]
        parity_shards: usize,
        /// Periods (epochs) each deal runs.
        #[arg(long, default_value_t = 10)]
        periods: u32,
        /// Price per period of each deal in credits [default: ten times the network's floor].
        #[arg(long)]
        price: Option<u128>,
    },
    /// As a client: retrieve a stored file (by the id `put` printed, the name it stored, or a
    /// manifest path) from its providers, paying for the verified bytes, and rebuild it into
    /// --out; then move any shard whose deal was terminated to a new provider (as `repair`, from
    /// the bytes just rebuilt) and update the manifest.
    Get {
        /// Client key name in --home (pays the retrieval and any repair's new deals).
        #[arg(long)]
        client: String,
        /// The file's id (BLAKE3 hash), the name it was stored under, or a manifest's path.
        id: String,
        #[arg(long, short = 'o')]
        out: PathBuf,
        /// Only retrieve: leave shards whose deal was terminated where they are.
        #[arg(long)]
        no_repair: bool,
        /// Periods (epochs) each repaired shard's new deal runs.
        #[arg(long, default_value_t = 10)]
        periods: u32,
    },
    /// As a client: the files stored from this home (their manifests under <home>/manifests).
    Files,
    /// As a client: move the shards of a stored file whose deal was terminated to providers
    /// the file does not use yet (rebuilt from the other shards, a new deal each), and update
    /// its manifest.
    Repair {
        /// Client key name in --home (pays the retrieval and the new deals).
        #[arg(long)]
        client: String,
        /// The file's id (BLAKE3 hash), the name it was stored under, or a manifest's path.
        id: String,
        /// Retrieval server of a candidate provider (repeat) [default: every provider that
        /// announced a retrieval URL on the ledger].
        #[arg(long = "provider")]
        providers: Vec<String>,
        /// Periods (epochs) each new deal runs.
        #[arg(long, default_value_t = 10)]
        periods: u32,
        /// Price per period of each new deal in credits [default: ten times the floor].
        #[arg(long)]
        price: Option<u128>,
    },
    /// As a provider's owner: quit a deal (its collateral pays the client).
    Terminate {
        #[arg(long)]
        owner: String,
        #[arg(long)]
        deal: u64,
    },
    /// Show a provider with its deals.
    Provider { device: String },
    /// Show a deal: terms, escrow and collateral left, its window and every period's outcome.
    Deal { deal: u64 },
    /// List a client's deals.
    Deals {
        #[arg(long)]
        client: String,
    },
}

fn tokens(text: &str, decimals: u8) -> Result<Amount> {
    Amount::parse(text, decimals).with_context(|| format!("'{text}' is not an amount of tokens"))
}

fn key_or_new(home: &Home, name: &str) -> Result<Keypair> {
    match home.load_key(name) {
        Ok(k) => Ok(k),
        Err(_) => {
            let k = Keypair::generate();
            home.save_key(name, &k)?;
            Ok(k)
        }
    }
}

pub fn run(home: &Home, client: &Client, cmd: &StorageCmd, json_out: bool) -> Result<()> {
    if let StorageCmd::Files = cmd {
        // The home's own manifests: no node needed.
        return files(home, json_out);
    }
    let info = chain_info(client)?;
    let send = |key_name: &str, action: Action| -> Result<Option<Value>> {
        let key = home.load_key(key_name)?;
        send_action(client, &info, &key, key_name, action, None, false, json_out)
    };
    match cmd {
        StorageCmd::Register {
            owner,
            device,
            capacity_gib,
            collateral,
        } => {
            let owner_key = home.load_key(owner)?;
            let device_key = key_or_new(home, device)?;
            let capacity_bytes = capacity_gib
                .checked_mul(1 << 30)
                .context("capacity too large")?;
            send(
                owner,
                Action::from(RegisterProvider {
                    device: device_key.address(),
                    capacity_bytes,
                    device_signature: sign_onboarding(
                        &info.chain_id,
                        &owner_key.address(),
                        &device_key,
                    ),
                }),
            )?;
            let amount = tokens(collateral, info.decimals)?;
            if !amount.is_zero() {
                send(
                    owner,
                    Action::from(AddCollateral {
                        device: device_key.address(),
                        amount,
                    }),
                )?;
            }
            if !json_out {
                println!(
                    "registered storage provider {device} ({}) with {capacity_gib} GiB and {collateral} {} of collateral",
                    device_key.address(),
                    info.symbol
                );
            }
            Ok(())
        }
        StorageCmd::Collateral {
            owner,
            device,
            amount,
            withdraw,
        } => {
            let device = resolve(home, device)?;
            let amount = tokens(amount, info.decimals)?;
            let action = if *withdraw {
                Action::from(WithdrawCollateral { device, amount })
            } else {
                Action::from(AddCollateral { device, amount })
            };
            send(owner, action)?;
            Ok(())
        }
        StorageCmd::Offer {
            device,
            client: client_name,
            file,
            periods,
            price,
            valid_blocks,
            shards,
        } => {
            let device_key = home.load_key(device)?;
            let data =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let dir = shards.clone().unwrap_or_else(|| home.root().join("shards"));
            let held = HeldShard::on_disk(&dir, &data)?;
            let params = client.get("/v1/storage/params")?;
            let floor = depin_agent::storage::client::floor_of(&params, data.len() as u64)?;
            let terms = DealTerms {
                client: resolve(home, client_name)?,
                provider: device_key.address(),
                root: held.tree.root,
                size: data.len() as u64,
                periods: *periods,
                price_per_period: price.unwrap_or(floor * 10),
                valid_until_height: params["height"].as_u64().unwrap_or(0) + valid_blocks,
            };
            let signature = terms.sign(&info.chain_id, &device_key);
            println!(
                "{}",
                json!({"terms": terms, "provider_signature": signature})
            );
            Ok(())
        }
        StorageCmd::Open {
            client: client_name,
            offer,
        } => {
            let text = if offer.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(offer)
                    .with_context(|| format!("reading {}", offer.display()))?
            };
            let v: Value = serde_json::from_str(&text).context("the offer is not JSON")?;
            let terms: DealTerms =
                serde_json::from_value(v["terms"].clone()).context("the offer has no terms")?;
            let provider_signature: Signature =
                serde_json::from_value(v["provider_signature"].clone())
                    .context("the offer has no provider_signature")?;
            let status = send(
                client_name,
                Action::from(OpenDeal {
                    terms,
                    provider_signature,
                }),
            )?;
            if let (Some(s), false) = (status, json_out) {
                println!("deal opened in block {}", s["height"]);
            }
            Ok(())
        }
        StorageCmd::Put {
            client: client_name,
            file,
            providers,
            data_shards,
            parity_shards,
            periods,
            price,
        } => {
            let key = home.load_key(client_name)?;
            let data =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let args = depin_agent::storage::client::PutArgs {
                data_shards: *data_shards,
                parity_shards: *parity_shards,
                periods: *periods,
                price: *price,
                providers: providers.clone(),
            };
            let bar = shard_bar(json_out, "uploading");
            let manifest = depin_agent::storage::client::put_with(
                client,
                &key,
                &name,
                &data,
                &args,
                &|done, total| bar.show(done, total),
            )?;
            bar.done();
            let path = manifest.save(&home.root().join("manifests"))?;
            if json_out {
                println!("{}", serde_json::to_value(&manifest)?);
            } else {
                println!(
                    "stored {} ({} B) as {} + {} shards of {} B; id {}\nmanifest {}",
                    file.display(),
                    manifest.size,
                    manifest.data_shards,
                    manifest.parity_shards,
                    manifest.shards[0].size,
                    manifest.root,
                    path.display()
                );
                for e in &manifest.shards {
                    println!(
                        "  shard {}  deal {}  provider {}  {}",
                        e.index,
                        e.deal.map_or("?".to_string(), |d| d.to_string()),
                        e.provider,
                        e.url
                    );
                }
            }
            Ok(())
        }
        StorageCmd::Repair {
            client: client_name,
            id,
            providers,
            periods,
            price,
        } => {
            let key = home.load_key(client_name)?;
            let dir = home.root().join("manifests");
            let manifest = depin_agent::storage::client::Manifest::load(&dir, id)?;
            let args = depin_agent::storage::client::PutArgs {
                data_shards: manifest.data_shards,
                parity_shards: manifest.parity_shards,
                periods: *periods,
                price: *price,
                providers: providers.clone(),
            };
            let (repaired, fixed) = depin_agent::storage::client::repair(
                client,
                &info.chain_id,
                &key,
                &manifest,
                &args,
            )?;
            let path = repaired.save(&dir)?;
            if json_out {
                println!("{}", json!({"repaired": fixed, "manifest": repaired}));
            } else if fixed.is_empty() {
                println!(
                    "every shard of {} has a live or ended deal: nothing to repair",
                    repaired.root
                );
            } else {
                print_moved(&repaired, &fixed);
                println!("manifest {}", path.display());
            }
            Ok(())
        }
        StorageCmd::Get {
            client: client_name,
            id,
            out,
            no_repair,
            periods,
        } => {
            use depin_agent::storage::client::{self as storage_client, Manifest, Repair};
            let key = home.load_key(client_name)?;
            let dir = home.root().join("manifests");
            let manifest = Manifest::load(&dir, id)?;
            let bar = shard_bar(json_out, "retrieving");
            let progress = |done, total| bar.show(done, total);
            let (data, reports, repair) = if *no_repair {
                let (data, reports) =
                    storage_client::get_with(client, &info.chain_id, &key, &manifest, &progress)?;
                (data, reports, Repair::NotNeeded)
            } else {
                let args = storage_client::PutArgs {
                    data_shards: manifest.data_shards,
                    parity_shards: manifest.parity_shards,
                    periods: *periods,
                    price: None,
                    providers: Vec::new(),
                };
                storage_client::get_and_repair(
                    client,
                    &info.chain_id,
                    &key,
                    &manifest,
                    &args,
                    &progress,
                )?
            };
            bar.done();
            std::fs::write(out, &data).with_context(|| format!("writing {}", out.display()))?;
            let saved = match &repair {
                Repair::Done(repaired, _) => Some(repaired.save(&dir)?),
                _ => None,
            };
            if json_out {
                let shards: Vec<Value> = reports
                    .iter()
                    .map(|r| json!({"index": r.index, "provider": r.provider, "paid_bytes": r.paid, "failure": r.failure}))
                    .collect();
                let repair = match &repair {
                    Repair::NotNeeded => Value::Null,
                    Repair::Done(m, fixed) => json!({"repaired": fixed, "manifest": m}),
                    Repair::Failed(lost, why) => json!({"lost": lost, "error": why}),
                };
                println!(
                    "{}",
                    json!({"bytes": data.len(), "out": out, "shards": shards, "repair": repair})
                );
            } else {
                println!("rebuilt {} B into {}", data.len(), out.display());
                for r in &reports {
                    match &r.failure {
                        None => println!(
                            "  shard {} from {}: {} B, paid",
                            r.index, r.provider, r.paid
                        ),
                        Some(why) => println!(
                            "  shard {} from {}: failed ({why}); {} B paid before",
                            r.index, r.provider, r.paid
                        ),
                    }
                }
                match &repair {
                    Repair::NotNeeded => {}
                    Repair::Done(repaired, fixed) => {
                        print_moved(repaired, fixed);
                        if let Some(path) = saved {
                            println!("manifest {}", path.display());
                        }
                    }
                    Repair::Failed(lost, why) => println!(
                        "the deals of shards {lost:?} were terminated and could not be moved yet ({why}); the file is still whole from the others: run `depin storage repair {}` when more providers are live",
                        manifest.root
                    ),
                }
            }
            Ok(())
        }
        StorageCmd::Files => files(home, json_out),
        StorageCmd::Terminate { owner, deal } => {
            send(owner, Action::from(TerminateDeal { deal: *deal }))?;
            if !json_out {
                println!("deal {deal} terminated; its collateral paid the client");
            }
            Ok(())
        }
        StorageCmd::Provider { device } => {
            let p = client.get(&format!("/v1/storage/providers/{}", resolve(home, device)?))?;
            if json_out {
                println!("{p}");
                return Ok(());
            }
            println!(
                "provider {}  owner {}  deadline {}  capacity {} B ({} free)  collateral {} ({} free)",
                p["device"].as_str().unwrap_or("?"),
                p["owner"].as_str().unwrap_or("?"),
                p["deadline"],
                p["capacity_bytes"],
                p["free_bytes"],
                p["collateral"].as_str().unwrap_or("?"),
                p["free_collateral"].as_str().unwrap_or("?"),
            );
            for d in p["deals"].as_array().cloned().unwrap_or_default() {
                print_deal(&d);
            }
            Ok(())
        }
        StorageCmd::Deal { deal } => {
            let d = client.get(&format!("/v1/storage/deals/{deal}"))?;
            if json_out {
                println!("{d}");
                return Ok(());
            }
            print_deal(&d);
            for o in d["outcomes"].as_array().cloned().unwrap_or_default() {
                println!(
                    "  period {:>4}  {:<16} paid {:>10}  refunded {:>10}  fee {:>10}  {}",
                    o["period"],
                    o["outcome"].as_str().unwrap_or("?"),
                    o["paid_credits"].as_str().unwrap_or("0"),
                    o["refunded_credits"].as_str().unwrap_or("0"),
                    o["fee"].as_str().unwrap_or("0"),
                    o["explanation"].as_str().unwrap_or("")
                );
            }
            Ok(())
        }
        StorageCmd::Deals { client: who } => {
            let list = client.get(&format!(
                "/v1/storage/clients/{}/deals",
                resolve(home, who)?
            ))?;
            if json_out {
                println!("{list}");
                return Ok(());
            }
            let deals = list["deals"].as_array().cloned().unwrap_or_default();
            if deals.is_empty() {
                println!("no deals");
            }
            for d in deals {
                print_deal(&d);
            }
            Ok(())
        }
    }
}

/// A progress bar on standard error for the bytes of shards moved (drawn only on a terminal,
/// never with --json).
struct ShardBar(indicatif::ProgressBar);

fn shard_bar(json_out: bool, what: &'static str) -> ShardBar {
    if json_out {
        return ShardBar(indicatif::ProgressBar::hidden());
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:>10} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec})",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_message(what);
    ShardBar(bar)
}

impl ShardBar {
    fn show(&self, done: u64, total: u64) {
        self.0.set_length(total);
        self.0.set_position(done);
    }

    fn done(&self) {
        self.0.finish_and_clear();
    }
}

/// `depin storage files`: the files stored from `home`.
fn files(home: &Home, json_out: bool) -> Result<()> {
    let files = depin_agent::storage::client::Manifest::list(&home.root().join("manifests"))?;
    if json_out {
        println!("{}", serde_json::to_value(&files)?);
    } else if files.is_empty() {
        println!("no files stored from this home yet: `depin storage put FILE --client KEY`");
    } else {
        for m in &files {
            println!(
                "{}  {} B  {} + {} shards  id {}",
                m.name, m.size, m.data_shards, m.parity_shards, m.root
            );
        }
    }
    Ok(())
}

/// Says where each repaired shard of `repaired` went.
fn print_moved(repaired: &depin_agent::storage::client::Manifest, fixed: &[usize]) {
    for &i in fixed {
        let e = &repaired.shards[i];
        println!(
            "shard {i} moved to provider {} ({}), deal {}",
            e.provider,
            e.url,
            e.deal.map_or("?".to_string(), |d| d.to_string())
        );
    }
}

fn print_deal(d: &Value) {
    println!(
        "deal {:>5}  {:<22} {} B  periods {}..={}  price {} credits  proven {}  faulty {}  escrow {}  collateral {}  client {}",
        d["id"],
        d["status"].as_str().unwrap_or("?"),
        d["size"],
        d["start_period"],
        d["end_period"],
        d["price_per_period"].as_str().unwrap_or("?"),
        d["proven_periods"],
        d["fault_periods"],
        d["escrow"]["credits"].as_str().unwrap_or("?"),
        d["collateral"].as_str().unwrap_or("?"),
        d["client"].as_str().unwrap_or("?"),
    );
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser, Subcommand};

    /// The storage commands and `depin agent storage` (whose live and `--measure` flags share
    /// one command) have no clashing argument names: clap checks the tree.
    #[test]
    fn the_storage_commands_parse() {
        #[derive(Parser)]
        struct Cli {
            #[command(subcommand)]
            command: Cmd,
        }
        #[derive(Subcommand)]
        enum Cmd {
            #[command(subcommand)]
            Storage(super::StorageCmd),
            #[command(subcommand)]
            Agent(crate::agent::AgentCmd),
        }
        Cli::command().debug_assert();
        let parsed = Cli::try_parse_from([
            "depin",
            "agent",
            "storage",
            "--measure",
            "--deleter-keep-per-mille",
            "800",
            "--keep-per-mille",
            "500",
        ]);
        assert!(parsed.is_ok());
        let get = Cli::try_parse_from([
            "depin",
            "storage",
            "get",
            "notes.txt",
            "--client",
            "alice",
            "-o",
            "out.txt",
            "--no-repair",
        ]);
        assert!(
            matches!(
                get,
                Ok(Cli {
                    command: Cmd::Storage(super::StorageCmd::Get {
                        no_repair: true,
                        ..
                    })
                })
            ),
            "get with --no-repair"
        );
        assert!(Cli::try_parse_from(["depin", "storage", "files"]).is_ok());
    }
}
