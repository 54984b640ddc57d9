//! The storage module's genesis parameters: proving windows, challenges, shard and deal limits,
//! collateral, the price floor, and the fault ladder.
//!
//! A proving period is one epoch. The epoch is cut into windows of `window_blocks` blocks (the
//! deadlines, spread over the day as in Filecoin); each provider is assigned one deadline at
//! registration and proves every active shard once per period inside it.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::struct_codec;
use crate::crypto::Address;
use crate::economics::payout::BPS_DENOMINATOR;
use crate::tx::MAX_TX_BYTES;

use super::proof::{CHUNK_BYTES, max_path_len};

/// Bytes in a GiB: collateral and the price floor are stated per GiB.
pub const GIB: u64 = 1 << 30;
/// Largest shard a genesis may allow: 64 GiB (a path of 26 hashes).
pub const MAX_SHARD_BYTES_LIMIT: u64 = 64 * GIB;
/// Bytes of a proof transaction besides its openings (signature, signer, nonce, chain id, tags,
/// deal, period, and length prefixes), at most.
pub const PROOF_TX_OVERHEAD_BYTES: usize = 300;
/// Largest collateral per GiB, base units (times a 64 GiB shard and a fee in basis points it
/// stays below 2^128).
pub const MAX_COLLATERAL_PER_GIB: u128 = 1 << 80;
/// Most challenges per shard per window: at 64, a shard missing 5% of its chunks passes a window
/// with probability 0.95^64 = 3.7%.
pub const MAX_CHALLENGES: u32 = 64;
/// Most deals one fault or recovery declaration names.
pub const MAX_DECLARED_DEALS: usize = 64;
/// Most clients with a verified-data allowance (a governance proposal's section is at most
/// 16 KiB, about 120 entries; a genesis may list more).
pub const MAX_VERIFIED_CLIENTS: usize = 1_000;

/// A client whose deals earn bootstrap rewards (like Filecoin Plus's DataCap): granted in the
/// genesis or by a governance proposal that replaces the `[storage]` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifiedClient {
    pub client: Address,
    /// Bytes of shards its deals may place as verified, in total over the network's life
    /// (each deal uses its shard's size once, when it opens).
    pub allowance_bytes: u64,
}

struct_codec!(VerifiedClient {
    client: Address,
    allowance_bytes: u64,
});

/// The `[storage]` section of a genesis file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageGenesis {
    /// Fee to register a provider, whole tokens (burned); "0" on a network with `[demand]`,
    /// whose `onboard_fee_credits` applies instead.
    pub onboard_fee: String,
    /// Blocks per proving window; divides the epoch (windows per epoch = deadlines).
    pub window_blocks: u64,
    /// Chunks challenged per shard per window.
    pub challenges_per_window: u32,
    /// Largest shard a deal may hold, bytes.
    pub max_shard_bytes: u64,
    /// Shortest and longest deal, periods (epochs).
    pub min_deal_periods: u32,
    pub max_deal_periods: u32,
    /// Provider collateral a deal locks per GiB of shard, whole tokens (rounded up per byte).
    pub collateral_per_gib: String,
    /// Lowest price a deal may pay, credits per GiB per period (rounded up per byte): only paid
    /// storage earns, and self-dealing costs at least this.
    pub min_price_credits_per_gib: u64,
    /// A fault or recovery must be declared at least this many blocks before the window's
    /// entropy block (so nobody declares after seeing the challenge).
    pub fault_cutoff_blocks: u64,
    /// Fee for a period the provider declared faulty (or left faulty), basis points of the
    /// deal's remaining collateral, paid to the client.
    pub declared_fault_fee_bps: u32,
    /// Fee for a period whose proof was missing or wrong without a declaration, basis points of
    /// the deal's remaining collateral, paid to the client.
    pub detected_fault_fee_bps: u32,
    /// A deal faulty for more consecutive periods than this is terminated: its collateral pays
    /// the client and its unspent escrow is refunded.
    pub max_fault_periods: u32,
    /// Clients whose deals earn the bootstrap pool, each with its allowance, sorted by address
    /// without repeats. Deals of other clients are paid and count as demand, but earn no
    /// bootstrap shares: a provider paying itself through a second key gets back at most what
    /// it burned (docs/STORAGE.md, "Self-dealing").
    #[serde(default)]
    pub verified_clients: Vec<VerifiedClient>,
}

