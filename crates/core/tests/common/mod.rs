//! The test chain shared by the module tests: keys, a preset genesis, a chain driven block by
//! block, proof-of-coverage reports that pass every check, and an honest hotspot grid.

#![allow(dead_code)]

pub mod bft;
pub mod compute;
pub mod mapping;
pub mod storage;

use std::collections::BTreeMap;

use depin_core::economics::EpochSummary;
use depin_core::economics::TokenPrice;
use depin_core::genesis::{Allocation, ConsensusParams, EconomicsGenesis, TokenParams};
use depin_core::modules::coverage::actions::{
    Beacon, CoverageAction, DeviceKind, Location, OnboardDevice, Reveal, Witness, beacon_channel,
    beacon_commitment, beacon_payload, sign_beacon, sign_onboarding, witness_commitment,
};
use depin_core::modules::coverage::params::RegionGenesis;
use depin_core::modules::coverage::preset;
use depin_core::modules::coverage::radio::{Link, great_circle_distance_m};
use depin_core::modules::{ModuleAction, ModulesGenesis};
use depin_core::services::demand::actions::{BuyCredits, SubmitPrice};
use depin_core::services::demand::params;
use depin_core::services::devices::DevicesGenesis;
use depin_core::services::fees::charge;
use depin_core::services::governance::GovernanceGenesis;
use depin_core::{
    Action, Amount, Block, Genesis, Hash, Keypair, Receipt, Signatures, State, Transaction,
    apply_block, build_block,
};

pub const CHAIN_ID: &str = "depin-coverage-test";
pub const BEACON_INTERVAL: u64 = 5;
pub const EPOCH_BLOCKS: u64 = 50;
pub const TX_POWER_CDBM: i32 = 1_200;
pub const GAIN_CDBI: i32 = 300;

pub fn validator() -> Keypair {
    Keypair::from_seed([200; 32])
}
pub fn owner() -> Keypair {
    Keypair::from_seed([201; 32])
}
pub fn governor() -> Keypair {
    Keypair::from_seed([202; 32])
}
pub fn treasury() -> Keypair {
    Keypair::from_seed([203; 32])
}
pub fn hotspot(i: u8) -> Keypair {
    Keypair::from_seed([i; 32])
}

/// Berlin, and points at known offsets from it (metres north, metres east).
pub fn at(north_m: f64, east_m: f64) -> Location {
    let c = preset::BERLIN;
    Location {
        lat_udeg: c.lat_udeg + (north_m / 111_320.0 * 1e6) as i32,
        lon_udeg: c.lon_udeg + (east_m / (111_320.0 * c.lat_deg().to_radians().cos()) * 1e6) as i32,
    }
}

/// The most a test transaction offers to pay: far above what the default base fee asks.
pub const MAX_FEE: u64 = 1_000_000;

pub fn genesis(edit: impl FnOnce(&mut Genesis)) -> Genesis {
    let mut coverage = preset::single_region(preset::BERLIN, BEACON_INTERVAL);
    coverage.rules.reciprocity_grace_windows = 1_000;
    // A second plan over the same cells, to test that witnesses must share the beaconer's plan.
    let mut other: RegionGenesis = coverage.regions[0].clone();
    other.name = "EU433".into();
    other.channels_hz = vec![433_175_000, 433_375_000];
    coverage.regions.push(other);
    let mut g = Genesis {
        chain_id: CHAIN_ID.into(),
        genesis_time_ms: 1_700_000_000_000,
        token: TokenParams {
            symbol: "DPN".into(),
            decimals: 6,
        },
        consensus: ConsensusParams {
            block_interval_ms: 1000,
            epoch_length_blocks: EPOCH_BLOCKS,
            max_block_txs: 1000,
            validator: validator().address(),
            validators: Vec::new(),
        },
        allocations: vec![
            Allocation {
                address: owner().address(),
                amount: "1000".into(),
            },
            Allocation {
                address: governor().address(),
                amount: "1".into(),
            },
        ],
        economics: Some(EconomicsGenesis {
            emission_per_epoch: "5000".into(),
            halving_interval_epochs: 2,
            tail_per_epoch: "0".into(),
            treasury: treasury().address(),
            treasury_bps: 1_000,
            pool_weights: BTreeMap::new(),
        }),
        fees: None,
        modules: ModulesGenesis {
            storage: None,
            devices: Some(DevicesGenesis::default()),
            // The governor() key is the network's emergency key: the one key that may change
            // the denylists and the oracle set without a proposal.
            governance: Some(GovernanceGenesis {
                emergency_key: Some(governor().address()),
                ..GovernanceGenesis::devnet()
            }),
            demand: None,
            coverage: Some(coverage),
            ..Default::default()
        },
    };
    edit(&mut g);
    g
}

