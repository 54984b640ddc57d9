//! `depin device ...` and the coverage queries: onboard and manage hotspots, list them, and
//! explain an epoch's rewards.

use anyhow::{Context, Result, bail};
use depin_agent::client::Client;
use depin_core::modules::coverage::actions::{
    AssertLocation, DeviceKind, Location, OnboardDevice, sign_onboarding,
};
use depin_core::services::devices::{RetireDevice, SetDenylist, TransferDevice};
use depin_core::{Action, Amount, Keypair};
use depin_node::Home;
use serde_json::Value;

use depin_agent::hotspot::parse_lat_lon;

use crate::keys::resolve;
use crate::submit::{chain_info, send_action};

#[derive(clap::Subcommand)]
pub enum DeviceCmd {
    /// Onboard a device: the owner pays the fees, the device key co-signs.
    Onboard {
        /// Owner key name in --home (pays onboarding and location fees).
        #[arg(long)]
        owner: String,
        /// Device key name in --home; created if it does not exist.
        #[arg(long)]
        device: String,
        /// Region plan the hardware is built for.
        #[arg(long, default_value = "EU868")]
        region: String,
        /// Location "LAT,LON" in degrees; may be asserted later.
        #[arg(long, value_parser = parse_lat_lon)]
        location: Option<Location>,
        /// Antenna gain, dBi.
        #[arg(long, default_value_t = 3.0)]
        gain_dbi: f64,
        /// Antenna height above ground, metres.
        #[arg(long, default_value_t = 10)]
        elevation_m: i32,
        /// A data-only device (no proof of coverage).
        #[arg(long)]
        data_only: bool,
    },
    /// Assert a new location (rate-limited; costs the location fee).
    Assert {
        #[arg(long)]
        owner: String,
        /// Device address or key name.
        #[arg(long)]
        device: String,
        #[arg(long, value_parser = parse_lat_lon)]
        location: Location,
        #[arg(long, default_value_t = 3.0)]
        gain_dbi: f64,
        #[arg(long, default_value_t = 10)]
        elevation_m: i32,
    },
    /// Give a device to another owner.
    Transfer {
        #[arg(long)]
        owner: String,
        #[arg(long)]
        device: String,
        /// New owner: address or key name.
        #[arg(long)]
        to: String,
    },
    /// Retire a device for good.
    Retire {
        #[arg(long)]
        owner: String,
        #[arg(long)]
        device: String,
    },
    /// Put a device on the denylist, or take it off with --undo (the network's emergency key
    /// only; anyone else proposes it: `depin gov propose denylist`).
    Deny {
        /// The emergency key ([governance] emergency_key) in --home.
        #[arg(long, default_value = "emergency")]
        key: String,
        #[arg(long)]
        device: String,
        #[arg(long)]
        undo: bool,
    },
    /// Show one device.
    Show { device: String },
    /// List devices of an owner, or in an H3 cell and the ring around it.
    List {
        /// Owner address or key name.
        #[arg(long, conflicts_with = "cell")]
        owner: Option<String>,
        /// H3 cell index (hex), any resolution up to 12.
        #[arg(long)]
        cell: Option<String>,
        /// Ring radius around --cell, in cells of its resolution.
        #[arg(long, default_value_t = 0, requires = "cell")]
        k: u32,
    },
}

fn centi(db: f64, what: &str) -> Result<i32> {
    if !db.is_finite() || db.abs() > 1000.0 {
        bail!("{what} {db} is not a plausible value in dB");
    }
    Ok((db * 100.0).round() as i32)
}