/// The storage parameters the ledger keeps in its state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageParams {
    pub onboard_fee: Amount,
    pub window_blocks: u64,
    pub challenges_per_window: u32,
    pub max_shard_bytes: u64,
    pub min_deal_periods: u32,
    pub max_deal_periods: u32,
    /// Base units per GiB.
    pub collateral_per_gib: Amount,
    pub min_price_credits_per_gib: u64,
    pub fault_cutoff_blocks: u64,
    pub declared_fault_fee_bps: u32,
    pub detected_fault_fee_bps: u32,
    pub max_fault_periods: u32,
    /// Windows per period (the epoch length over `window_blocks`).
    pub deadlines: u64,
    /// Clients with a verified-data allowance, sorted by address.
    pub verified_clients: Vec<VerifiedClient>,
}

/// Bytes of a proof transaction with `k` openings of a shard of `size` bytes, at most.
pub fn proof_tx_bytes(k: u32, size: u64) -> usize {
    let opening = 8 + 4 + CHUNK_BYTES as usize + 4 + 32 * max_path_len(size);
    PROOF_TX_OVERHEAD_BYTES + 4 + k as usize * opening
}

/// Openings of a `size`-byte shard one proof transaction holds (at least 1 on a valid network):
/// a provider answers a window's challenges in `challenges_per_window / this` transactions,
/// rounded up.
pub fn openings_per_tx(size: u64) -> u32 {
    let opening = proof_tx_bytes(2, size) - proof_tx_bytes(1, size);
    let room = MAX_TX_BYTES.saturating_sub(proof_tx_bytes(0, size));
    u32::try_from(room / opening).unwrap_or(u32::MAX).max(1)
}

impl StorageGenesis {
    /// Checks the section and converts it; errors name the field and what to do.
    pub fn to_params(
        &self,
        decimals: u8,
        epoch_length_blocks: u64,
    ) -> Result<StorageParams, (&'static str, String)> {
        let tokens = |name: &'static str, text: &str| {
            Amount::parse(text, decimals).map_err(|e| (name, e.to_string()))
        };
        if self.window_blocks < 2 || !epoch_length_blocks.is_multiple_of(self.window_blocks) {
            return Err((
                "storage.window_blocks",
                format!(
                    "must be at least 2 and divide consensus.epoch_length_blocks ({epoch_length_blocks}), so every proving window lies in one period"
                ),
            ));
        }
        if self.fault_cutoff_blocks >= epoch_length_blocks {
            return Err((
                "storage.fault_cutoff_blocks",
                "must be shorter than an epoch".into(),
            ));
        }
        if self.max_shard_bytes == 0 || self.max_shard_bytes > MAX_SHARD_BYTES_LIMIT {
            return Err((
                "storage.max_shard_bytes",
                format!("must be between 1 and {MAX_SHARD_BYTES_LIMIT} bytes"),
            ));
        }
        if self.challenges_per_window == 0
            || self.challenges_per_window > MAX_CHALLENGES
            || proof_tx_bytes(1, self.max_shard_bytes) > MAX_TX_BYTES
        {
            return Err((
                "storage.challenges_per_window",
                format!(
                    "must be between 1 and {MAX_CHALLENGES}, and one opening of the largest shard must fit a transaction ({} bytes; at most {MAX_TX_BYTES}): lower max_shard_bytes. A proof of more openings than one transaction holds is sent in several",
                    proof_tx_bytes(1, self.max_shard_bytes)
                ),
            ));
        }
        if self.min_deal_periods == 0 || self.min_deal_periods > self.max_deal_periods {
            return Err((
                "storage.min_deal_periods",
                "must be at least 1 and at most max_deal_periods".into(),
            ));
        }
        if self.min_price_credits_per_gib == 0 {
            return Err((
                "storage.min_price_credits_per_gib",
                "must be above 0: unpaid storage would earn rewards for data anyone can generate"
                    .into(),
            ));
        }
        for (name, bps) in [
            (
                "storage.declared_fault_fee_bps",
                self.declared_fault_fee_bps,
            ),
            (
                "storage.detected_fault_fee_bps",
                self.detected_fault_fee_bps,
            ),
        ] {
            if bps > BPS_DENOMINATOR {
                return Err((name, "must be at most 10000 (100%)".into()));
            }
        }
        if self.declared_fault_fee_bps > self.detected_fault_fee_bps {
            return Err((
                "storage.declared_fault_fee_bps",
                "must not exceed detected_fault_fee_bps: declaring a fault must never cost more than hiding it".into(),
            ));
        }
        let collateral_per_gib = tokens("storage.collateral_per_gib", &self.collateral_per_gib)?;
        if collateral_per_gib.0 > MAX_COLLATERAL_PER_GIB {
            return Err((
                "storage.collateral_per_gib",
                "is too large: collateral per GiB times the largest shard must stay far below 2^128".into(),
            ));
        }
        if self.verified_clients.len() > MAX_VERIFIED_CLIENTS {
            return Err((
                "storage.verified_clients",
                format!("lists more than {MAX_VERIFIED_CLIENTS} clients: merge or drop some"),
            ));
        }
        if self
            .verified_clients
            .windows(2)
            .any(|w| w[0].client >= w[1].client)
        {
            return Err((
                "storage.verified_clients",
                "must be sorted by client address, each client once: list each client's allowance in one entry".into(),
            ));
        }
        Ok(StorageParams {
            onboard_fee: tokens("storage.onboard_fee", &self.onboard_fee)?,
            window_blocks: self.window_blocks,
            challenges_per_window: self.challenges_per_window,
            max_shard_bytes: self.max_shard_bytes,
            min_deal_periods: self.min_deal_periods,
            max_deal_periods: self.max_deal_periods,
            collateral_per_gib,
            min_price_credits_per_gib: self.min_price_credits_per_gib,
            fault_cutoff_blocks: self.fault_cutoff_blocks,
            declared_fault_fee_bps: self.declared_fault_fee_bps,
            detected_fault_fee_bps: self.detected_fault_fee_bps,
            max_fault_periods: self.max_fault_periods,
            deadlines: epoch_length_blocks / self.window_blocks,
            verified_clients: self.verified_clients.clone(),
        })
    }
}