/// A chain driven block by block, remembering its blocks for replay.
pub struct Net {
    pub genesis: Genesis,
    pub state: State,
    pub time_ms: u64,
    pub blocks: Vec<Block>,
    /// Fee units (credits, or tokens without `[demand]`) the last [`Net::send`] paid: 0 if it
    /// was refused before its fee (it left no trace).
    pub last_fee: u128,
}

impl Net {
    pub fn new(genesis: Genesis) -> Net {
        let state = State::genesis(&genesis).expect("valid test genesis");
        Net {
            time_ms: genesis.genesis_time_ms,
            genesis,
            state,
            blocks: Vec::new(),
            last_fee: 0,
        }
    }

    pub fn block(&mut self, txs: Vec<Transaction>) -> Vec<Receipt> {
        self.time_ms += 1000;
        let (block, applied) = build_block(
            &mut self.state,
            txs,
            self.time_ms,
            &validator(),
            Signatures::Verify,
        );
        self.blocks.push(block);
        self.supply_is_consistent();
        applied.receipts
    }

    pub fn nonce(&self, key: &Keypair) -> u64 {
        self.state.account(&key.address()).map_or(0, |a| a.nonce)
    }

    pub fn tx(&self, key: &Keypair, action: Action) -> Transaction {
        self.tx_at(key, self.nonce(key), action)
    }

    /// A transaction with an explicit nonce, offering [`MAX_FEE`] (every test transaction is
    /// signed here).
    pub fn tx_at(&self, key: &Keypair, nonce: u64, action: Action) -> Transaction {
        Transaction::sign(&self.state.network(), key, nonce, MAX_FEE, action)
    }

    /// Sends one action in its own block and returns its receipt.
    pub fn send(&mut self, key: &Keypair, action: Action) -> Receipt {
        let tx = self.tx(key, action);
        let fee = charge(self.state.meta().base_fee, &tx);
        let receipt = self.block(vec![tx]).remove(0);
        self.last_fee = if receipt.paid_fee() {
            u128::from(fee)
        } else {
            0
        };
        receipt
    }

    /// Produces empty blocks until the next block opens a beacon window; returns that window and
    /// its entropy.
    pub fn next_window(&mut self) -> (u64, Hash) {
        while !self.state.height().is_multiple_of(BEACON_INTERVAL) {
            self.block(vec![]);
        }
        (
            self.state.height() / BEACON_INTERVAL,
            self.state.last_block_hash(),
        )
    }

    pub fn onboard_action(
        &self,
        device: &Keypair,
        region: &str,
        location: Option<Location>,
    ) -> Action {
        self.onboard_action_by(&owner(), device, region, location)
    }

    /// An onboarding of `device` to `owner`, co-signed by the device.
    pub fn onboard_action_by(
        &self,
        owner: &Keypair,
        device: &Keypair,
        region: &str,
        location: Option<Location>,
    ) -> Action {
        Action::from(OnboardDevice {
            device: device.address(),
            kind: DeviceKind::Hotspot,
            region: region.into(),
            location,
            gain_cdbi: GAIN_CDBI,
            elevation_m: 10,
            device_signature: sign_onboarding(CHAIN_ID, &owner.address(), device),
        })
    }

