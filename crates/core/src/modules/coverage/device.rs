//! The device registry and the proof records the coverage module keeps in the state, with the
//! layout of their keys.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::struct_codec;
use crate::crypto::{Address, Hash};
use crate::state::{State, table, table_key as key};

use super::actions::{DeviceKind, Location};
use super::rewards::Score;

/// An asserted location with its resolution-12 H3 cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asserted {
    pub location: Location,
    /// H3 cell at resolution 12.
    pub cell: u64,
}

/// A registered device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub owner: Address,
    pub kind: DeviceKind,
    /// Index of the device's region plan in the coverage parameters.
    pub region: u16,
    pub asserted: Option<Asserted>,
    /// Antenna gain, centi-dBi.
    pub gain_cdbi: i32,
    /// Antenna height above ground, metres.
    pub elevation_m: i32,
    pub onboarded_height: u64,
    /// Height of the last location assert (onboarding with a location counts).
    pub location_height: Option<u64>,
    /// Reciprocity is waived until this window (a new or moved hotspot must start somewhere).
    pub grace_until_window: u64,
    /// Last window in which it had a beacon accepted.
    pub last_beacon_window: Option<u64>,
    /// Last window of a beacon it witnessed.
    pub last_witness_window: Option<u64>,
    /// Bit i set: active (scored with a witnessed beacon) in epoch `activity_epoch - i`.
    pub activity: u32,
    pub activity_epoch: u64,
}

impl Device {
    /// Activity bits relative to `epoch`: bit i set if active in epoch `epoch - 1 - i`.
    pub fn recent_activity(&self, epoch: u64) -> u32 {
        if self.activity == 0 || epoch <= self.activity_epoch {
            return 0;
        }
        let shift = epoch - self.activity_epoch - 1;
        if shift >= 32 {
            0
        } else {
            self.activity << shift
        }
    }
}

/// An accepted beacon with the witnesses accepted so far, first to arrive first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeaconRecord {
    pub payload: Hash,
    pub channel: u16,
    pub frequency_hz: u64,
    pub tx_power_cdbm: i32,
    pub sent_at_ms: u64,
    pub height: u64,
    pub witnesses: Vec<Address>,
}

/// One device's reward in one epoch, with every factor that produced it: the coverage
/// (bootstrap) part from its proof of coverage, the demand part from the credits burned for its
/// traffic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardRecord {
    /// The account that was paid.
    pub owner: Address,
    pub score: Score,
    /// Paid from the coverage (bootstrap) pool, pro rata to `score.shares`.
    pub bootstrap: Amount,
    /// Credits burned for the device's traffic this epoch.
    #[serde(with = "crate::amount::u128_string")]
    pub credits: u128,
    /// What the credits count for in the demand pool, in tokens: their USD value at the epoch's
    /// price, at most the tokens burned to buy them.
    pub credits_value: Amount,
    pub packets: u64,
    pub bytes: u64,
    /// Paid from the demand pool, pro rata to `credits_value`.
    pub demand: Amount,
    /// `bootstrap + demand`.
    pub amount: Amount,
}

/// One epoch's emission and how it was paid.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochSummary {
    pub epoch: u64,
    /// Height of the block that closed the epoch.
    pub height: u64,
    pub emission: Amount,
    /// Burned tokens minted back into this epoch's rewards (the re-mint share).
    pub reminted: Amount,
    /// The coverage (bootstrap) pool, paid to proof-of-coverage shares.
    pub coverage_pool: Amount,
    /// The demand pool, paid to credits burned for traffic.
    pub demand_pool: Amount,
    pub treasury: Amount,
    /// The suppliers' share aimed at coverage this epoch, basis points (it decays).
    pub bootstrap_bps: u32,
    /// Most the demand pool could be: the credits' USD value, in tokens, times the cap.
    pub demand_cap: Amount,
    /// Demand pool the cap held back, added to the coverage pool.
    pub rolled_over: Amount,
    /// Oracle median used to value the credits (none: no fresh price, so no demand pool).
    pub price: Option<crate::economics::TokenPrice>,
    /// Tokens burned for credits during the epoch.
    pub tokens_burned: Amount,
    #[serde(with = "crate::amount::u128_string")]
    pub credits_bought: u128,
    /// Credits burned for traffic of devices that may be paid.
    #[serde(with = "crate::amount::u128_string")]
    pub credits_on_data: u128,
    /// Credits burned for traffic of devices retired or denied before the close (not paid).
    #[serde(with = "crate::amount::u128_string")]
    pub credits_void: u128,
    #[serde(with = "crate::amount::u128_string")]
    pub credits_on_fees: u128,
    pub receipts: u64,
    /// Paid to device owners from the coverage pool.
    pub paid: Amount,
    /// Paid to device owners from the demand pool.
    pub demand_paid: Amount,
    /// Left over by the pro-rata rounding of both pools; goes to the treasury.
    pub dust: Amount,
    /// Coverage pool not minted because no device earned shares.
    pub unminted: Amount,
    pub beacons: u64,
    pub witnesses: u64,
    pub devices_paid: u64,
    #[serde(with = "crate::amount::u128_string")]
    pub total_shares: u128,
}

pub fn device_key(device: &Address) -> Vec<u8> {
    key(table::DEVICE, &[&device.0])
}

pub fn owner_device_key(owner: &Address, device: &Address) -> Vec<u8> {
    key(table::OWNER_DEVICE, &[&owner.0, &device.0])
}

pub fn cell_device_key(cell: u64, device: &Address) -> Vec<u8> {
    key(table::CELL_DEVICE, &[&cell.to_be_bytes(), &device.0])
}

