//! The device registry every proof module shares: who owns a device, which module it serves,
//! where it says it is, and the governed denylist.
//!
//! Modules onboard their devices here ([`register`], after their own checks) and read them
//! through [`DevicesView`]; transfers, retirement and the denylist are the registry's own
//! actions, the same for every kind of device.

pub mod records;
pub mod reject;

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::struct_codec;
use crate::crypto::{self, Address, Signature};
use crate::genesis::GenesisInfo;
use crate::module::{BlockContext, FieldError, Module, TxContext, actions};
use crate::rejection::Rejection;
use crate::services::authority::check_emergency_key;
use crate::state::{State, StateRead};

pub use records::{
    Asserted, DeviceEntry, DevicesView, LOCATION_RESOLUTION, Location, bond_escrow, bond_key,
    cell_device_key, cell_range, deny_key, device_key, owner_device_key, pair_deny_key,
};
pub use reject::DeviceRejection;

use records::put_entry;
use reject::DeviceRejection as R;

/// The registry as a module of the ledger (it runs on every network).
pub struct Devices;

/// The `[devices]` section of a genesis file (optional: the defaults are no bond and an empty
/// denylist).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicesGenesis {
    /// No longer accepted (refused with what to write instead): the denylist is changed by
    /// governance proposals, and the one shortcut is `[governance] emergency_key`. Kept only so
    /// that an old genesis naming a governor gets that sentence, not a parser's "unknown field".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governor: Option<Address>,
    /// Devices denied from the start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denylist: Vec<Address>,
    /// Tokens locked per device while it is active (whole tokens): returned to its owner when it
    /// retires, burned when it is removed for fraud (a `denylist` proposal with `fraud`, or the
    /// emergency key's `forfeit_bond`). A cost to every identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bond: Option<String>,
}

/// The registry's parameters as the ledger keeps them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicesParams {
    /// Tokens locked per device, base units.
    pub bond: Amount,
}

/// Give a device to another owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferDevice {
    pub device: Address,
    pub new_owner: Address,
}

/// Remove a device from the network for good.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetireDevice {
    pub device: Address,
}

/// Retire a device for fraud and burn its bond (signed by the emergency key; otherwise a
/// `denylist` proposal with `fraud`): the evidence is in the
/// ledger's ring signals and the device's refused reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForfeitBond {
    pub device: Address,
}

/// Put a pair of devices on the edge denylist or take it off (signed by the emergency key;
/// otherwise a `pair_denylist` proposal): their
/// reports of each other are refused, while each stays free to work with everyone else (the
/// answer to a pair whose signals are inconsistent over time, or a suspected collusion).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPairDenylist {
    pub a: Address,
    pub b: Address,
    pub denied: bool,
}

/// Put a device on the denylist or take it off (signed by the emergency key; otherwise a
/// `denylist` proposal).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetDenylist {
    pub device: Address,
    pub denied: bool,
}

actions! {
    /// The registry's actions; the device's owner (or the emergency key) signs them.
    DevicesAction, "devices action";
    0 => TransferDevice(TransferDevice),
    1 => RetireDevice(RetireDevice),
    2 => SetDenylist(SetDenylist),
    3 => ForfeitBond(ForfeitBond),
    4 => SetPairDenylist(SetPairDenylist),
}

impl Module for Devices {
    const NAME: &'static str = "devices";
    const ID: u8 = 8;
    const PROOF: bool = false;
    type Genesis = DevicesGenesis;
    type Params = DevicesParams;
    type Action = DevicesAction;
    type Rejection = DeviceRejection;
    type Prepared = ();

    fn default_genesis() -> Option<DevicesGenesis> {
        Some(DevicesGenesis::default())
    }

    fn params(g: &DevicesGenesis, network: &GenesisInfo) -> Result<DevicesParams, FieldError> {
        if let Some(key) = g.governor {
            return Err(("devices.governor", retired_governor(&key)));
        }
        let mut seen = std::collections::BTreeSet::new();
        for d in &g.denylist {
            if !seen.insert(d) {
                return Err(("devices.denylist", format!("{d} appears twice")));
            }
        }
        let bond = match &g.bond {
            Some(text) => Amount::parse(text, network.decimals)
                .map_err(|e| ("devices.bond", format!("{e}: whole tokens, e.g. \"100\"")))?,
            None => Amount::ZERO,
        };
        Ok(DevicesParams { bond })
    }

    fn init(state: &mut State, g: &DevicesGenesis) {
        for device in &g.denylist {
            state.put_raw(deny_key(device), Some(Vec::new()));
        }
    }