pub fn run(home: &Home, client: &Client, cmd: &DeviceCmd, json_out: bool) -> Result<()> {
    let device_address = |who: &str| resolve(home, who);
    // A device key this command created: removed again if the onboarding is refused, so a
    // retry starts clean and no key of an unregistered device is left behind.
    let mut created_key: Option<std::path::PathBuf> = None;
    let mut onboarded: Option<depin_core::Address> = None;
    let (key_name, action, done) = match cmd {
        DeviceCmd::Onboard {
            owner,
            device,
            region,
            location,
            gain_dbi,
            elevation_m,
            data_only,
        } => {
            let info = chain_info(client)?;
            let owner_key = home.load_key(owner)?;
            let device_key = match home.load_key(device) {
                Ok(k) => k,
                Err(_) => {
                    let k = Keypair::generate();
                    home.save_key(device, &k)?;
                    created_key = Some(home.keys_dir().join(format!("{device}.key")));
                    k
                }
            };
            onboarded = Some(device_key.address());
            let action = Action::from(OnboardDevice {
                device: device_key.address(),
                kind: if *data_only {
                    DeviceKind::DataOnly
                } else {
                    DeviceKind::Hotspot
                },
                region: region.clone(),
                location: *location,
                gain_cdbi: centi(*gain_dbi, "gain")?,
                elevation_m: *elevation_m,
                device_signature: sign_onboarding(
                    &info.chain_id,
                    &owner_key.address(),
                    &device_key,
                ),
            });
            (
                owner.clone(),
                action,
                format!("onboarded device {device} ({})", device_key.address()),
            )
        }
        DeviceCmd::Assert {
            owner,
            device,
            location,
            gain_dbi,
            elevation_m,
        } => (
            owner.clone(),
            Action::from(AssertLocation {
                device: device_address(device)?,
                location: *location,
                gain_cdbi: centi(*gain_dbi, "gain")?,
                elevation_m: *elevation_m,
            }),
            format!(
                "asserted {device} at {:.6},{:.6}",
                location.lat_deg(),
                location.lon_deg()
            ),
        ),
        DeviceCmd::Transfer { owner, device, to } => (
            owner.clone(),
            Action::from(TransferDevice {
                device: device_address(device)?,
                new_owner: resolve(home, to)?,
            }),
            format!("transferred {device} to {to}"),
        ),
        DeviceCmd::Retire { owner, device } => (
            owner.clone(),
            Action::from(RetireDevice {
                device: device_address(device)?,
            }),
            format!("retired {device}"),
        ),
        DeviceCmd::Deny { key, device, undo } => (
            key.clone(),
            Action::from(SetDenylist {
                device: device_address(device)?,
                denied: !undo,
            }),
            format!(
                "{} {device} {} the denylist",
                if *undo { "took" } else { "put" },
                if *undo { "off" } else { "on" }
            ),
        ),
        DeviceCmd::Show { device } => {
            let d = client.get(&format!("/v1/devices/{}", device_address(device)?))?;
            return print_devices(&[d], json_out);
        }
        DeviceCmd::List { owner, cell, k } => {
            let list = match (owner, cell) {
                (Some(o), _) => {
                    client.get(&format!("/v1/accounts/{}/devices", resolve(home, o)?))?
                }
                (None, Some(c)) => client.get(&format!("/v1/devices?cell={c}&k={k}"))?,
                (None, None) => bail!("give --owner NAME|ADDRESS or --cell H3 [--k K]"),
            };
            let devices = list["devices"].as_array().cloned().unwrap_or_default();
            return print_devices(&devices, json_out);
        }
    };
    let info = chain_info(client)?;
    let key = home.load_key(&key_name)?;
    let sent = send_action(
        client, &info, &key, &key_name, action, None, false, json_out,
    );
    if let (Err(_), Some(path)) = (&sent, &created_key) {
        let _ = std::fs::remove_file(path);
    }
    if let Some(status) = sent.map_err(|e| match &created_key {
        Some(path) => e.context(format!(
            "the device key it created, {}, was removed",
            path.display()
        )),
        None => e,
    })? && !json_out
    {
        println!(
            "{done} in block {} ({})",
            status["height"],
            info.fee_of(&status)
        );
        if let DeviceCmd::Onboard { location, .. } = cmd
            && let Some(cost) = onboarding_cost(client, location.is_some())?
        {
            println!("  {cost}");
        }
        if let Some(device) = &onboarded
            && let Some(bond) = client.get_opt(&format!("/v1/devices/{device}"))?
            && let Some(base) = bond["bond"].as_str()
        {
            let amount = depin_core::Amount(base.parse().unwrap_or(0));
            println!(
                "  bond: {} {} locked from the owner while the device is active (returned when it retires, burned if governance forfeits it)",
                amount.display(info.decimals),
                info.symbol
            );
        }
    }
    Ok(())
}

