//! What the ledger records of each epoch's close: a summary of the economy (emission, pools,
//! burns, per module) and one reward record per paid device, with the layout of their keys.
//!
//! These are consensus state (in the app hash), not derived data: a reward explanation is what
//! the chain paid, checkable by anyone holding a state proof, and the close writes them in the
//! same block that mints (see `docs/DECISIONS.md`).

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::struct_codec;
use crate::crypto::Address;
use crate::economics::TokenPrice;
use crate::state::{StateRead, table};

/// One proof module's part of an epoch's close.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleSummary {
    pub module: String,
    /// The module's weight in the split of the suppliers' rewards.
    pub weight: u32,
    /// Its part of the suppliers' rewards.
    pub pool: Amount,
    /// Paid to proven work (the bootstrap subsidy).
    pub bootstrap_pool: Amount,
    /// Paid to the service users paid its devices for.
    pub demand_pool: Amount,
    pub bootstrap_bps: u32,
    pub demand_cap: Amount,
    pub rolled_over: Amount,
    /// Paid to owners from each pool.
    pub paid: Amount,
    pub demand_paid: Amount,
    /// Left unminted: a pool nobody could be paid from.
    pub unminted: Amount,
    #[serde(with = "crate::amount::u128_string")]
    pub total_shares: u128,
    pub devices_paid: u64,
    /// The module's own counters (`beacons`, `witnesses`, ...).
    pub counters: Vec<(String, u64)>,
}

/// One epoch's emission and how it was paid, over every module.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochSummary {
    pub epoch: u64,
    /// Height of the block that closed the epoch.
    pub height: u64,
    pub emission: Amount,
    /// Burned tokens minted back into this epoch's rewards (the re-mint share).
    pub reminted: Amount,
    /// The treasury's share (the dust comes on top).
    pub treasury: Amount,
    /// Sums over the modules: bootstrap and demand pools, caps and roll-over.
    pub bootstrap_pool: Amount,
    pub demand_pool: Amount,
    /// The bootstrap target share this epoch, basis points (it decays).
    pub bootstrap_bps: u32,
    pub demand_cap: Amount,
    pub rolled_over: Amount,
    /// Oracle median used to value paid service (none: no fresh price, so no demand pool).
    pub price: Option<TokenPrice>,
    /// Tokens burned for credits during the epoch.
    pub tokens_burned: Amount,
    #[serde(with = "crate::amount::u128_string")]
    pub credits_bought: u128,
    /// Credits burned for service of devices that may be paid.
    #[serde(with = "crate::amount::u128_string")]
    pub credits_on_data: u128,
    /// Credits burned for service of devices retired or denied before the close (not paid).
    #[serde(with = "crate::amount::u128_string")]
    pub credits_void: u128,
    #[serde(with = "crate::amount::u128_string")]
    pub credits_on_fees: u128,
    pub receipts: u64,
    /// Paid to device owners from the bootstrap pools.
    pub paid: Amount,
    /// Paid to device owners from the demand pools.
    pub demand_paid: Amount,
    /// Left over by the pro-rata roundings; goes to the treasury.
    pub dust: Amount,
    /// Not minted because nobody could be paid from it (including `validator_forfeited`).
    pub unminted: Amount,
    /// The validators' share of the emission (`validator_reward_bps`).
    pub validator_pool: Amount,
    /// Paid to validators for the leader turns they produced.
    pub validator_paid: Amount,
    /// The validators' pool's part of skipped turns: not minted.
    pub validator_forfeited: Amount,
    pub devices_paid: u64,
    #[serde(with = "crate::amount::u128_string")]
    pub total_shares: u128,
    pub modules: Vec<ModuleSummary>,
}

impl EpochSummary {
    /// The summary of module `name`, if the network ran it that epoch.
    pub fn module(&self, name: &str) -> Option<&ModuleSummary> {
        self.modules.iter().find(|m| m.module == name)
    }
}

/// One device's reward in one epoch: the bootstrap part from its proven work, the demand part
/// from the service users paid it for. Its module may keep a finer explanation of the shares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardRecord {
    /// The account that was paid.
    pub owner: Address,
    /// Name of the module the device serves.
    pub module: String,
    /// Its proven-work shares in its module.
    #[serde(with = "crate::amount::u128_string")]
    pub shares: u128,
    /// Paid from the module's bootstrap pool, pro rata to `shares`.
    pub bootstrap: Amount,
    /// Credits burned for the device's service this epoch.
    #[serde(with = "crate::amount::u128_string")]
    pub credits: u128,
    /// What the credits count for in the demand pool, in tokens: their USD value at the epoch's
    /// price, at most the tokens burned to buy them.
    pub credits_value: Amount,
    pub packets: u64,
    pub bytes: u64,
    /// Paid from the module's demand pool, pro rata to `credits_value`.
    pub demand: Amount,
    /// `bootstrap + demand`.
    pub amount: Amount,
}