    pub fn onboard(&mut self, device: &Keypair, location: Location) {
        let a = self.onboard_action(device, "EU868", Some(location));
        assert_eq!(self.send(&owner(), a), Receipt::Success);
    }

    /// A fresh replica that applies the same blocks, checking every signature, ends with the
    /// same app hash and the same entries.
    pub fn replays_identically(&mut self) {
        let mut replica = State::genesis(&self.genesis).unwrap();
        for block in &self.blocks {
            apply_block(&mut replica, block, Signatures::Verify).expect("replay applies");
        }
        assert_eq!(replica.app_hash(), self.state.app_hash());
        assert_eq!(replica.entries(), self.state.entries());
    }

    pub fn supply_is_consistent(&self) {
        let m = self.state.meta();
        assert_eq!(self.state.sum_of_balances(), m.total_supply);
        assert_eq!(
            m.genesis_supply.0 + m.minted.0 - m.burned.0,
            m.total_supply.0,
            "supply = genesis + minted - burned"
        );
    }
}

/// The payload `key` transmits on air in `window` (what a radio in range receives).
pub fn payload_on_air(key: &Keypair, window: u64, entropy: &Hash) -> Hash {
    beacon_payload(&sign_beacon(CHAIN_ID, key, entropy, window))
}

pub fn beacon(key: &Keypair, window: u64, entropy: &Hash, sent_at_ms: u64) -> Action {
    let payload = payload_on_air(key, window, entropy);
    let commitment = beacon_commitment(&payload, window, &key.address());
    Action::from(Beacon {
        window,
        commitment,
        channel: beacon_channel(&commitment, preset::EU868_CHANNELS_HZ.len()),
        tx_power_cdbm: TX_POWER_CDBM,
        sent_at_ms,
    })
}

/// `key`'s reveal of its beacon of `window`.
pub fn reveal(key: &Keypair, window: u64, entropy: &Hash) -> Action {
    Action::from(Reveal {
        window,
        signature: sign_beacon(CHAIN_ID, key, entropy, window),
    })
}

/// Windows between a beacon and its reveal with the test genesis (`entropy_max_age_windows` + 1).
pub const REVEAL_LAG: u64 = 2;

/// A witness report by `by` of a beacon it heard on air, with a plausible signal: 20 dB under
/// free space.
pub fn witness(
    beaconer: &Keypair,
    by: &Keypair,
    from: Location,
    to: Location,
    window: u64,
    entropy: &Hash,
    sent_at_ms: u64,
) -> Witness {
    let payload = payload_on_air(beaconer, window, entropy);
    witness_of(
        beaconer,
        by,
        &payload,
        (from, to),
        window,
        entropy,
        sent_at_ms,
    )
}

/// A witness report by `by` committing to `payload` (heard, guessed or shared), on the beacon's
/// channel (public on the chain), with a plausible signal: 20 dB under free space.
pub fn witness_of(
    beaconer: &Keypair,
    by: &Keypair,
    payload: &Hash,
    (from, to): (Location, Location),
    window: u64,
    entropy: &Hash,
    sent_at_ms: u64,
) -> Witness {
    let on_air = payload_on_air(beaconer, window, entropy);
    let commitment = beacon_commitment(&on_air, window, &beaconer.address());
    let frequency_hz = preset::EU868_CHANNELS_HZ
        [beacon_channel(&commitment, preset::EU868_CHANNELS_HZ.len()) as usize];
    let distance_m =
        great_circle_distance_m(from.lat_udeg, from.lon_udeg, to.lat_udeg, to.lon_udeg) as u32;
    let max = Link {
        tx_power_cdbm: TX_POWER_CDBM,
        tx_gain_cdbi: GAIN_CDBI,
        rx_gain_cdbi: GAIN_CDBI,
        distance_m,
        frequency_hz,
    }
    .max_rssi_cdbm();
    let rssi_cdbm = max - 2_000;
    Witness {
        beaconer: beaconer.address(),
        window,
        commitment: witness_commitment(payload, window, &beaconer.address(), &by.address()),
        frequency_hz,
        rssi_cdbm,
        snr_cdb: (rssi_cdbm - preset::LORA_NOISE_FLOOR_CDBM).min(800),
        heard_at_ms: sent_at_ms + 30,
    }
}

