//! What the storage module keeps in the state: providers (beside their registry entries), deals
//! with their escrow and collateral, each deal's outcome per period, each window's challenge
//! entropy, and each provider's proven work per epoch; the layout of their keys; and
//! [`StorageView`], the read access the checks and the API share.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::{Decode, DecodeError, Encode, Reader, struct_codec};
use crate::crypto::{Address, Hash};
use crate::module::{Module, module_key};
use crate::services::demand::hold::Held;
use crate::services::devices::DevicesView;
use crate::state::StateRead;

use super::Storage;

/// The account that holds every provider's collateral (tokens stay in an account, so the sum of
/// balances is the supply). Nobody holds its key: it is a hash, not a public key anyone derived.
pub fn escrow_account() -> Address {
    Address(Hash::tagged("depin/storage/collateral-escrow/v1", &[]).0)
}

/// What storage keeps of a provider beside its registry entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    pub capacity_bytes: u64,
    /// Bytes of its active deals.
    pub used_bytes: u64,
    /// Tokens it has in escrow, base units (locked and free).
    pub collateral: Amount,
    /// Of which active deals lock.
    pub locked: Amount,
    /// Its proving window in each period.
    pub deadline: u64,
    /// Active deals.
    pub deals: u32,
}

impl Provider {
    pub fn free_collateral(&self) -> Amount {
        self.collateral
            .checked_sub(self.locked)
            .expect("locked <= collateral")
    }

    pub fn free_bytes(&self) -> u64 {
        self.capacity_bytes.saturating_sub(self.used_bytes)
    }
}

/// Where a deal stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DealStatus {
    /// Proving (or not started yet).
    Active,
    /// Missed its last period; unpaid until a declared recovery is proven.
    Faulty,
    /// Ran its course; collateral returned to the provider.
    Ended,
    /// Faulty for longer than the limit: its collateral paid the client.
    TerminatedFaults,
    /// The provider quit: its collateral paid the client.
    TerminatedByProvider,
}

impl DealStatus {
    /// Whether the deal is still challenged each period.
    pub fn is_live(self) -> bool {
        matches!(self, DealStatus::Active | DealStatus::Faulty)
    }

    pub fn name(self) -> &'static str {
        match self {
            DealStatus::Active => "active",
            DealStatus::Faulty => "faulty",
            DealStatus::Ended => "ended",
            DealStatus::TerminatedFaults => "terminated_faults",
            DealStatus::TerminatedByProvider => "terminated_by_provider",
        }
    }
}

/// A storage deal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deal {
    pub client: Address,
    /// The provider's device.
    pub provider: Address,
    pub root: Hash,
    pub size: u64,
    /// First period proven and paid.
    pub start_period: u64,
    pub periods: u32,
    #[serde(with = "crate::amount::u128_string")]
    pub price_per_period: u128,
    /// The client's credits still held for the periods to come.
    pub escrow: Held,
    /// The provider's collateral still locked for it, base units.
    pub collateral: Amount,
    pub status: DealStatus,
    /// The provider's window in each period.
    pub deadline: u64,
    /// Consecutive faulty periods.
    pub faults: u32,
    /// Periods proven and paid.
    pub proven_periods: u32,
    /// Periods faulty.
    pub fault_periods: u32,
    #[serde(with = "crate::amount::u128_string")]
    pub paid_credits: u128,
    /// Fault fees and termination collateral paid to the client, base units.
    pub paid_to_client: Amount,
    /// Period whose valid proof the ledger accepted last.
    pub proven_period: Option<u64>,
    /// Period the provider declared faulty in advance.
    pub declared_fault: Option<u64>,
    /// Period in which the provider declared it will prove a faulty deal again.
    pub recovery: Option<u64>,
    pub opened_height: u64,
    /// Opened by a client with a verified-data allowance (which it used): its proven periods
    /// earn bootstrap shares; other deals earn only their demand share.
    pub verified: bool,
}

impl Deal {
    /// The last period of the deal.
    pub fn end_period(&self) -> u64 {
        self.start_period + u64::from(self.periods) - 1
    }
}

/// What happened to a deal in one period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// Proven in its window: the period's price was paid to the provider.
    Proven,
    /// Declared faulty before the cutoff: the lower fee, the period refunded.
    DeclaredFault,
    /// Still faulty with no recovery declared: the lower fee, the period refunded.
    ContinuedFault,
    /// No valid proof and no declaration: the higher fee, the period refunded.
    DetectedFault,
    /// Recovery declared but not proven: the higher fee, the period refunded.
    RecoveryFailed,
}