const EPOCH: u8 = 0;
const REWARD: u8 = 1;
/// (`2` is the validator set, `[3, 2]`, in `state.rs`.)
const VALIDATOR_REWARD: u8 = 3;

fn key(t: u8, parts: &[&[u8]]) -> Vec<u8> {
    crate::module::module_key(table::LEDGER, t, parts)
}

pub fn epoch_key(epoch: u64) -> Vec<u8> {
    key(EPOCH, &[&epoch.to_be_bytes()])
}

pub fn reward_key(epoch: u64, device: &Address) -> Vec<u8> {
    key(REWARD, &[&epoch.to_be_bytes(), &device.0])
}

/// A validator's turns and reward in `epoch`.
pub fn validator_reward_key(epoch: u64, validator: &Address) -> Vec<u8> {
    key(VALIDATOR_REWARD, &[&epoch.to_be_bytes(), &validator.0])
}

/// The reward records of `epoch` (from, to).
pub fn reward_range(epoch: u64) -> (Vec<u8>, Vec<u8>) {
    (
        key(REWARD, &[&epoch.to_be_bytes()]),
        key(REWARD, &[&(epoch + 1).to_be_bytes()]),
    )
}

/// Read access to epoch records, in the executing state or a store snapshot.
pub trait EconomyView {
    fn epoch_summary(&self, epoch: u64) -> Option<EpochSummary>;
    fn reward(&self, epoch: u64, device: &Address) -> Option<RewardRecord>;
    /// Every reward record of `epoch`, in device order.
    fn epoch_rewards(&self, epoch: u64) -> Vec<(Address, RewardRecord)>;
    /// Every validator's turns and reward in `epoch`, in address order.
    fn validator_rewards(&self, epoch: u64) -> Vec<crate::economics::ValidatorPay>;
}

impl<R: StateRead> EconomyView for R {
    fn epoch_summary(&self, epoch: u64) -> Option<EpochSummary> {
        self.get(&epoch_key(epoch))
    }

    fn reward(&self, epoch: u64, device: &Address) -> Option<RewardRecord> {
        self.get(&reward_key(epoch, device))
    }

    fn epoch_rewards(&self, epoch: u64) -> Vec<(Address, RewardRecord)> {
        let (from, to) = reward_range(epoch);
        self.scan(&from, &to, usize::MAX)
            .into_iter()
            .map(|(k, v)| {
                let record = crate::codec::Decode::from_bytes(&v).expect("the ledger wrote it");
                (crate::module::address_suffix(&k), record)
            })
            .collect()
    }

    fn validator_rewards(&self, epoch: u64) -> Vec<crate::economics::ValidatorPay> {
        let from = key(VALIDATOR_REWARD, &[&epoch.to_be_bytes()]);
        self.scan_prefix(&from, usize::MAX)
            .into_iter()
            .map(|(_, v)| crate::codec::Decode::from_bytes(&v).expect("the ledger wrote it"))
            .collect()
    }
}

struct_codec!(ModuleSummary {
    module: String,
    weight: u32,
    pool: Amount,
    bootstrap_pool: Amount,
    demand_pool: Amount,
    bootstrap_bps: u32,
    demand_cap: Amount,
    rolled_over: Amount,
    paid: Amount,
    demand_paid: Amount,
    unminted: Amount,
    total_shares: u128,
    devices_paid: u64,
    counters: Vec<(String, u64)>,
});
struct_codec!(EpochSummary {
    epoch: u64,
    height: u64,
    emission: Amount,
    reminted: Amount,
    treasury: Amount,
    bootstrap_pool: Amount,
    demand_pool: Amount,
    bootstrap_bps: u32,
    demand_cap: Amount,
    rolled_over: Amount,
    price: Option<TokenPrice>,
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
    validator_pool: Amount,
    validator_paid: Amount,
    validator_forfeited: Amount,
    devices_paid: u64,
    total_shares: u128,
    modules: Vec<ModuleSummary>,
});
struct_codec!(RewardRecord {
    owner: Address,
    module: String,
    shares: u128,
    bootstrap: Amount,
    credits: u128,
    credits_value: Amount,
    packets: u64,
    bytes: u64,
    demand: Amount,
    amount: Amount,
});