pub fn code(r: &Receipt) -> &'static str {
    match r {
        Receipt::Success => "success",
        Receipt::Rejected(r) => r.code(),
    }
}

/// Hotspots on a 2 km grid around Berlin, all beaconing and witnessing their neighbours each
/// window for `epochs` epochs; returns the net.
pub fn honest_network(side: usize, epochs: u64, skip: &[bool]) -> Net {
    honest_network_with(side, epochs, skip, |_| {})
}

/// The keys of [`honest_network`]'s hotspots.
pub fn grid_hotspots(side: usize) -> Vec<Keypair> {
    (0..side * side).map(|i| hotspot(10 + i as u8)).collect()
}

/// [`honest_network`], calling `before_last_close` just before the last epoch closes.
pub fn honest_network_with(
    side: usize,
    epochs: u64,
    skip: &[bool],
    before_last_close: impl FnOnce(&mut Net),
) -> Net {
    let mut before_last_close = Some(before_last_close);
    run_honest_network(
        Net::new(genesis(|_| {})),
        side,
        epochs,
        skip,
        |net, last| {
            if last && let Some(hook) = before_last_close.take() {
                hook(net);
            }
        },
    )
}

/// Onboards [`grid_hotspots`] on `net` and runs them honestly for `epochs` epochs, calling
/// `each_window(net, last)` after each window's reports (`last`: the epoch's close is next).
pub fn run_honest_network(
    mut net: Net,
    side: usize,
    epochs: u64,
    skip: &[bool],
    mut each_window: impl FnMut(&mut Net, bool),
) -> Net {
    let n = side * side;
    let loc = |i: usize| at((i / side) as f64 * 2_000.0, (i % side) as f64 * 2_000.0);
    let keys = grid_hotspots(side);
    for (i, k) in keys.iter().enumerate() {
        net.onboard(k, loc(i));
    }
    let mut step = 0usize;
    let mut entropies: BTreeMap<u64, Hash> = BTreeMap::new();
    while net.state.height() < epochs * EPOCH_BLOCKS {
        let (w, e) = net.next_window();
        entropies.insert(w, e);
        let sent = net.time_ms;
        let mut txs: Vec<Transaction> = Vec::new();
        let mut nonces: Vec<u64> = keys.iter().map(|k| net.nonce(k)).collect();
        // Reveal the beacons of window w - REVEAL_LAG, then beacon.
        let revealed = w
            .checked_sub(REVEAL_LAG)
            .and_then(|r| Some((r, *entropies.get(&r)?)));
        for (i, k) in keys.iter().enumerate() {
            if let Some((r, re)) = revealed {
                txs.push(net.tx_at(k, nonces[i], reveal(k, r, &re)));
                nonces[i] += 1;
            }
            txs.push(net.tx_at(k, nonces[i], beacon(k, w, &e, sent)));
            nonces[i] += 1;
        }
        net.block(txs);
        let mut txs = Vec::new();
        let mut nonces: Vec<u64> = keys.iter().map(|k| net.nonce(k)).collect();
        for wi in 0..n {
            for bi in 0..n {
                let near = (loc(wi).lat_udeg - loc(bi).lat_udeg).abs() < 30_000
                    && (loc(wi).lon_udeg - loc(bi).lon_udeg).abs() < 50_000;
                step += 1;
                if wi == bi || !near || skip.get(step % skip.len().max(1)).copied().unwrap_or(false)
                {
                    continue;
                }
                let report = witness(&keys[bi], &keys[wi], loc(bi), loc(wi), w, &e, sent);
                txs.push(net.tx_at(&keys[wi], nonces[wi], Action::from(report)));
                nonces[wi] += 1;
            }
        }
        net.block(txs);
        net.supply_is_consistent();
        let last = net.state.height() + BEACON_INTERVAL >= epochs * EPOCH_BLOCKS;
        each_window(&mut net, last);
    }
    net
}

