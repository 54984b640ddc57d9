//! What the registry keeps: one record per device (owner, module, location), an owner index, a
//! cell index and the denylist, with the layout of their keys.

use serde::{Deserialize, Serialize};

use crate::codec::struct_codec;
use crate::crypto::Address;
use crate::module::{Module, address_suffix, module_key};
use crate::state::{State, StateRead};

use super::Devices;

/// Resolution of the H3 cell a location is indexed under (about 300 m² cells).
pub const LOCATION_RESOLUTION: u8 = 12;

/// A point on Earth in microdegrees (about 0.1 m of latitude).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub lat_udeg: i32,
    pub lon_udeg: i32,
}

impl Location {
    /// From decimal degrees (client side; the ledger only sees microdegrees).
    pub fn from_degrees(lat: f64, lon: f64) -> Location {
        Location {
            lat_udeg: (lat * 1e6).round() as i32,
            lon_udeg: (lon * 1e6).round() as i32,
        }
    }

    pub fn lat_deg(&self) -> f64 {
        f64::from(self.lat_udeg) / 1e6
    }

    pub fn lon_deg(&self) -> f64 {
        f64::from(self.lon_udeg) / 1e6
    }

    /// The H3 cell at `resolution`, or `None` if the coordinates are out of range.
    pub fn cell(&self, resolution: u8) -> Option<u64> {
        if self.lat_udeg.unsigned_abs() > 90_000_000 || self.lon_udeg.unsigned_abs() > 180_000_000 {
            return None;
        }
        let ll = h3o::LatLng::new(self.lat_deg(), self.lon_deg()).ok()?;
        let res = h3o::Resolution::try_from(resolution).ok()?;
        Some(u64::from(ll.to_cell(res)))
    }
}

/// An asserted location with its H3 cell at [`LOCATION_RESOLUTION`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asserted {
    pub location: Location,
    /// H3 cell at resolution 12.
    pub cell: u64,
}

/// A registered device: who owns it, which module it serves, where it says it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceEntry {
    pub owner: Address,
    /// Id of the module the device serves ([`crate::module::Module::ID`]).
    pub module: u8,
    pub location: Option<Asserted>,
    pub onboarded_height: u64,
}

const DEVICE: u8 = 0;
const OWNER_DEVICE: u8 = 1;
const CELL_DEVICE: u8 = 2;
const DENY: u8 = 3;
const BOND: u8 = 4;
const PAIR_DENY: u8 = 5;

/// The edge denylist: a pair of devices whose reports of each other are refused (in address
/// order, so either way round is the same key).
pub fn pair_deny_key(a: &Address, b: &Address) -> Vec<u8> {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    module_key(Devices::ID, PAIR_DENY, &[&lo.0, &hi.0])
}

/// Where a device's bond is kept: the tokens locked for it while it is active.
pub fn bond_key(device: &Address) -> Vec<u8> {
    module_key(Devices::ID, BOND, &[&device.0])
}

/// The account every bond is held in while its device is active (no key signs for it: only
/// the registry moves its tokens, back to the owner at retirement or burned when forfeited).
pub fn bond_escrow() -> Address {
    Address(crate::crypto::Hash::tagged("depin/devices/bond-escrow/v1", &[]).0)
}

pub fn device_key(device: &Address) -> Vec<u8> {
    module_key(Devices::ID, DEVICE, &[&device.0])
}

pub fn owner_device_key(owner: &Address, device: &Address) -> Vec<u8> {
    module_key(Devices::ID, OWNER_DEVICE, &[&owner.0, &device.0])
}

/// Prefix of every device of `owner` in the owner index.
pub fn owner_prefix(owner: &Address) -> Vec<u8> {
    module_key(Devices::ID, OWNER_DEVICE, &[&owner.0])
}

pub fn cell_device_key(cell: u64, device: &Address) -> Vec<u8> {
    module_key(Devices::ID, CELL_DEVICE, &[&cell.to_be_bytes(), &device.0])
}

/// The cell index's keys from `from_cell` up to (not including) `to_cell`.
pub fn cell_range(from_cell: u64, to_cell: u64) -> (Vec<u8>, Vec<u8>) {
    (
        module_key(Devices::ID, CELL_DEVICE, &[&from_cell.to_be_bytes()]),
        module_key(Devices::ID, CELL_DEVICE, &[&to_cell.to_be_bytes()]),
    )
}

pub fn deny_key(device: &Address) -> Vec<u8> {
    module_key(Devices::ID, DENY, &[&device.0])
}

/// Prefix of the denylist.
pub fn deny_prefix() -> Vec<u8> {
    module_key(Devices::ID, DENY, &[])
}

/// Read access to the registry, in the executing state or a store snapshot.
pub trait DevicesView {
    fn device_entry(&self, device: &Address) -> Option<DeviceEntry>;
    fn is_denied(&self, device: &Address) -> bool;
    /// Whether governance (or the emergency key) denied the pair `a`, `b` (either order).
    fn is_pair_denied(&self, a: &Address, b: &Address) -> bool;
    /// Devices of `owner`, in address order, at most `limit`.
    fn devices_of(&self, owner: &Address, limit: usize) -> Vec<Address>;
}

impl<R: StateRead> DevicesView for R {
    fn device_entry(&self, device: &Address) -> Option<DeviceEntry> {
        self.get(&device_key(device))
    }

    fn is_denied(&self, device: &Address) -> bool {
        self.contains(&deny_key(device))
    }

    fn is_pair_denied(&self, a: &Address, b: &Address) -> bool {
        self.contains(&pair_deny_key(a, b))
    }

    fn devices_of(&self, owner: &Address, limit: usize) -> Vec<Address> {
        self.scan_prefix(&owner_prefix(owner), limit)
            .iter()
            .map(|(k, _)| address_suffix(k))
            .collect()
    }
}

/// Writes a device's entry (or removes it) and keeps the owner and cell indexes in step, in the
/// registry's write scope (modules call this through [`super::register`] and friends).
pub(crate) fn put_entry(state: &mut State, address: &Address, new: Option<&DeviceEntry>) {
    state.with_writer(Devices::ID, |state| {
        let old: Option<DeviceEntry> = state.device_entry(address);
        let cell = |d: &DeviceEntry| d.location.map(|a| a.cell);
        if let Some(old) = &old {
            if new.is_none_or(|n| n.owner != old.owner) {
                state.put_raw(owner_device_key(&old.owner, address), None);
            }
            if let Some(c) = cell(old)
                && new.is_none_or(|n| cell(n) != Some(c))
            {
                state.put_raw(cell_device_key(c, address), None);
            }
        }
        match new {
            Some(n) => {
                if old.as_ref().is_none_or(|o| o.owner != n.owner) {
                    state.put_raw(owner_device_key(&n.owner, address), Some(Vec::new()));
                }
                if let Some(c) = cell(n)
                    && old.as_ref().is_none_or(|o| cell(o) != Some(c))
                {
                    state.put_raw(cell_device_key(c, address), Some(Vec::new()));
                }
                state.put(device_key(address), n);
            }
            None => state.put_raw(device_key(address), None),
        }
    });
}

struct_codec!(Location {
    lat_udeg: i32,
    lon_udeg: i32,
});
struct_codec!(Asserted {
    location: Location,
    cell: u64,
});
struct_codec!(DeviceEntry {
    owner: Address,
    module: u8,
    location: Option<Asserted>,
    onboarded_height: u64,
});