pub fn entropy_key(window: u64) -> Vec<u8> {
    key(table::ENTROPY, &[&window.to_be_bytes()])
}

pub fn beacon_key(window: u64, beaconer: &Address) -> Vec<u8> {
    key(table::BEACON, &[&window.to_be_bytes(), &beaconer.0])
}

pub fn reward_key(epoch: u64, device: &Address) -> Vec<u8> {
    key(table::REWARD, &[&epoch.to_be_bytes(), &device.0])
}

pub fn epoch_key(epoch: u64) -> Vec<u8> {
    key(table::EPOCH, &[&epoch.to_be_bytes()])
}

pub fn deny_key(device: &Address) -> Vec<u8> {
    key(table::DENY, &[&device.0])
}

/// The trailing 32 bytes of a key as an address (the device in owner/cell index keys).
pub fn address_suffix(key: &[u8]) -> Address {
    let mut a = [0; 32];
    a.copy_from_slice(&key[key.len() - 32..]);
    Address(a)
}

/// Read access to coverage records in a [`State`].
pub trait CoverageView {
    fn device(&self, device: &Address) -> Option<Device>;
    fn is_denied(&self, device: &Address) -> bool;
    fn entropy(&self, window: u64) -> Option<Hash>;
    fn beacon(&self, window: u64, beaconer: &Address) -> Option<BeaconRecord>;
    fn reward(&self, epoch: u64, device: &Address) -> Option<RewardRecord>;
    fn epoch_summary(&self, epoch: u64) -> Option<EpochSummary>;
}

impl CoverageView for State {
    fn device(&self, device: &Address) -> Option<Device> {
        self.get(&device_key(device))
    }

    fn is_denied(&self, device: &Address) -> bool {
        self.contains(&deny_key(device))
    }

    fn entropy(&self, window: u64) -> Option<Hash> {
        self.get(&entropy_key(window))
    }

    fn beacon(&self, window: u64, beaconer: &Address) -> Option<BeaconRecord> {
        self.get(&beacon_key(window, beaconer))
    }

    fn reward(&self, epoch: u64, device: &Address) -> Option<RewardRecord> {
        self.get(&reward_key(epoch, device))
    }

    fn epoch_summary(&self, epoch: u64) -> Option<EpochSummary> {
        self.get(&epoch_key(epoch))
    }
}

/// Writes a device record and keeps the owner and cell indexes in step with it.
pub(crate) fn put_device(state: &mut State, address: &Address, new: Option<&Device>) {
    let old: Option<Device> = state.device(address);
    if let Some(old) = &old {
        if new.is_none_or(|n| n.owner != old.owner) {
            state.put_raw(owner_device_key(&old.owner, address), None);
        }
        if let Some(a) = old.asserted
            && new.is_none_or(|n| n.asserted.map(|b| b.cell) != Some(a.cell))
        {
            state.put_raw(cell_device_key(a.cell, address), None);
        }
    }
    match new {
        Some(n) => {
            if old.as_ref().is_none_or(|o| o.owner != n.owner) {
                state.put_raw(owner_device_key(&n.owner, address), Some(Vec::new()));
            }
            if let Some(a) = n.asserted
                && old
                    .as_ref()
                    .is_none_or(|o| o.asserted.map(|b| b.cell) != Some(a.cell))
            {
                state.put_raw(cell_device_key(a.cell, address), Some(Vec::new()));
            }
            state.put(device_key(address), n);
        }
        None => state.put_raw(device_key(address), None),
    }
}

struct_codec!(Asserted {
    location: Location,
    cell: u64,
});
struct_codec!(Device {
    owner: Address,
    kind: DeviceKind,
    region: u16,
    asserted: Option<Asserted>,
    gain_cdbi: i32,
    elevation_m: i32,
    onboarded_height: u64,
    location_height: Option<u64>,
    grace_until_window: u64,
    last_beacon_window: Option<u64>,
    last_witness_window: Option<u64>,
    activity: u32,
    activity_epoch: u64,
});
struct_codec!(BeaconRecord {
    payload: Hash,
    channel: u16,
    frequency_hz: u64,
    tx_power_cdbm: i32,
    sent_at_ms: u64,
    height: u64,
    witnesses: Vec<Address>,
});
struct_codec!(EpochSummary {
    epoch: u64,
    height: u64,
    emission: Amount,
    reminted: Amount,
    coverage_pool: Amount,
    demand_pool: Amount,
    treasury: Amount,
    bootstrap_bps: u32,
    demand_cap: Amount,
    rolled_over: Amount,
    price: Option<crate::economics::TokenPrice>,
    tokens_burned: Amount,
    credits_bought: u128,
    credits_on_data: u128,
    credits_void: u128,
    credits_on_fees: u128,
    receipts: u64,
    paid: Amount,
    demand_paid: Amount,
    dust: Amount,
    unminted: Amount,
    beacons: u64,
    witnesses: u64,
    devices_paid: u64,
    total_shares: u128,
});
struct_codec!(Score {
    beacons: u32,
    witnesses: u32,
    beacon_units_ppm: u64,
    witness_units_ppm: u64,
    hex_scale_ppm: u64,
    quality_bps: u32,
    shares: u128,
});
struct_codec!(RewardRecord {
    owner: Address,
    score: Score,
    bootstrap: Amount,
    credits: u128,
    credits_value: Amount,
    packets: u64,
    bytes: u64,
    demand: Amount,
    amount: Amount,
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_share_totals_survive_json() {
        let s = EpochSummary {
            total_shares: u128::MAX,
            ..EpochSummary::default()
        };
        let v = serde_json::to_value(&s).expect("u128 totals serialize");
        assert_eq!(v["total_shares"], u128::MAX.to_string());
        let back: EpochSummary = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
    }
}
