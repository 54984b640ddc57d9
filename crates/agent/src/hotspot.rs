//! Simulated hotspots: a fleet of keys placed around a city, onboarded by one owner, beaconing
//! every window and witnessing the beacons their radios hear. Some may cheat: spoofers assert a
//! location far from where they are, inflators exaggerate the signal they report, a ring sits in
//! one building and witnesses only itself.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use depin_core::economics::tokens_for_credits;
use depin_core::modules::coverage::actions::{
    Beacon, DeviceKind, Location, OnboardDevice, Witness, beacon_channel, beacon_payload,
    sign_onboarding,
};
use depin_core::modules::coverage::preset::BERLIN;
use depin_core::modules::coverage::radio::{SPEED_OF_LIGHT_M_PER_S, great_circle_distance_m};
use depin_core::{Action, Address, Amount, Explained, Hash, Keypair, Transaction};
use serde_json::Value;

use crate::blocks::{self, Follower};
use crate::client::Client;
use crate::market;
use crate::radio::{SHADOWING_SIGMA_DB, max_range_m, normal_from_hash, path_loss_db, receive};

/// Arguments of `depin agent hotspot`.
#[derive(clap::Args, Debug, Clone)]
pub struct HotspotArgs {
    /// Honest hotspots.
    #[arg(long, default_value_t = 100)]
    pub hotspots: usize,
    /// Centre of the fleet, "LAT,LON" in degrees [default: Berlin].
    #[arg(long, value_parser = parse_lat_lon)]
    pub center: Option<Location>,
    /// Radius around the centre the hotspots are spread over, metres.
    #[arg(long, default_value_t = 20_000.0)]
    pub radius_m: f64,
    /// Seed of keys, placement and radio shadowing (the same seed gives the same fleet).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Cheaters asserting a location 150-300 km from where they really are (claiming coverage
    /// in a place they are not).
    #[arg(long, default_value_t = 0)]
    pub spoofers: usize,
    /// Cheaters reporting signals 60 dB stronger than they heard (the "too good" RSSI of
    /// fabricated witness reports).
    #[arg(long, default_value_t = 0)]
    pub inflators: usize,
    /// Cheaters in one building that witness only each other.
    #[arg(long, default_value_t = 0)]
    pub ring: usize,
    /// Stop after this many beacon windows [default: run until stopped].
    #[arg(long)]
    pub windows: Option<u64>,
}

/// Parses "LAT,LON" in decimal degrees.
pub fn parse_lat_lon(text: &str) -> Result<Location, String> {
    let (lat, lon) = text
        .split_once(',')
        .ok_or_else(|| format!("'{text}' is not LAT,LON (e.g. 52.52,13.405)"))?;
    let lat: f64 = lat
        .trim()
        .parse()
        .map_err(|_| format!("latitude '{lat}' is not a number"))?;
    let lon: f64 = lon
        .trim()
        .parse()
        .map_err(|_| format!("longitude '{lon}' is not a number"))?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(format!(
            "{lat},{lon} is not on Earth: latitude within ±90, longitude within ±180"
        ));
    }
    Ok(Location::from_degrees(lat, lon))
}

/// How a simulated hotspot behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Honest,
    /// Asserts a location far from its physical one.
    Spoofer,
    /// Reports RSSI `INFLATION_DB` above what it heard.
    Inflator,
    /// Sits with the other ring members in one building and witnesses only them.
    Ring,
}

impl Role {
    /// The role in summaries, for a group.
    pub fn plural(self) -> &'static str {
        match self {
            Role::Honest => "honest hotspots",
            Role::Spoofer => "spoofers",
            Role::Inflator => "inflators",
            Role::Ring => "ring members",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Honest => "honest",
            Role::Spoofer => "spoofer",
            Role::Inflator => "inflator",
            Role::Ring => "ring",
        }
    }
}

/// Extra signal an inflator claims, dB. Real links lose 30-60 dB more than free space at
/// kilometres (see `radio`), so a smaller lie can hide under the free-space bound the ledger
/// checks; this one mostly cannot.
pub const INFLATION_DB: f64 = 60.0;
/// Antenna gain of simulated hotspots, centi-dBi.
pub const GAIN_CDBI: i32 = 300;
/// Closest two honest hotspots are placed, metres (the ledger refuses witnesses under ~350 m).
pub const MIN_SPACING_M: f64 = 500.0;

/// One simulated hotspot.
pub struct Member {
    pub key: Keypair,
    pub role: Role,
    /// Where its radio really is.
    pub physical: Location,
    /// Where it says it is.
    pub asserted: Location,
    nonce: u64,
}

impl Member {
    /// A hotspot whose next transaction will carry nonce 0.
    pub fn new(key: Keypair, role: Role, physical: Location, asserted: Location) -> Member {
        Member {
            key,
            role,
            physical,
            asserted,
            nonce: 0,
        }
    }
}