impl OutcomeKind {
    pub fn name(self) -> &'static str {
        match self {
            OutcomeKind::Proven => "proven",
            OutcomeKind::DeclaredFault => "declared_fault",
            OutcomeKind::ContinuedFault => "continued_fault",
            OutcomeKind::DetectedFault => "detected_fault",
            OutcomeKind::RecoveryFailed => "recovery_failed",
        }
    }

    /// A sentence for the provider and the client.
    pub fn explain(self) -> &'static str {
        match self {
            OutcomeKind::Proven => {
                "every challenged chunk was opened against the shard's root in the provider's window; the period's price was paid to the provider"
            }
            OutcomeKind::DeclaredFault => {
                "the provider declared the shard faulty before the cutoff; the period was refunded to the client with the declared-fault fee from the collateral"
            }
            OutcomeKind::ContinuedFault => {
                "the shard was still faulty and no recovery was declared; the period was refunded to the client with the declared-fault fee"
            }
            OutcomeKind::DetectedFault => {
                "no valid proof arrived in the window and no fault was declared; the period was refunded to the client with the detected-fault fee (declare faults to pay less)"
            }
            OutcomeKind::RecoveryFailed => {
                "a recovery was declared but no valid proof arrived in the window; the period was refunded to the client with the detected-fault fee"
            }
        }
    }
}

/// A deal's outcome in one period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodOutcome {
    pub kind: OutcomeKind,
    /// Credits released to the provider.
    #[serde(with = "crate::amount::u128_string")]
    pub paid_credits: u128,
    /// Credits refunded to the client.
    #[serde(with = "crate::amount::u128_string")]
    pub refunded_credits: u128,
    /// Collateral paid to the client, base units.
    pub fee: Amount,
    /// Height of the window's last block, where it was settled.
    pub height: u64,
}

/// A provider's proven work in one epoch: the basis of its shares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochProof {
    pub deals_proven: u32,
    /// Bytes of shards proven (a shard counts once per period).
    pub bytes_proven: u64,
    pub faults_declared: u32,
    pub faults_detected: u32,
    /// Credits released to it for proven periods (its paid service).
    #[serde(with = "crate::amount::u128_string")]
    pub credits_paid: u128,
    /// The part of `credits_paid` released for verified deals: its bootstrap shares.
    #[serde(with = "crate::amount::u128_string")]
    pub credits_verified: u128,
    /// Collateral it paid to clients in fees, base units.
    pub fees: Amount,
}

/// Counters of the module.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageMeta {
    /// The id the next deal gets.
    pub next_deal: u64,
}

const PROVIDER: u8 = 0;
const DEAL: u8 = 1;
const BY_DEADLINE: u8 = 2;
const BY_PROVIDER: u8 = 3;
const BY_CLIENT: u8 = 4;
const ENTROPY: u8 = 5;
const EPOCH_PROOF: u8 = 6;
const OUTCOME: u8 = 7;
const META: u8 = 8;
const SHARD: u8 = 9;
const ANSWERED: u8 = 10;
const ALLOWANCE_USED: u8 = 11;
const ENDPOINT: u8 = 12;

pub fn provider_key(device: &Address) -> Vec<u8> {
    module_key(Storage::ID, PROVIDER, &[&device.0])
}

pub fn deal_key(deal: u64) -> Vec<u8> {
    module_key(Storage::ID, DEAL, &[&deal.to_be_bytes()])
}

/// The live deals proven in window `deadline` of every period.
pub fn deadline_key(deadline: u64, deal: u64) -> Vec<u8> {
    module_key(
        Storage::ID,
        BY_DEADLINE,
        &[&deadline.to_be_bytes(), &deal.to_be_bytes()],
    )
}

pub fn deadline_prefix(deadline: u64) -> Vec<u8> {
    module_key(Storage::ID, BY_DEADLINE, &[&deadline.to_be_bytes()])
}

pub fn provider_deal_key(device: &Address, deal: u64) -> Vec<u8> {
    module_key(Storage::ID, BY_PROVIDER, &[&device.0, &deal.to_be_bytes()])
}

pub fn client_deal_key(client: &Address, deal: u64) -> Vec<u8> {
    module_key(Storage::ID, BY_CLIENT, &[&client.0, &deal.to_be_bytes()])
}

/// Entropy of window `deadline` of `period`.
pub fn entropy_key(period: u64, deadline: u64) -> Vec<u8> {
    module_key(
        Storage::ID,
        ENTROPY,
        &[&period.to_be_bytes(), &deadline.to_be_bytes()],
    )
}

pub fn epoch_proof_key(epoch: u64, device: &Address) -> Vec<u8> {
    module_key(Storage::ID, EPOCH_PROOF, &[&epoch.to_be_bytes(), &device.0])
}