/// The beacon inside a beacon action, to tamper with.
pub fn beacon_mut(a: &mut Action) -> &mut Beacon {
    match a {
        Action::Module(ModuleAction::Coverage(CoverageAction::Beacon(b))) => b,
        other => panic!("not a beacon: {other:?}"),
    }
}

/// The onboarding inside an onboarding action, to tamper with.
pub fn onboard_mut(a: &mut Action) -> &mut OnboardDevice {
    match a {
        Action::Module(ModuleAction::Coverage(CoverageAction::OnboardDevice(o))) => o,
        other => panic!("not an onboarding: {other:?}"),
    }
}

/// A module's counter in an epoch summary (`beacons`, `witnesses`, ...).
pub fn counter(s: &EpochSummary, module: &str, name: &str) -> u64 {
    s.module(module)
        .unwrap_or_else(|| panic!("no {module} summary in {s:?}"))
        .counters
        .iter()
        .find(|(n, _)| n == name)
        .map_or(0, |(_, v)| *v)
}

/// An epoch's emission and re-mint are paid, kept as dust for the treasury, or not minted.
pub fn epoch_is_conserved(s: &EpochSummary) {
    assert_eq!(
        s.paid.0 + s.demand_paid.0 + s.validator_paid.0 + s.dust.0 + s.treasury.0 + s.unminted.0,
        s.emission.0 + s.reminted.0,
        "emission and re-mint are paid (devices, validators), kept as dust for the treasury, or not minted: {s:?}"
    );
    assert!(
        s.validator_paid.0 + s.validator_forfeited.0 <= s.validator_pool.0
            && s.validator_forfeited <= s.unminted,
        "the validators' pool: {s:?}"
    );
}

// The demand side: oracles, payers and a network with a `[demand]` section.

/// Whole-token base units (6 decimals).
pub const TOKEN: u128 = 1_000_000;
/// $0.50 with 8 decimals.
pub const HALF_DOLLAR: u64 = 50_000_000;

pub fn oracle(i: u8) -> Keypair {
    Keypair::from_seed([210 + i; 32])
}
pub fn fleet() -> Keypair {
    Keypair::from_seed([220; 32])
}
pub fn router() -> Keypair {
    Keypair::from_seed([221; 32])
}

/// The coverage test network with a `[demand]` section: fees in credits, one oracle (more with
/// `oracles`), and a fleet operator holding 10,000 tokens.
pub fn demand_genesis(oracles: u8, edit: impl FnOnce(&mut Genesis)) -> Genesis {
    genesis(|g| {
        let c = g.modules.coverage.as_mut().unwrap();
        c.onboard_fee = "0".into();
        c.location_fee = "0".into();
        g.modules.demand = Some(params::preset(
            (0..oracles).map(|i| oracle(i).address()).collect(),
            4,
        ));
        g.allocations.push(Allocation {
            address: fleet().address(),
            amount: "10000".into(),
        });
        g.allocations.push(Allocation {
            address: router().address(),
            amount: "1".into(),
        });
        // Oracles (and keys that may become oracles) pay their transactions' fees like everyone.
        for i in 0..oracles.max(6) {
            g.allocations.push(Allocation {
                address: oracle(i).address(),
                amount: "10".into(),
            });
        }
        edit(g)
    })
}

pub fn price_action(net: &Net, price: u64) -> Action {
    Action::from(SubmitPrice {
        price: TokenPrice(price),
        observed_at_ms: net.time_ms,
    })
}

pub fn buy(tokens: u128, to: &Keypair) -> Action {
    Action::from(BuyCredits {
        tokens: Amount(tokens),
        min_credits: 0,
        to: to.address(),
    })
}