    fn execute(
        state: &mut State,
        tx: TxContext<'_>,
        action: &DevicesAction,
    ) -> Result<(), Rejection> {
        match action {
            DevicesAction::TransferDevice(a) => {
                let mut d = owned(state, tx.signer, &a.device)?;
                d.owner = a.new_owner;
                put_entry(state, &a.device, Some(&d));
                Ok(())
            }
            DevicesAction::RetireDevice(a) => {
                let d = owned(state, tx.signer, &a.device)?;
                release_bond(state, &a.device, Some(&d.owner));
                // The module's hook runs while the registry still names the owner, so what it
                // holds for the device can go back to them; after a forfeiture (below) it
                // finds no entry.
                crate::modules::device_retired(state, d.module, &a.device);
                put_entry(state, &a.device, None);
                Ok(())
            }
            DevicesAction::SetPairDenylist(a) => {
                check_emergency_key(state, tx.signer)?;
                let key = pair_deny_key(&a.a, &a.b);
                state.put_raw(key, a.denied.then(Vec::new));
                Ok(())
            }
            DevicesAction::ForfeitBond(a) => {
                check_emergency_key(state, tx.signer)?;
                let d = state
                    .device_entry(&a.device)
                    .ok_or(R::UnknownDevice { device: a.device })?;
                release_bond(state, &a.device, None);
                put_entry(state, &a.device, None);
                crate::modules::device_retired(state, d.module, &a.device);
                Ok(())
            }
            DevicesAction::SetDenylist(a) => {
                check_emergency_key(state, tx.signer)?;
                state.put_raw(deny_key(&a.device), a.denied.then(Vec::new));
                Ok(())
            }
        }
    }
}

/// What an old genesis naming a per-module governor key must change (see docs/DECISIONS.md:
/// refused rather than mapped to the emergency key, so nobody keeps a shortcut unknowingly).
pub fn retired_governor(key: &Address) -> String {
    format!(
        "governor keys are gone: the denylists and the oracle set are changed by governance proposals. Remove this line; to keep {key} as a devnet's shortcut, name it once as `emergency_key = \"{key}\"` under [governance] (that section must be present)"
    )
}

/// The bond a new device locks on this network.
pub fn bond(state: &State) -> Amount {
    state
        .params()
        .modules
        .devices
        .as_ref()
        .map_or(Amount::ZERO, |p| p.bond)
}

/// Checks that `owner` holds the device bond plus `also` tokens (a fee in tokens the module is
/// about to charge), changing nothing. [`check_new`] checks the bond alone; a module charging
/// a token fee before [`register`] calls this with the fee.
pub fn check_bond(state: &State, owner: &Address, also: Amount) -> Result<(), Rejection> {
    let needed = bond(state)
        .checked_add(also)
        .ok_or(Rejection::BalanceOverflow)?;
    let balance = state.account(owner).map(|a| a.balance).unwrap_or_default();
    if balance < needed {
        return Err(Rejection::InsufficientFunds { balance, needed });
    }
    Ok(())
}

/// Moves `device`'s bond out of escrow: to `to`, or burned when `to` is `None`.
fn release_bond(state: &mut State, device: &Address, to: Option<&Address>) {
    let Some(locked) = state.get::<Amount>(&bond_key(device)) else {
        return;
    };
    let escrow = bond_escrow();
    let mut e = state.account(&escrow).copied().unwrap_or_default();
    e.balance = e
        .balance
        .checked_sub(locked)
        .expect("escrow holds every bond");
    state.put_account(escrow, e);
    match to {
        Some(owner) => {
            let mut a = state.account(owner).copied().unwrap_or_default();
            a.balance = a
                .balance
                .checked_add(locked)
                .expect("below the total supply");
            state.put_account(*owner, a);
        }
        None => state.burn_supply(locked),
    }
    state.with_writer(Devices::ID, |s| s.put_raw(bond_key(device), None));
}

/// Puts `device` on the denylist or takes it off (a passed governance proposal).
pub fn set_denied(state: &mut State, device: &Address, denied: bool) {
    state.with_writer(Devices::ID, |s| {
        s.put_raw(deny_key(device), denied.then(Vec::new))
    });
}

/// Puts the pair `a`, `b` on the edge denylist or takes it off (a passed governance proposal).
pub fn set_pair_denied(state: &mut State, a: &Address, b: &Address, denied: bool) {
    state.with_writer(Devices::ID, |s| {
        s.put_raw(pair_deny_key(a, b), denied.then(Vec::new))
    });
}