impl StorageParams {
    /// Collateral a shard of `size` bytes locks, base units (rounded up).
    pub fn deal_collateral(&self, size: u64) -> Amount {
        Amount((self.collateral_per_gib.0 * u128::from(size)).div_ceil(u128::from(GIB)))
    }

    /// The lowest price per period a shard of `size` bytes may pay, credits (rounded up).
    pub fn price_floor(&self, size: u64) -> u128 {
        (u128::from(self.min_price_credits_per_gib) * u128::from(size)).div_ceil(u128::from(GIB))
    }

    /// The window of `period` at `deadline`: its first and last heights (inclusive). Its
    /// challenges come from the hash of the block before its first.
    pub fn window(&self, epoch_length_blocks: u64, period: u64, deadline: u64) -> (u64, u64) {
        let first = period * epoch_length_blocks + deadline * self.window_blocks + 1;
        (first, first + self.window_blocks - 1)
    }

    /// The fault ladder's fee for one period, base units of the deal's `collateral`.
    pub fn fault_fee(&self, collateral: Amount, detected: bool) -> Amount {
        let bps = if detected {
            self.detected_fault_fee_bps
        } else {
            self.declared_fault_fee_bps
        };
        Amount(collateral.0 * u128::from(bps) / u128::from(BPS_DENOMINATOR))
    }

    /// The verified-data allowance granted to `client`, bytes (0 if none).
    pub fn allowance(&self, client: &Address) -> u64 {
        self.verified_clients
            .binary_search_by(|v| v.client.cmp(client))
            .map_or(0, |i| self.verified_clients[i].allowance_bytes)
    }
}

struct_codec!(StorageParams {
    onboard_fee: Amount,
    window_blocks: u64,
    challenges_per_window: u32,
    max_shard_bytes: u64,
    min_deal_periods: u32,
    max_deal_periods: u32,
    collateral_per_gib: Amount,
    min_price_credits_per_gib: u64,
    fault_cutoff_blocks: u64,
    declared_fault_fee_bps: u32,
    detected_fault_fee_bps: u32,
    max_fault_periods: u32,
    deadlines: u64,
    verified_clients: Vec<VerifiedClient>,
});

/// A storage section for a network with `[demand]` and epochs divisible by `window_blocks`:
/// 1 GiB shards, two challenges per window (a proof of two 1 KiB chunks fits a transaction), 10
/// tokens of collateral and 1,000 credits ($0.01 at Helium's peg) per GiB per period at least,
/// faults at 1% declared and 5% detected of the deal's collateral, terminated after 3 in a row.
pub fn preset(window_blocks: u64) -> StorageGenesis {
    StorageGenesis {
        onboard_fee: "0".into(),
        window_blocks,
        challenges_per_window: 2,
        max_shard_bytes: GIB,
        min_deal_periods: 1,
        max_deal_periods: 1_000,
        collateral_per_gib: "10".into(),
        min_price_credits_per_gib: 1_000,
        fault_cutoff_blocks: 1,
        declared_fault_fee_bps: 100,
        detected_fault_fee_bps: 500,
        max_fault_periods: 3,
        verified_clients: Vec::new(),
    }
}