/// The radio plan the fleet uses (the network's first region), in the ledger's integer units.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Name of the region the fleet onboards into.
    pub region: String,
    /// Channel centre frequencies, Hz.
    pub channels_hz: Vec<u64>,
    /// Maximum radiated power, centi-dBm; beacons are sent at exactly this EIRP.
    pub max_eirp_cdbm: i32,
    /// Weakest signal a receiver decodes, centi-dBm.
    pub sensitivity_cdbm: i32,
    /// Noise floor of a channel, centi-dBm.
    pub noise_floor_cdbm: i32,
}

impl Plan {
    /// Transmit power of a beacon, centi-dBm: the region's maximum EIRP less the antenna gain.
    pub fn tx_power_cdbm(&self) -> i32 {
        self.max_eirp_cdbm - GAIN_CDBI
    }
}

/// How long onboarding waits for a full mempool to drain before giving up, seconds.
pub const MEMPOOL_FULL_PATIENCE_S: u64 = 60;
/// Largest fleet one process simulates: every window checks every pair of radios.
pub const MAX_FLEET: usize = 5_000;
/// Smallest and largest radius a fleet is spread over, metres.
pub const RADIUS_RANGE_M: std::ops::RangeInclusive<f64> = 1_000.0..=100_000.0;
/// Receiver processing time before a witness is timestamped, at most, ms (the ledger allows
/// 4,000 ms between beacon and witness).
pub const MAX_PROCESSING_MS: u64 = 400;

impl HotspotArgs {
    /// Hotspots of every kind together.
    pub fn total(&self) -> usize {
        self.hotspots + self.spoofers + self.inflators + self.ring
    }

    /// Refuses arguments that cannot make a fleet, saying what to pass instead.
    pub fn check(&self) -> Result<()> {
        let total = self.total();
        if total == 0 {
            bail!(
                "nothing to simulate: pass --hotspots N (and optionally --spoofers, --inflators, --ring)"
            );
        }
        if total > MAX_FLEET {
            bail!(
                "{total} hotspots is more than one agent simulates ({MAX_FLEET}: every window checks every pair of radios); run several agents with different --seed values"
            );
        }
        if self.ring == 1 {
            bail!("a ring of one has nobody to witness; pass --ring 0 or --ring 2 or more");
        }
        if !RADIUS_RANGE_M.contains(&self.radius_m) {
            bail!(
                "--radius-m {} is outside {} to {} metres; hotspots need room to be 500 m apart and within radio range of each other",
                self.radius_m,
                RADIUS_RANGE_M.start(),
                RADIUS_RANGE_M.end()
            );
        }
        Ok(())
    }
}

/// What happened in one window.
#[derive(Clone, Debug, Default)]
pub struct WindowReport {
    pub window: u64,
    pub beacons_sent: usize,
    pub beacons_accepted: usize,
    pub witnesses_sent: usize,
    /// The window the chain had reached when the witness reports were ready, if that was too
    /// late to send them (the fleet cannot keep up with the chain).
    pub fell_behind: Option<u64>,
    /// Refusals at the node's door (mempool), by code; refusals inside blocks are in receipts.
    pub refused: BTreeMap<String, usize>,
}

/// Which of `addresses` are onboarded devices. The owner of each device found lists its devices
/// in one request, so a fleet onboarded by one owner costs two requests, not one per device.
pub(crate) fn onboarded_devices(
    client: &Client,
    addresses: impl IntoIterator<Item = Address>,
) -> Result<BTreeSet<Address>> {
    let mut onboarded = BTreeSet::new();
    let mut owners_listed = BTreeSet::new();
    for address in addresses {
        if onboarded.contains(&address) {
            continue;
        }
        let Some(device) = client.get_opt(&format!("/v1/devices/{address}"))? else {
            continue;
        };
        onboarded.insert(address);
        let Some(owner) = device["owner"].as_str() else {
            continue;
        };
        if owners_listed.insert(owner.to_string()) {
            let listing = client.get(&format!("/v1/accounts/{owner}/devices"))?;
            onboarded.extend(
                listing["devices"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|d| d["address"].as_str()?.parse::<Address>().ok()),
            );
        }
    }
    Ok(onboarded)
}