/// Retires `device` for fraud and burns its bond (a passed governance proposal, as
/// `forfeit_bond` is for the emergency key); its owner, or `None` if it is not registered.
pub fn forfeit(state: &mut State, device: &Address) -> Option<Address> {
    let d = state.device_entry(device)?;
    release_bond(state, device, None);
    put_entry(state, device, None);
    crate::modules::device_retired(state, d.module, device);
    Some(d.owner)
}

/// The registry entry of `device`, which `owner` must own.
pub fn owned(state: &State, owner: &Address, device: &Address) -> Result<DeviceEntry, Rejection> {
    let d = state
        .device_entry(device)
        .ok_or(R::UnknownDevice { device: *device })?;
    if d.owner != *owner {
        return Err(R::NotOwner {
            device: *device,
            owner: d.owner,
        }
        .into());
    }
    Ok(d)
}

/// A device that may report or be paid: registered and not denied.
pub fn usable(state: &State, device: &Address) -> Result<DeviceEntry, Rejection> {
    let d = state
        .device_entry(device)
        .ok_or(R::UnknownDevice { device: *device })?;
    if state.is_denied(device) {
        return Err(R::Denied { device: *device }.into());
    }
    Ok(d)
}

/// The bytes a device key signs to consent to being owned by `owner` on `chain_id`.
pub fn onboarding_message(chain_id: &str, owner: &Address, device: &Address) -> Vec<u8> {
    crate::crypto::Hash::tagged(
        "depin/device/onboard/v1",
        &[chain_id.as_bytes(), &owner.0, &device.0],
    )
    .0
    .to_vec()
}

/// The device's co-signature for onboarding (client side).
pub fn sign_onboarding(chain_id: &str, owner: &Address, device: &crypto::Keypair) -> Signature {
    device.sign(&onboarding_message(chain_id, owner, &device.address()))
}

/// Checks that `device` is new and consents (by its signature) to being owned by `owner`.
pub fn check_new(
    state: &State,
    owner: &Address,
    device: &Address,
    device_signature: &Signature,
) -> Result<(), Rejection> {
    if state.device_entry(device).is_some() {
        return Err(R::DeviceExists { device: *device }.into());
    }
    let message = onboarding_message(&state.params().chain_id, owner, device);
    if !crypto::verify(device, &message, device_signature) {
        return Err(R::BadDeviceSignature {}.into());
    }
    check_bond(state, owner, Amount::ZERO)
}

/// Registers a device checked by [`check_new`] to `owner` for module `module`, locking the bond
/// (all of it when the module checked [`check_bond`] with its fee; never more than the owner
/// holds). The device signs its own reports, so it gets an account for its nonce.
pub fn register(
    state: &mut State,
    owner: &Address,
    device: &Address,
    module: u8,
    location: Option<Asserted>,
    ctx: BlockContext,
) {
    let entry = DeviceEntry {
        owner: *owner,
        module,
        location,
        onboarded_height: ctx.height,
    };
    put_entry(state, device, Some(&entry));
    if state.account(device).is_none() {
        state.put_account(*device, Default::default());
    }
    let mut a = state.account(owner).copied().unwrap_or_default();
    let locked = bond(state).min(a.balance);
    if !locked.is_zero() {
        a.balance = a.balance.checked_sub(locked).expect("at most the balance");
        state.put_account(*owner, a);
        let escrow = bond_escrow();
        let mut e = state.account(&escrow).copied().unwrap_or_default();
        e.balance = e
            .balance
            .checked_add(locked)
            .expect("below the total supply");
        state.put_account(escrow, e);
        state.with_writer(Devices::ID, |s| s.put(bond_key(device), &locked));
    }
}

/// Moves a registered device's location (its module checked the move).
pub fn set_location(state: &mut State, device: &Address, location: Option<Asserted>) {
    let mut entry = state
        .device_entry(device)
        .expect("a module moves only registered devices");
    entry.location = location;
    put_entry(state, device, Some(&entry));
}

struct_codec!(DevicesParams { bond: Amount });
struct_codec!(ForfeitBond { device: Address });
struct_codec!(SetPairDenylist {
    a: Address,
    b: Address,
    denied: bool,
});
struct_codec!(TransferDevice {
    device: Address,
    new_owner: Address,
});
struct_codec!(RetireDevice { device: Address });
struct_codec!(SetDenylist {
    device: Address,
    denied: bool,
});