/// What an onboarding cost on a network that prices its fees in credits: the onboarding fee,
/// the location fee when a location was asserted, in credits and USD at the peg (`None` on a
/// network without the demand module, whose fees are the tokens of `depin query fees`).
fn onboarding_cost(client: &Client, located: bool) -> Result<Option<String>> {
    let Some(o) = client.get_opt("/v1/oracle")? else {
        return Ok(None);
    };
    let peg = o["credit_usd"]["raw"].as_u64().unwrap_or(0);
    let usd = |credits: u64| {
        // USD units are 10^-8 dollars.
        let units = u128::from(credits) * u128::from(peg);
        format!(
            "${}.{:02}",
            units / 100_000_000,
            units % 100_000_000 / 1_000_000
        )
    };
    let onboard = o["prices"]["onboard_fee_credits"].as_u64().unwrap_or(0);
    let mut text = format!("cost: onboarding fee {onboard} credits ({})", usd(onboard));
    if located {
        let location = o["prices"]["location_fee_credits"].as_u64().unwrap_or(0);
        text.push_str(&format!(
            " + location fee {location} credits ({})",
            usd(location)
        ));
    }
    text.push_str(
        ", burned; credits the owner lacked were bought with its tokens at the oracle's minting price",
    );
    Ok(Some(text))
}