pub fn epoch_proof_prefix(epoch: u64) -> Vec<u8> {
    module_key(Storage::ID, EPOCH_PROOF, &[&epoch.to_be_bytes()])
}

pub fn outcome_key(deal: u64, period: u64) -> Vec<u8> {
    module_key(
        Storage::ID,
        OUTCOME,
        &[&deal.to_be_bytes(), &period.to_be_bytes()],
    )
}

pub fn meta_key() -> Vec<u8> {
    module_key(Storage::ID, META, &[])
}

/// The live deal of `provider` holding the shard `root` (one per provider and shard).
pub fn shard_key(provider: &Address, root: &Hash) -> Vec<u8> {
    module_key(Storage::ID, SHARD, &[&provider.0, &root.0])
}

/// How many of a deal's challenges were answered so far in the window of `period` (a proof may
/// be split over several transactions); removed when the last is answered or the window settles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answered {
    pub period: u64,
    pub count: u32,
}

pub fn answered_key(deal: u64) -> Vec<u8> {
    module_key(Storage::ID, ANSWERED, &[&deal.to_be_bytes()])
}

/// Bytes of its verified-data allowance a client has used (deals opened as verified).
pub fn allowance_used_key(client: &Address) -> Vec<u8> {
    module_key(Storage::ID, ALLOWANCE_USED, &[&client.0])
}

/// The retrieval URL a provider announced.
pub fn endpoint_key(device: &Address) -> Vec<u8> {
    module_key(Storage::ID, ENDPOINT, &[&device.0])
}

/// A storage provider as the checks and the API see it: its registry entry and its record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderView {
    pub device: Address,
    pub owner: Address,
    pub onboarded_height: u64,
    #[serde(flatten)]
    pub record: Provider,
}

/// Read access to storage records, in the executing state or a store snapshot.
pub trait StorageView {
    /// A storage provider (registered to this module, with its record).
    fn provider(&self, device: &Address) -> Option<ProviderView>;
    fn deal(&self, deal: u64) -> Option<Deal>;
    /// A provider's deals (ids from `after` on, ascending), at most `limit`.
    fn provider_deals(&self, device: &Address, after: u64, limit: usize) -> Vec<u64>;
    /// A client's deals (ids from `after` on, ascending), at most `limit`.
    fn client_deals(&self, client: &Address, after: u64, limit: usize) -> Vec<u64>;
    /// A deal's outcomes per period, from `from_period` on, at most `limit`.
    fn outcomes(&self, deal: u64, from_period: u64, limit: usize) -> Vec<(u64, PeriodOutcome)>;
    fn window_entropy(&self, period: u64, deadline: u64) -> Option<Hash>;
    /// A provider's proven work in an epoch.
    fn epoch_proof(&self, epoch: u64, device: &Address) -> Option<EpochProof>;
    fn storage_meta(&self) -> StorageMeta;
    /// Bytes of its verified-data allowance `client` has used.
    fn allowance_used(&self, client: &Address) -> u64;
    /// The retrieval URL `device` announced.
    fn endpoint(&self, device: &Address) -> Option<String>;
    /// Providers with an announced retrieval URL, by device address after `after` (exclusive),
    /// at most `limit`.
    fn endpoints(&self, after: Option<&Address>, limit: usize) -> Vec<(Address, String)>;
}