/// A fleet of simulated hotspots talking to one node.
pub struct Fleet {
    client: Client,
    owner: Keypair,
    pub chain_id: String,
    pub decimals: u8,
    pub symbol: String,
    pub epoch_length_blocks: u64,
    beacon_interval_blocks: u64,
    plan: Plan,
    /// Onboarding plus location fee of one device, base units.
    fee_per_device: u128,
    /// Witness reports the ledger records per beacon.
    max_witnesses_per_beacon: usize,
    /// Windows after its own a report may still name.
    entropy_max_age_windows: u64,
    seed: u64,
    pub members: Vec<Member>,
    last_window: Option<u64>,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A 64-bit hash of labelled parts: the fleet's only source of randomness, so a seed replays.
pub(crate) fn mix(parts: &[u64]) -> u64 {
    let bytes: Vec<u8> = parts.iter().flat_map(|p| p.to_le_bytes()).collect();
    let h = Hash::tagged("depin/agent/mix", &[&bytes]);
    u64::from_le_bytes(h.0[..8].try_into().expect("8 bytes"))
}

pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The point `north_m`, `east_m` metres from `from`.
pub(crate) fn offset(from: Location, north_m: f64, east_m: f64) -> Location {
    let lat = from.lat_deg() + north_m / 111_320.0;
    let lon = from.lon_deg() + east_m / (111_320.0 * from.lat_deg().to_radians().cos());
    Location::from_degrees(lat, lon)
}

pub(crate) fn distance_m(a: Location, b: Location) -> f64 {
    great_circle_distance_m(a.lat_udeg, a.lon_udeg, b.lat_udeg, b.lon_udeg)
}

/// A beacon as it went on air.
#[derive(Clone, Copy, Debug)]
pub struct Sighting {
    pub window: u64,
    pub payload: Hash,
    /// When the beaconer sent it, ms since the Unix epoch.
    pub sent_at_ms: u64,
}

/// What the hotspot `witness` reports of `beaconer`'s beacon, or `None` when it reports
/// nothing: its radio did not decode the packet, or the two are on different sides of the ring.
/// Indices are the members' places in the fleet; with the seed they fix the link's shadowing
/// and the report's jitter, so a run replays.
///
/// An honest report is what the radio measured, rounded down to the ledger's centi-dB; a cheat
/// is the same measurement distorted by the witness's role (see [`Role`]).
pub fn witness_report(
    plan: &Plan,
    seed: u64,
    (b, beaconer): (usize, &Member),
    (w, witness): (usize, &Member),
    sighting: Sighting,
) -> Option<Witness> {
    // A ring's beacons never go on air (its members pass packets to each other over the
    // internet), and its members report nothing but each other.
    if b == w || (witness.role == Role::Ring) != (beaconer.role == Role::Ring) {
        return None;
    }
    let channel = beacon_channel(&sighting.payload, plan.channels_hz.len()) as usize;
    let frequency_hz = plan.channels_hz[channel];
    let eirp_dbm = f64::from(plan.tx_power_cdbm() + GAIN_CDBI) / 100.0;
    let distance = distance_m(beaconer.physical, witness.physical);
    let rx_gain_dbi = f64::from(GAIN_CDBI) / 100.0;
    let sensitivity_dbm = f64::from(plan.sensitivity_cdbm) / 100.0;
    if distance > max_range_m(eirp_dbm, rx_gain_dbi, sensitivity_dbm, frequency_hz as f64) {
        return None;
    }
    let link = mix(&[seed, 11, b.min(w) as u64, b.max(w) as u64]);
    let shadow = SHADOWING_SIGMA_DB * normal_from_hash(link);
    let loss = path_loss_db(distance, frequency_hz as f64, shadow);
    let jitter = mix(&[seed, 12, b as u64, w as u64, sighting.window]);
    let rx = receive(
        eirp_dbm,
        rx_gain_dbi,
        loss,
        sensitivity_dbm,
        f64::from(plan.noise_floor_cdbm) / 100.0,
        2.0 * unit(jitter),
    )?;
    let claimed_dbm = if witness.role == Role::Inflator {
        rx.rssi_dbm + INFLATION_DB
    } else {
        rx.rssi_dbm
    };
    // Flight time (a third of a millisecond at 100 km) plus the receiver's processing.
    let flight_ms = (distance / SPEED_OF_LIGHT_M_PER_S * 1_000.0).ceil() as u64;
    let processing_ms = 5 + (jitter >> 20) % (MAX_PROCESSING_MS - 5);
    Some(Witness {
        beaconer: beaconer.key.address(),
        window: sighting.window,
        payload: sighting.payload,
        // The receiver's crystal is a few kHz off (the ledger allows 100 kHz).
        frequency_hz: frequency_hz + (jitter % 4_000),
        // Rounded down, as the ledger rounds: an honest report never gains from rounding.
        rssi_cdbm: (claimed_dbm * 100.0).floor() as i32,
        snr_cdb: (rx.snr_db * 100.0).floor() as i32,
        heard_at_ms: sighting.sent_at_ms + flight_ms + processing_ms,
    })
}

/// The key of the `i`th hotspot of `role` in the fleet of `seed`: other agents (the IoT fleet
/// co-signing usage receipts as the hotspot side) rebuild the same keys from the same seed.
pub fn hotspot_key(seed: u64, role: Role, i: usize) -> Keypair {
    let h = Hash::tagged(
        "depin/agent/hotspot-key",
        &[
            &seed.to_le_bytes(),
            &[role as u8],
            &(i as u64).to_le_bytes(),
        ],
    );
    Keypair::from_seed(h.0)
}

/// Lays out the fleet of `args`: honest hotspots (and spoofers' and inflators' real positions)
/// spread around the centre, denser in the middle and at least `MIN_SPACING_M` apart; the ring
/// in one building. Honest hotspots come first and do not depend on the cheaters asked for.
pub fn layout(args: &HotspotArgs) -> Vec<Member> {
    let center = args.center.unwrap_or(BERLIN);
    let seed = args.seed;
    let mut taken: Vec<Location> = Vec::new();
    let mut spot = |salt: u64| -> Location {
        for attempt in 0..200u64 {
            let r = args.radius_m * unit(mix(&[seed, salt, attempt, 1])).powf(0.75);
            let a = unit(mix(&[seed, salt, attempt, 2])) * std::f64::consts::TAU;
            let l = offset(center, r * a.sin(), r * a.cos());
            if taken.iter().all(|t| distance_m(*t, l) >= MIN_SPACING_M) || attempt == 199 {
                taken.push(l);
                return l;
            }
        }
        unreachable!("the last attempt always returns")
    };
    let mut members = Vec::new();
    for (role, count) in [
        (Role::Honest, args.hotspots),
        (Role::Spoofer, args.spoofers),
        (Role::Inflator, args.inflators),
    ] {
        for i in 0..count {
            let physical = spot(((role as u64) << 32) | i as u64);
            let asserted = if role == Role::Spoofer {
                let d = 150_000.0 + 150_000.0 * unit(mix(&[seed, 7, i as u64]));
                let a = unit(mix(&[seed, 8, i as u64])) * std::f64::consts::TAU;
                offset(physical, d * a.sin(), d * a.cos())
            } else {
                physical
            };
            members.push(Member::new(
                hotspot_key(seed, role, i),
                role,
                physical,
                asserted,
            ));
        }
    }
    let building = spot(u64::MAX);
    for i in 0..args.ring {
        let l = offset(building, (i % 3) as f64 * 4.0, (i / 3) as f64 * 4.0);
        members.push(Member::new(
            hotspot_key(seed, Role::Ring, i),
            Role::Ring,
            l,
            l,
        ));
    }
    members
}

impl Fleet {
    /// Reads the network's parameters and lays the fleet out (nothing is sent yet).
    pub fn new(args: &HotspotArgs, node_url: &str, owner: Keypair) -> Result<Fleet> {
        let client = Client::new(node_url);
        let status = client.get("/v1/status")?;
        let params = client.get("/v1/coverage/params")?;
        let region = &params["coverage"]["regions"][0];
        let number = |v: &Value, what: &str| {
            v.as_i64()
                .with_context(|| format!("the node's coverage params have no {what}"))
        };
        args.check()?;
        let plan = Plan {
            region: region["name"]
                .as_str()
                .context("the node's region has no name")?
                .to_string(),
            channels_hz: region["channels_hz"]
                .as_array()
                .context("the node's region has no channels")?
                .iter()
                .filter_map(Value::as_u64)
                .collect(),
            max_eirp_cdbm: number(&region["max_eirp_cdbm"], "max_eirp_cdbm")? as i32,
            sensitivity_cdbm: number(&region["sensitivity_cdbm"], "sensitivity_cdbm")? as i32,
            noise_floor_cdbm: number(&region["noise_floor_cdbm"], "noise_floor_cdbm")? as i32,
        };
        if plan.channels_hz.is_empty() {
            bail!("the network's region plan has no channels");
        }
        let fee = |name: &str| -> Result<u128> {
            params["coverage"][name]
                .as_str()
                .and_then(|s| s.parse().ok())
                .with_context(|| format!("the node's coverage params have no {name}"))
        };
        let fee_per_device = fee("onboard_fee")? + fee("location_fee")?;
        let rules = &params["coverage"]["rules"];
        let mut fleet = Fleet {
            client,
            owner,
            chain_id: status["chain_id"]
                .as_str()
                .context("status has no chain_id")?
                .to_string(),
            decimals: status["token"]["decimals"].as_u64().unwrap_or(0) as u8,
            symbol: status["token"]["symbol"].as_str().unwrap_or("").to_string(),
            epoch_length_blocks: params["epoch_length_blocks"]
                .as_u64()
                .context("params have no epoch length")?,
            beacon_interval_blocks: rules["beacon_interval_blocks"]
                .as_u64()
                .context("params have no beacon interval")?,
            plan,
            fee_per_device,
            max_witnesses_per_beacon: rules["max_witnesses_per_beacon"]
                .as_u64()
                .context("params have no max_witnesses_per_beacon")?
                as usize,
            entropy_max_age_windows: rules["entropy_max_age_windows"]
                .as_u64()
                .context("params have no entropy_max_age_windows")?,
            seed: args.seed,
            members: Vec::new(),
            last_window: None,
        };
        fleet.members = layout(args);
        Ok(fleet)
    }