fn print_devices(devices: &[Value], json_out: bool) -> Result<()> {
    if json_out {
        println!("{}", Value::Array(devices.to_vec()));
        return Ok(());
    }
    if devices.is_empty() {
        println!("no devices");
    }
    for d in devices {
        let loc = match d["location"].as_object() {
            Some(l) => format!(
                "{:.5},{:.5}",
                l["lat_udeg"].as_f64().unwrap_or(0.0) / 1e6,
                l["lon_udeg"].as_f64().unwrap_or(0.0) / 1e6
            ),
            None => "no location".into(),
        };
        println!(
            "{}  {} {}  owner {}  {}  cell {}{}",
            d["address"].as_str().unwrap_or("?"),
            d["kind"].as_str().unwrap_or("?"),
            d["region"].as_str().unwrap_or("?"),
            d["owner"].as_str().unwrap_or("?"),
            loc,
            d["cell"].as_str().unwrap_or("-"),
            if d["denied"].as_bool() == Some(true) {
                "  DENIED"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// `depin query rewards --epoch N --device D`: the device's units, scale, multipliers, share and
/// bootstrap part, its traffic and demand part, and every rejected report with its reason.
pub fn rewards(
    home: &Home,
    client: &Client,
    epoch: u64,
    device: &str,
    json_out: bool,
) -> Result<()> {
    let info = chain_info(client)?;
    let address = crate::keys::resolve_device(home, client, device)?;
    let r = client.get(&format!("/v1/rewards/{epoch}/{address}"))?;
    if json_out {
        println!("{r}");
        return Ok(());
    }
    let tokens = |v: &Value| {
        let a = Amount(v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0));
        format!("{} {}", a.display(info.decimals), info.symbol)
    };
    println!("epoch {epoch}, device {address}");
    match r["reward"].as_object() {
        None => println!(
            "  no scored work and no paid traffic this epoch (no accepted beacon or witness, no usage receipt)"
        ),
        Some(rw) => {
            let s = &rw["score"];
            let ppm = |v: &Value| v.as_f64().unwrap_or(0.0) / 1e6;
            println!("  beacons {}  witnesses {}", s["beacons"], s["witnesses"]);
            println!(
                "  units: beacon {:.4} + witness {:.4}",
                ppm(&s["beacon_units_ppm"]),
                ppm(&s["witness_units_ppm"])
            );
            println!(
                "  hex density scale {:.4}  quality {:.2}",
                ppm(&s["hex_scale_ppm"]),
                s["quality_bps"].as_f64().unwrap_or(0.0) / 1e4
            );
            println!(
                "  shares {} of {} ({:.4}% of the coverage pool of {})",
                s["shares"].as_str().unwrap_or("0"),
                r["total_shares"].as_str().unwrap_or("0"),
                r["share_ppm"].as_f64().unwrap_or(0.0) / 1e4,
                tokens(&r["coverage_pool"])
            );
            let t = &rw["traffic"];
            println!(
                "  traffic: {} packets, {} bytes, {} credits burned of {}, worth {} ({:.4}% of the demand paid from a pool of {})",
                t["packets"],
                t["bytes"],
                t["credits"].as_str().unwrap_or("0"),
                r["credits_on_data"].as_str().unwrap_or("0"),
                tokens(&t["credits_value"]),
                r["demand_share_ppm"].as_f64().unwrap_or(0.0) / 1e4,
                tokens(&r["demand_pool"])
            );
            println!(
                "  paid {} to owner {}: bootstrap (coverage) {} + demand {}",
                tokens(&rw["amount"]),
                rw["owner"].as_str().unwrap_or("?"),
                tokens(&rw["bootstrap"]),
                tokens(&rw["demand"])
            );
        }
    }
    let rejected = r["rejected_reports"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if rejected.is_empty() {
        println!("  no rejected reports");
    } else {
        println!("  {} rejected reports:", rejected.len());
        for x in &rejected {
            println!(
                "    block {} {} {}: {}",
                x["height"],
                x["type"].as_str().unwrap_or("?"),
                x["code"].as_str().unwrap_or("?"),
                x["message"].as_str().unwrap_or("?")
            );
        }
    }
    Ok(())
}

/// `depin query epoch [N]`: emission, the bootstrap and demand pools side by side, credits,
/// report outcomes and top earners.
pub fn epoch(client: &Client, epoch: Option<u64>, json_out: bool) -> Result<()> {
    let info = chain_info(client)?;
    let path = match epoch {
        Some(n) => format!("/v1/epochs/{n}"),
        None => "/v1/epochs/latest".into(),
    };
    let e = client.get(&path)?;
    if json_out {
        println!("{e}");
        return Ok(());
    }
    print!("{}", epoch_summary_text(&e, info.decimals, &info.symbol)?);
    Ok(())
}

/// A human summary of an epoch document from `/v1/epochs/...`.
pub fn epoch_summary_text(e: &Value, decimals: u8, symbol: &str) -> Result<String> {
    let tokens = |v: &Value| {
        let a = Amount(v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0));
        format!("{} {symbol}", a.display(decimals))
    };
    let mut out = String::new();
    let n = e["epoch"].as_u64().context("not an epoch document")?;
    let credits = |v: &Value| v.as_str().unwrap_or("0").to_string();
    out += &format!(
        "epoch {n} (closed at height {}): emission {}, re-minted {}, treasury {}\n",
        e["height"],
        tokens(&e["emission"]),
        tokens(&e["reminted"]),
        tokens(&e["treasury"])
    );
    let price = match e["price_usd"].as_str() {
        Some(p) => format!("${p} per {symbol}"),
        None => "none (no fresh oracle price: no demand pool)".into(),
    };
    out += &format!(
        "  pools      bootstrap (coverage) {} | demand {} (cap {}, {} rolled over to bootstrap); bootstrap share {:.2}%, price {price}\n",
        tokens(&e["coverage_pool"]),
        tokens(&e["demand_pool"]),
        tokens(&e["demand_cap"]),
        tokens(&e["rolled_over"]),
        e["bootstrap_bps"].as_f64().unwrap_or(0.0) / 100.0
    );
    out += &format!(
        "  paid       bootstrap {} | demand {} to {} devices; dust {}, unminted {}\n",
        tokens(&e["paid"]),
        tokens(&e["demand_paid"]),
        e["devices_paid"],
        tokens(&e["dust"]),
        tokens(&e["unminted"])
    );
    out += &format!(
        "  credits    bought {} for {} burned; burned {} (data {} in {} receipts, void {}, fees {})\n",
        credits(&e["credits_bought"]),
        tokens(&e["tokens_burned"]),
        credits(&e["credits_burned"]),
        credits(&e["credits_on_data"]),
        e["receipts"],
        credits(&e["credits_void"]),
        credits(&e["credits_on_fees"])
    );
    out += &format!(
        "  proofs     beacons {}, witnesses {}\n",
        e["beacons"], e["witnesses"]
    );
    if let Some(outcomes) = e["report_outcomes"].as_object() {
        let parts: Vec<String> = outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out += &format!("  reports: {}\n", parts.join(", "));
    }
    for t in e["top_earners"].as_array().into_iter().flatten() {
        out += &format!(
            "  top  {}  {} (bootstrap {} + demand {})\n",
            t["device"].as_str().unwrap_or("?"),
            tokens(&t["amount"]),
            tokens(&t["bootstrap"]),
            tokens(&t["demand"])
        );
    }
    Ok(out)
}