fn ids_after(entries: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<u64> {
    entries
        .into_iter()
        .map(|(k, _)| u64::from_be_bytes(k[k.len() - 8..].try_into().expect("8 bytes")))
        .collect()
}

fn end_of(prefix: &[u8]) -> Vec<u8> {
    crate::state::prefix_end(prefix).expect("module prefixes are not all 0xff")
}

impl<R: StateRead> StorageView for R {
    fn provider(&self, device: &Address) -> Option<ProviderView> {
        let entry = self.device_entry(device)?;
        if entry.module != Storage::ID {
            return None;
        }
        Some(ProviderView {
            device: *device,
            owner: entry.owner,
            onboarded_height: entry.onboarded_height,
            record: self.get(&provider_key(device))?,
        })
    }

    fn deal(&self, deal: u64) -> Option<Deal> {
        self.get(&deal_key(deal))
    }

    fn provider_deals(&self, device: &Address, after: u64, limit: usize) -> Vec<u64> {
        let prefix = module_key(Storage::ID, BY_PROVIDER, &[&device.0]);
        ids_after(self.scan(&provider_deal_key(device, after), &end_of(&prefix), limit))
    }

    fn client_deals(&self, client: &Address, after: u64, limit: usize) -> Vec<u64> {
        let prefix = module_key(Storage::ID, BY_CLIENT, &[&client.0]);
        ids_after(self.scan(&client_deal_key(client, after), &end_of(&prefix), limit))
    }

    fn outcomes(&self, deal: u64, from_period: u64, limit: usize) -> Vec<(u64, PeriodOutcome)> {
        let prefix = module_key(Storage::ID, OUTCOME, &[&deal.to_be_bytes()]);
        self.scan(&outcome_key(deal, from_period), &end_of(&prefix), limit)
            .into_iter()
            .map(|(k, v)| {
                (
                    u64::from_be_bytes(k[k.len() - 8..].try_into().expect("8 bytes")),
                    PeriodOutcome::from_bytes(&v).expect("the ledger wrote it"),
                )
            })
            .collect()
    }

    fn window_entropy(&self, period: u64, deadline: u64) -> Option<Hash> {
        self.get(&entropy_key(period, deadline))
    }

    fn epoch_proof(&self, epoch: u64, device: &Address) -> Option<EpochProof> {
        self.get(&epoch_proof_key(epoch, device))
    }

    fn storage_meta(&self) -> StorageMeta {
        self.get(&meta_key()).unwrap_or_default()
    }

    fn allowance_used(&self, client: &Address) -> u64 {
        self.get(&allowance_used_key(client)).unwrap_or(0)
    }

    fn endpoint(&self, device: &Address) -> Option<String> {
        self.get(&endpoint_key(device))
    }

    fn endpoints(&self, after: Option<&Address>, limit: usize) -> Vec<(Address, String)> {
        let prefix = module_key(Storage::ID, ENDPOINT, &[]);
        let start = match after {
            Some(a) => {
                let mut k = endpoint_key(a);
                k.push(0);
                k
            }
            None => prefix.clone(),
        };
        self.scan(&start, &end_of(&prefix), limit)
            .into_iter()
            .map(|(k, v)| {
                let device = Address(k[k.len() - 32..].try_into().expect("32 bytes"));
                let url = String::from_bytes(&v).expect("the ledger wrote it");
                (device, url)
            })
            .collect()
    }
}

impl Encode for DealStatus {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(match self {
            DealStatus::Active => 0,
            DealStatus::Faulty => 1,
            DealStatus::Ended => 2,
            DealStatus::TerminatedFaults => 3,
            DealStatus::TerminatedByProvider => 4,
        });
    }
}

impl Decode for DealStatus {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match u8::decode(r)? {
            0 => DealStatus::Active,
            1 => DealStatus::Faulty,
            2 => DealStatus::Ended,
            3 => DealStatus::TerminatedFaults,
            4 => DealStatus::TerminatedByProvider,
            tag => {
                return Err(DecodeError::InvalidTag {
                    what: "deal status",
                    tag,
                });
            }
        })
    }
}

impl Encode for OutcomeKind {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(match self {
            OutcomeKind::Proven => 0,
            OutcomeKind::DeclaredFault => 1,
            OutcomeKind::ContinuedFault => 2,
            OutcomeKind::DetectedFault => 3,
            OutcomeKind::RecoveryFailed => 4,
        });
    }
}

impl Decode for OutcomeKind {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match u8::decode(r)? {
            0 => OutcomeKind::Proven,
            1 => OutcomeKind::DeclaredFault,
            2 => OutcomeKind::ContinuedFault,
            3 => OutcomeKind::DetectedFault,
            4 => OutcomeKind::RecoveryFailed,
            tag => {
                return Err(DecodeError::InvalidTag {
                    what: "outcome",
                    tag,
                });
            }
        })
    }
}

struct_codec!(Provider {
    capacity_bytes: u64,
    used_bytes: u64,
    collateral: Amount,
    locked: Amount,
    deadline: u64,
    deals: u32,
});
struct_codec!(Deal {
    client: Address,
    provider: Address,
    root: Hash,
    size: u64,
    start_period: u64,
    periods: u32,
    price_per_period: u128,
    escrow: Held,
    collateral: Amount,
    status: DealStatus,
    deadline: u64,
    faults: u32,
    proven_periods: u32,
    fault_periods: u32,
    paid_credits: u128,
    paid_to_client: Amount,
    proven_period: Option<u64>,
    declared_fault: Option<u64>,
    recovery: Option<u64>,
    opened_height: u64,
    verified: bool,
});
struct_codec!(PeriodOutcome {
    kind: OutcomeKind,
    paid_credits: u128,
    refunded_credits: u128,
    fee: Amount,
    height: u64,
});
struct_codec!(Answered {
    period: u64,
    count: u32,
});
struct_codec!(EpochProof {
    deals_proven: u32,
    bytes_proven: u64,
    faults_declared: u32,
    faults_detected: u32,
    credits_paid: u128,
    credits_verified: u128,
    fees: Amount,
});
struct_codec!(StorageMeta { next_deal: u64 });