    fn sign(&self, key: &Keypair, nonce: u64, action: Action) -> Transaction {
        Transaction::sign(&self.chain_id, key, nonce, action)
    }

    fn height(&self) -> Result<u64> {
        self.client.get("/v1/status")?["height"]
            .as_u64()
            .context("status has no height")
    }

    /// Onboards every member not yet on the chain (a restarted fleet finds its devices again),
    /// then learns each member's nonce.
    pub fn onboard(&mut self) -> Result<usize> {
        let owner = self.owner.address();
        let mut nonce = self.client.nonce(&owner)?.with_context(|| {
            format!("the owner {owner} has no account on this network; fund it first")
        })?;
        let mut pending = Vec::new();
        let onboarded =
            onboarded_devices(&self.client, self.members.iter().map(|m| m.key.address()))?;
        for m in &self.members {
            if onboarded.contains(&m.key.address()) {
                continue;
            }
            let action = Action::from(OnboardDevice {
                device: m.key.address(),
                kind: DeviceKind::Hotspot,
                region: self.plan.region.clone(),
                location: Some(m.asserted),
                gain_cdbi: GAIN_CDBI,
                elevation_m: 10,
                device_signature: sign_onboarding(&self.chain_id, &owner, &m.key),
            });
            pending.push(self.sign(&self.owner, nonce, action));
            nonce += 1;
        }
        let onboarded = pending.len();
        let n = onboarded as u128;
        let (credit_fee_each, paid_in_tokens) = self.credit_fee_tokens(n)?;
        let fee_each = self.fee_per_device + credit_fee_each;
        let cost = self.fee_per_device * n + credit_fee_each * paid_in_tokens;
        let balance: u128 = self.client.get(&format!("/v1/accounts/{owner}"))?["balance"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .context("the owner's account has no balance")?;
        if balance < cost {
            let show = |a: u128| format!("{} {}", Amount(a).display(self.decimals), self.symbol);
            bail!(
                "the owner {owner} holds {} but onboarding {onboarded} hotspots costs {} ({} each); fund it or pass fewer hotspots",
                show(balance),
                show(cost),
                show(fee_each)
            );
        }
        let mut follower = Follower::from(self.height()? + 1);
        let mut sent = Vec::with_capacity(pending.len());
        // The mempool holds at most 1,024 nonces ahead of an account: send in chunks.
        for chunk in pending.chunks(500) {
            let last = chunk.last().expect("chunks are not empty").nonce;
            // A full mempool drains as blocks are made: send what it refused again.
            let mut waiting: Vec<Transaction> = chunk.to_vec();
            let full_until = Instant::now() + Duration::from_secs(MEMPOOL_FULL_PATIENCE_S);
            while !waiting.is_empty() {
                let verdicts = self.client.submit(&waiting)?;
                let mut again = Vec::new();
                for (tx, verdict) in waiting.into_iter().zip(verdicts) {
                    match verdict {
                        Ok(hash) => sent.push(hash),
                        Err(e) if e.code == "mempool_full" && Instant::now() < full_until => {
                            again.push(tx)
                        }
                        Err(e) => {
                            bail!("the node refused an onboarding: {} ({})", e.message, e.code)
                        }
                    }
                }
                if !again.is_empty() {
                    std::thread::sleep(Duration::from_secs(1));
                }
                waiting = again;
            }
            let deadline = Instant::now() + Duration::from_secs(120);
            while self.client.nonce(&owner)?.unwrap_or(0) <= last {
                if Instant::now() > deadline {
                    bail!("onboarding transactions are not in a block after two minutes");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.check_onboarded(&mut follower, &sent)?;
        // Reports a previous run of this fleet left pending are committed by the next block;
        // nonces read before it would collide with them.
        let height = self.height()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.height()? <= height {
            if Instant::now() > deadline {
                bail!("no block for 30 s; is the node producing?");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for i in 0..self.members.len() {
            let address = self.members[i].key.address();
            self.members[i].nonce = self.client.nonce(&address)?.unwrap_or(0);
        }
        Ok(onboarded)
    }

    /// Tokens the owner burns for one device's onboarding and location fees in credits (the
    /// demand module's fees; the coverage fees are then 0) at the ledger's minting price, and
    /// how many of `devices` are paid so because the owner's own credits do not cover them.
    /// Nothing without the demand module, and without a price: the ledger then refuses the
    /// onboardings, and [`Fleet::check_onboarded`] says why.
    fn credit_fee_tokens(&self, devices: u128) -> Result<(u128, u128)> {
        let Some(oracle) = market::oracle(&self.client)? else {
            return Ok((0, 0));
        };
        let (Some(quote), fee) = (oracle.quote, oracle.device_fee_credits) else {
            return Ok((0, 0));
        };
        if fee == 0 {
            return Ok((0, 0));
        }
        let held = market::credits(&self.client, &self.owner.address())?.map_or(0, |c| c.own);
        let each = tokens_for_credits(fee, quote.minting, self.decimals, oracle.credit_peg)
            .map_err(|e| anyhow::anyhow!("pricing the onboarding fees in tokens: {e}"))?;
        Ok((each.0, devices - (held / fee).min(devices)))
    }

    /// Fails with the ledger's most common reason if any of the onboardings `sent` (committed
    /// in the blocks `follower` reads next) was refused.
    fn check_onboarded(&self, follower: &mut Follower, sent: &[Hash]) -> Result<()> {
        let mut refused: BTreeMap<String, (usize, String)> = BTreeMap::new();
        let outcomes = blocks::await_outcomes(&self.client, follower, sent, |_| {})?;
        for why in outcomes.into_iter().flatten().filter_map(Result::err) {
            let Explained { code, message } = why;
            refused.entry(code).or_insert((0, message)).0 += 1;
        }
        let Some((code, (count, message))) =
            refused.into_iter().max_by_key(|(_, (count, _))| *count)
        else {
            return Ok(());
        };
        // With the demand module, fees are credits; an owner short of them pays the rest in
        // tokens at the oracle's price, so without a fresh price the ledger has no way to.
        let hint = if code == "insufficient_credits" {
            format!(
                "; onboarding fees are paid in credits and the owner {} holds too few, so the ledger burns its tokens for the rest at the oracle price, and it has none that is fresh. {}",
                self.owner.address(),
                crate::market::NO_PRICE_HINT
            )
        } else {
            String::new()
        };
        bail!(
            "the ledger refused {count} of {} onboardings: {message} ({code}){hint}",
            sent.len()
        )
    }

    /// Waits for the next beacon window, beacons from every member, waits for the beacons to be
    /// committed, then sends the witness reports of everything each radio heard.
    pub fn run_window(&mut self) -> Result<WindowReport> {
        let (window, entropy, height) = loop {
            let e = self.client.get("/v1/coverage/entropy")?;
            let window = e["window"].as_u64().context("entropy has no window")?;
            if self.last_window.is_none_or(|l| window > l) {
                let entropy: Hash = e["entropy"]
                    .as_str()
                    .context("entropy has no hash")?
                    .parse()
                    .context("entropy is not a hash")?;
                break (window, entropy, e["height"].as_u64().unwrap_or(0));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.last_window = Some(window);
        let mut report = WindowReport {
            window,
            ..WindowReport::default()
        };
        let sent_at_ms = now_ms();
        let n_channels = self.plan.channels_hz.len();
        let tx_power_cdbm = self.plan.tx_power_cdbm();
        let beacons: Vec<Transaction> = self
            .members
            .iter()
            .map(|m| {
                let payload = beacon_payload(&entropy, window, &m.key.address());
                let action = Action::from(Beacon {
                    window,
                    payload,
                    channel: beacon_channel(&payload, n_channels),
                    tx_power_cdbm,
                    sent_at_ms,
                });
                self.sign(&m.key, m.nonce, action)
            })
            .collect();
        report.beacons_sent = beacons.len();
        let verdicts = self.client.submit(&beacons)?;
        let mut hashes: Vec<Option<Hash>> = Vec::with_capacity(beacons.len());
        for (i, v) in verdicts.into_iter().enumerate() {
            match v {
                Ok(h) => {
                    self.members[i].nonce += 1;
                    hashes.push(Some(h));
                }
                Err(e) => {
                    *report.refused.entry(e.code).or_default() += 1;
                    hashes.push(None);
                }
            }
        }
        // Read the blocks after `height` until each beacon is found in one: one request per
        // block, however many hotspots the fleet has.
        let accepted = self.await_receipts(height, &hashes)?;
        report.beacons_accepted = accepted.iter().filter(|a| **a).count();

        let mut witnesses = Vec::new();
        for (b, beaconer) in self.members.iter().enumerate() {
            if !accepted[b] {
                continue;
            }
            let payload = beacon_payload(&entropy, window, &beaconer.key.address());
            let sighting = Sighting {
                window,
                payload,
                sent_at_ms,
            };
            let mut heard: Vec<(usize, Witness)> = self
                .members
                .iter()
                .enumerate()
                .filter_map(|(w, witness)| {
                    witness_report(&self.plan, self.seed, (b, beaconer), (w, witness), sighting)
                        .map(|r| (w, r))
                })
                .collect();
            // The ledger records the first `max_witnesses_per_beacon` valid reports; past twice
            // that, more can only be refused as too_many_witnesses. Real hotspots would send
            // them anyway; the fleet does not, so its load grows with its size, not its square.
            heard.sort_by_key(|(_, r)| r.heard_at_ms);
            heard.truncate(2 * self.max_witnesses_per_beacon);
            witnesses.extend(heard.into_iter().map(|(w, r)| (w, Action::from(r))));
        }
        // Reports for a window that has closed would all be refused: say so instead.
        let now = self.client.get("/v1/coverage/entropy")?;
        let current = now["window"].as_u64().context("entropy has no window")?;
        let windows_per_epoch = self.epoch_length_blocks / self.beacon_interval_blocks;
        if current > window + self.entropy_max_age_windows
            || current / windows_per_epoch != window / windows_per_epoch
        {
            report.fell_behind = Some(current);
            return Ok(report);
        }
        let txs: Vec<Transaction> = witnesses
            .into_iter()
            .map(|(w, action)| {
                let m = &mut self.members[w];
                let tx = Transaction::sign(&self.chain_id, &m.key, m.nonce, action);
                m.nonce += 1;
                tx
            })
            .collect();
        report.witnesses_sent = txs.len();
        let mut resync = Vec::new();
        for (tx, verdict) in txs.iter().zip(self.client.submit(&txs)?) {
            if let Err(e) = verdict {
                *report.refused.entry(e.code).or_default() += 1;
                resync.push(tx.signer);
            }
        }
        // A refusal at the door leaves a nonce unused: learn the right one again.
        resync.sort();
        resync.dedup();
        for address in resync {
            let nonce = self.client.nonce(&address)?.unwrap_or(0);
            if let Some(m) = self.members.iter_mut().find(|m| m.key.address() == address) {
                m.nonce = nonce;
            }
        }
        Ok(report)
    }

    /// Whether each transaction of `hashes` succeeded, read from the blocks after `height` as
    /// they are committed. `None` entries (refused at the door) and transactions still not in a
    /// block after [`blocks::NO_BLOCK_PATIENCE_S`] count as not accepted.
    fn await_receipts(&self, height: u64, hashes: &[Option<Hash>]) -> Result<Vec<bool>> {
        let sent: Vec<Hash> = hashes.iter().flatten().copied().collect();
        let mut follower = Follower::from(height + 1);
        let mut outcomes = blocks::await_outcomes(&self.client, &mut follower, &sent, |_| {})?
            .into_iter()
            .map(|o| matches!(o, Some(Ok(()))));
        Ok(hashes
            .iter()
            .map(|h| h.is_some() && outcomes.next().unwrap_or(false))
            .collect())
    }

    /// A sentence on what to do when `report` shows the fleet fell behind the chain.
    pub fn behind_warning(&self, report: &WindowReport) -> Option<String> {
        let current = report.fell_behind?;
        Some(format!(
            "the fleet cannot keep up: witness reports for window {} were ready only in window {current}, too late for the ledger, so none were sent; simulate fewer than {} hotspots or use a release build",
            report.window,
            self.members.len()
        ))
    }

    /// The epoch the chain is in.
    pub fn current_epoch(&self) -> Result<u64> {
        Ok(self.height()? / self.epoch_length_blocks)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn beacon_interval_blocks(&self) -> u64 {
        self.beacon_interval_blocks
    }
}

/// Runs `depin agent hotspot`: onboard, then beacon and witness window after window.
pub fn run(args: &HotspotArgs, node_url: &str, owner: &Keypair, json: bool) -> Result<()> {
    let mut fleet = Fleet::new(args, node_url, Keypair::from_seed(owner.seed()))?;
    let onboarded = fleet.onboard()?;
    if !json {
        println!(
            "{} hotspots ready ({onboarded} newly onboarded): {} honest, {} spoofers, {} inflators, ring of {}",
            fleet.members.len(),
            args.hotspots,
            args.spoofers,
            args.inflators,
            args.ring
        );
    }
    let mut summaries = crate::devnet::Summaries::new(&fleet);
    let mut done = 0u64;
    let mut warned = false;
    while args.windows.is_none_or(|w| done < w) {
        let report = fleet.run_window()?;
        done += 1;
        if let Some(warning) = fleet.behind_warning(&report).filter(|_| !warned) {
            eprintln!("warning: {warning}");
            warned = true;
        }
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "window": report.window,
                    "beacons_sent": report.beacons_sent,
                    "beacons_accepted": report.beacons_accepted,
                    "witnesses_sent": report.witnesses_sent,
                    "fell_behind_to_window": report.fell_behind,
                    "refused_at_door": report.refused,
                })
            );
        } else {
            for line in summaries.new_epochs(&fleet)? {
                println!("{line}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use depin_core::modules::coverage::preset::{
        EU868_CHANNELS_HZ, EU868_MAX_EIRP_CDBM, LORA_NOISE_FLOOR_CDBM, LORA_SENSITIVITY_CDBM, rules,
    };
    use depin_core::modules::coverage::radio::{Link, Receiver, SignalFault, check_signal};

    use super::*;

    fn plan() -> Plan {
        Plan {
            region: "EU868".into(),
            channels_hz: EU868_CHANNELS_HZ.to_vec(),
            max_eirp_cdbm: EU868_MAX_EIRP_CDBM,
            sensitivity_cdbm: LORA_SENSITIVITY_CDBM,
            noise_floor_cdbm: LORA_NOISE_FLOOR_CDBM,
        }
    }

    /// Hotspots of one role from 40 m to 40 km from the first, on rays in every direction.
    fn layout(role: Role) -> Vec<Member> {
        (0..400u64)
            .map(|i| {
                let r = 40.0 * 1_000f64.powf(i as f64 / 400.0);
                let a = unit(mix(&[i, 99])) * std::f64::consts::TAU;
                let at = offset(BERLIN, r * a.sin(), r * a.cos());
                let place = if i == 0 { BERLIN } else { at };
                Member::new(
                    Keypair::from_seed(Hash::tagged("test/key", &[&i.to_le_bytes()]).0),
                    role,
                    place,
                    place,
                )
            })
            .collect()
    }

    /// What the ledger says of a report, from the asserted locations, as `verify` computes it.
    fn ledger_check(
        plan: &Plan,
        b: &Member,
        w: &Member,
        r: &Witness,
        tolerance_cdb: i32,
    ) -> Result<(), SignalFault> {
        let a = b.asserted;
        let c = w.asserted;
        let distance_m =
            great_circle_distance_m(a.lat_udeg, a.lon_udeg, c.lat_udeg, c.lon_udeg) as u32;
        let channel = beacon_channel(&r.payload, plan.channels_hz.len()) as usize;
        let link = Link {
            tx_power_cdbm: plan.tx_power_cdbm(),
            tx_gain_cdbi: GAIN_CDBI,
            rx_gain_cdbi: GAIN_CDBI,
            distance_m,
            frequency_hz: plan.channels_hz[channel],
        };
        let rx = Receiver {
            sensitivity_cdbm: plan.sensitivity_cdbm,
            noise_floor_cdbm: plan.noise_floor_cdbm,
            tolerance_cdb,
        };
        check_signal(&link, &rx, r.rssi_cdbm, r.snr_cdb)
    }

    fn reports(plan: &Plan, members: &[Member]) -> Vec<(usize, Witness)> {
        let sighting = Sighting {
            window: 7,
            payload: Hash::tagged("test", &[b"payload"]),
            sent_at_ms: 1_000_000,
        };
        (1..members.len())
            .filter_map(|w| {
                witness_report(plan, 3, (0, &members[0]), (w, &members[w]), sighting)
                    .map(|r| (w, r))
            })
            .collect()
    }

    #[test]
    fn honest_reports_pass_the_ledgers_physics_without_its_tolerance() {
        let plan = plan();
        let members = layout(Role::Honest);
        let heard = reports(&plan, &members);
        // Some near neighbours are heard, the far ones are not.
        assert!(
            heard.len() > 50 && heard.len() < 350,
            "{} heard",
            heard.len()
        );
        let rules = rules(5);
        for (w, r) in &heard {
            ledger_check(&plan, &members[0], &members[*w], r, 0)
                .unwrap_or_else(|f| panic!("honest report from #{w} refused: {f:?}"));
            let delay = r.heard_at_ms - 1_000_000;
            assert!(delay <= rules.max_witness_delay_ms && delay < 1_000);
            let channel = beacon_channel(&r.payload, plan.channels_hz.len()) as usize;
            assert!(
                r.frequency_hz.abs_diff(plan.channels_hz[channel]) <= rules.frequency_tolerance_hz
            );
        }
        let farthest = heard
            .iter()
            .map(|(w, _)| distance_m(members[0].physical, members[*w].physical))
            .fold(0.0, f64::max);
        assert!(
            (2_000.0..40_000.0).contains(&farthest),
            "farthest heard at {farthest} m"
        );
    }

    #[test]
    fn inflated_reports_are_stronger_than_free_space_allows() {
        let plan = plan();
        let mut members = layout(Role::Inflator);
        members[0].role = Role::Honest;
        let heard = reports(&plan, &members);
        assert!(heard.len() > 50);
        for (w, r) in &heard {
            let verdict = ledger_check(
                &plan,
                &members[0],
                &members[*w],
                r,
                rules(5).signal_tolerance_cdb,
            );
            assert!(
                matches!(verdict, Err(SignalFault::StrongerThanFreeSpace { .. })),
                "inflated report from #{w} not caught: {verdict:?}"
            );
        }
    }

    #[test]
    fn a_ring_reports_only_itself_and_is_not_heard_by_others() {
        let plan = plan();
        let mut members = layout(Role::Honest);
        for m in &mut members[..4] {
            m.role = Role::Ring;
        }
        let sighting = Sighting {
            window: 1,
            payload: Hash::tagged("test", &[b"ring"]),
            sent_at_ms: 0,
        };
        for b in 0..members.len() {
            for w in 0..members.len() {
                let r = witness_report(&plan, 3, (b, &members[b]), (w, &members[w]), sighting);
                if (b < 4) != (w < 4) {
                    assert!(r.is_none(), "#{w} reported #{b} across the ring");
                }
            }
        }
        // Inside one building everyone hears everyone.
        assert!(witness_report(&plan, 3, (0, &members[0]), (1, &members[1]), sighting).is_some());
    }

    #[test]
    fn bad_arguments_are_refused_with_what_to_pass() {
        let ok = HotspotArgs {
            hotspots: 10,
            center: None,
            radius_m: 8_000.0,
            seed: 1,
            spoofers: 0,
            inflators: 0,
            ring: 0,
            windows: None,
        };
        assert!(ok.check().is_ok());
        let cases = [
            (
                HotspotArgs {
                    hotspots: 0,
                    ..ok.clone()
                },
                "--hotspots",
            ),
            (
                HotspotArgs {
                    ring: 1,
                    ..ok.clone()
                },
                "--ring 2",
            ),
            (
                HotspotArgs {
                    radius_m: 10.0,
                    ..ok.clone()
                },
                "--radius-m",
            ),
            (
                HotspotArgs {
                    radius_m: f64::NAN,
                    ..ok.clone()
                },
                "--radius-m",
            ),
            (
                HotspotArgs {
                    hotspots: MAX_FLEET + 1,
                    ..ok.clone()
                },
                "--seed",
            ),
        ];
        for (args, hint) in cases {
            let e = args.check().expect_err("refused").to_string();
            assert!(e.contains(hint), "{e}");
        }
    }

    #[test]
    fn coordinates_parse_or_say_what_is_wrong() {
        let berlin = parse_lat_lon("52.52, 13.405").expect("parses");
        assert_eq!(berlin, Location::from_degrees(52.52, 13.405));
        assert!(parse_lat_lon("52.52").unwrap_err().contains("LAT,LON"));
        assert!(parse_lat_lon("north,13").unwrap_err().contains("latitude"));
        assert!(parse_lat_lon("95,13").unwrap_err().contains("not on Earth"));
    }
}
