//! Network parameters and initial balances, read from a TOML file.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::amount::{Amount, MAX_DECIMALS};
use crate::codec::{Decode, DecodeError, Encode, Reader};
use crate::crypto::{Address, Hash};
use crate::economics::EmissionSchedule;
use crate::modules::{ModuleParams, ModulesGenesis};
use crate::services::fees::{FeeParams, FeesGenesis};
use crate::tx::MAX_CHAIN_ID_BYTES;

/// Shortest block interval a network may choose, in milliseconds.
pub const MIN_BLOCK_INTERVAL_MS: u64 = 10;
/// Most validators a genesis may name (a simplex vote set is signed and checked per validator).
pub const MAX_GENESIS_VALIDATORS: usize = 128;

/// A genesis file: everything a node needs to start a network at height 0.
///
/// Unknown sections are refused by [`Genesis::from_toml`] (the modules' sections are flattened
/// in, which serde's own check cannot see through).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// Network name, part of every signed transaction (`depin-devnet`, `acme-mainnet`).
    pub chain_id: String,
    /// Time of the network's start, milliseconds since the Unix epoch; block times must follow it.
    pub genesis_time_ms: u64,
    pub token: TokenParams,
    pub consensus: ConsensusParams,
    #[serde(default)]
    pub allocations: Vec<Allocation>,
    /// Emission and its split; without it the network mints nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub economics: Option<EconomicsGenesis>,
    /// Transaction fees and block limits; without the section, [`FeesGenesis::default`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fees: Option<FeesGenesis>,
    /// The sections of the modules the network runs (`[coverage]`, `[demand]`, `[devices]`,
    /// ...): a module without a section is off, and its actions are refused.
    #[serde(flatten)]
    pub modules: ModulesGenesis,
}

/// What a module's genesis check may know of the rest of the genesis.
#[derive(Clone, Debug)]
pub struct GenesisInfo {
    pub decimals: u8,
    pub epoch_length_blocks: u64,
    pub has_economics: bool,
    /// The treasury's share of the emission, basis points, when the network has `[economics]`
    /// (governance checks the validators' share against it).
    pub treasury_bps: Option<u32>,
    /// Names of the modules the genesis has sections for.
    pub modules: Vec<&'static str>,
}

/// The `[economics]` section: what each epoch mints and where it goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EconomicsGenesis {
    /// Whole tokens minted per epoch before the first halving.
    pub emission_per_epoch: String,
    /// Epochs between halvings; 0 for none.
    pub halving_interval_epochs: u64,
    /// Whole tokens per epoch the emission never falls below (0: emission ends).
    #[serde(default = "zero_tokens")]
    pub tail_per_epoch: String,
    /// Account that receives the treasury's share.
    pub treasury: Address,
    /// Treasury's share of each epoch's emission, basis points; the rest is the suppliers'.
    pub treasury_bps: u32,
    /// Weights of the proof modules in the suppliers' share, by module name (`{ coverage = 3,
    /// storage = 1 }`); a module left out gets weight 1, so by default they share equally.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub pool_weights: std::collections::BTreeMap<String, u32>,
}

impl EconomicsGenesis {
    /// Checks the section and converts it (the genesis and governance's economics proposals);
    /// the error names the field.
    pub fn params(&self, decimals: u8) -> Result<EconomicsParams, crate::module::FieldError> {
        let tokens = |name: &'static str, text: &str| {
            Amount::parse(text, decimals).map_err(|err| (name, err.to_string()))
        };
        if self.treasury_bps > 10_000 {
            return Err((
                "economics.treasury_bps",
                "is a share in basis points: 0 to 10000".into(),
            ));
        }
        Ok(EconomicsParams {
            emission: EmissionSchedule {
                initial_per_epoch: tokens(
                    "economics.emission_per_epoch",
                    &self.emission_per_epoch,
                )?,
                halving_interval_epochs: self.halving_interval_epochs,
                tail_per_epoch: tokens("economics.tail_per_epoch", &self.tail_per_epoch)?,
            },
            treasury: self.treasury,
            treasury_bps: self.treasury_bps,
            pool_weights: self
                .pool_weights
                .iter()
                .map(|(n, w)| (n.clone(), *w))
                .collect(),
        })
    }
}

fn zero_tokens() -> String {
    "0".into()
}

/// Emission as the ledger keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EconomicsParams {
    pub emission: EmissionSchedule,
    pub treasury: Address,
    pub treasury_bps: u32,
    /// Weights of the proof modules by name, as given (others weigh 1).
    pub pool_weights: Vec<(String, u32)>,
}

impl EconomicsParams {
    /// The weight of proof module `name` in the suppliers' share.
    pub fn weight_of(&self, name: &str) -> u32 {
        self.pool_weights
            .iter()
            .find(|(n, _)| n == name)
            .map_or(1, |(_, w)| *w)
    }
}

/// The native token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenParams {
    pub symbol: String,
    /// Base units per token = 10^decimals.
    pub decimals: u8,
}

/// Block production.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusParams {
    pub block_interval_ms: u64,
    /// Blocks per reward epoch.
    pub epoch_length_blocks: u64,
    /// Most transactions in one block.
    pub max_block_txs: u32,
    /// The key that proposes and signs blocks in solo mode.
    pub validator: Address,
    /// A validator set for a BFT network (power 1 each); empty for a solo network, whose set
    /// is `validator` alone. Each is an account key that also signs consensus votes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validators: Vec<Address>,
}

/// Tokens an account holds at genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allocation {
    pub address: Address,
    /// Whole tokens as a decimal string, e.g. `"1000000"` or `"12.5"`.
    pub amount: String,
}

/// The parameters the ledger keeps in its state (and commits to in the app hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    pub chain_id: String,
    pub token_symbol: String,
    pub decimals: u8,
    pub block_interval_ms: u64,
    pub epoch_length_blocks: u64,
    pub max_block_txs: u32,
    pub validator: Address,
    pub economics: Option<EconomicsParams>,
    pub fees: FeeParams,
    /// The parameters of the modules the network runs.
    pub modules: ModuleParams,
}

/// What is wrong with a genesis file, said so it can be fixed.
#[derive(Debug, Error)]
pub enum GenesisError {
    #[error("genesis is not valid TOML for depin: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("genesis field {field}: {why}")]
    Field { field: &'static str, why: String },
    #[error(
        "genesis has an unknown section or field '{0}'; the top level takes chain_id, genesis_time_ms, token, consensus, allocations, economics, fees and the sections of the modules this node knows ({known})",
        known = crate::modules::NAMES.join(", ")
    )]
    Unknown(String),
}

fn field(field: &'static str, why: impl Into<String>) -> GenesisError {
    GenesisError::Field {
        field,
        why: why.into(),
    }
}

impl Genesis {
    /// Parses and validates a genesis file.
    pub fn from_toml(text: &str) -> Result<Genesis, GenesisError> {
        let table: toml::Table = toml::from_str(text)?;
        const CORE: &[&str] = &[
            "chain_id",
            "genesis_time_ms",
            "token",
            "consensus",
            "allocations",
            "economics",
            "fees",
        ];
        if let Some(unknown) = table
            .keys()
            .find(|k| !CORE.contains(&k.as_str()) && !crate::modules::NAMES.contains(&k.as_str()))
        {
            return Err(GenesisError::Unknown(unknown.clone()));
        }
        let genesis: Genesis = toml::from_str(text)?;
        genesis.validate()?;
        Ok(genesis)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a genesis always serializes to TOML")
    }

    /// Checks every rule a genesis must satisfy; the error names the field and the fix.
    pub fn validate(&self) -> Result<(), GenesisError> {
        let id = &self.chain_id;
        if id.is_empty()
            || id.len() > MAX_CHAIN_ID_BYTES
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(field(
                "chain_id",
                format!(
                    "'{id}' must be 1 to {MAX_CHAIN_ID_BYTES} characters of letters, digits, '-', '_' or '.'"
                ),
            ));
        }
        let sym = &self.token.symbol;
        if sym.is_empty() || sym.len() > 12 || !sym.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(field(
                "token.symbol",
                format!("'{sym}' must be 1 to 12 letters or digits"),
            ));
        }
        if self.token.decimals > MAX_DECIMALS {
            return Err(field(
                "token.decimals",
                format!(
                    "{} is more than the maximum {MAX_DECIMALS}",
                    self.token.decimals
                ),
            ));
        }
        let c = &self.consensus;
        if c.block_interval_ms < MIN_BLOCK_INTERVAL_MS {
            return Err(field(
                "consensus.block_interval_ms",
                format!("must be at least {MIN_BLOCK_INTERVAL_MS} ms"),
            ));
        }
        if c.epoch_length_blocks == 0 {
            return Err(field("consensus.epoch_length_blocks", "must be at least 1"));
        }
        if c.validators.len() > MAX_GENESIS_VALIDATORS {
            return Err(field(
                "consensus.validators",
                format!(
                    "names {} validators; at most {MAX_GENESIS_VALIDATORS} are allowed",
                    c.validators.len()
                ),
            ));
        }
        let distinct: BTreeSet<&Address> = c.validators.iter().collect();
        if distinct.len() != c.validators.len() {
            return Err(field(
                "consensus.validators",
                "names a validator twice; list each validator key once",
            ));
        }
        if c.max_block_txs == 0 || c.max_block_txs as usize > crate::block::MAX_BLOCK_TXS_LIMIT {
            return Err(field(
                "consensus.max_block_txs",
                format!(
                    "must be between 1 and {}",
                    crate::block::MAX_BLOCK_TXS_LIMIT
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        for a in &self.allocations {
            if !seen.insert(a.address) {
                return Err(field(
                    "allocations",
                    format!("{} appears twice; merge its amounts", a.address),
                ));
            }
        }
        self.balances()?;
        self.fee_params()?;
        let economics = self.economics_params()?;
        let modules = self.module_params()?;
        if let Some(e) = economics {
            let proof = modules.proof_modules();
            for (name, _) in &e.pool_weights {
                if !proof.contains(&name.as_str()) {
                    return Err(field(
                        "economics.pool_weights",
                        format!(
                            "'{name}' is not a proof module of this network (it runs {})",
                            proof.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// What a module's genesis check may know of the rest of this genesis.
    pub fn info(&self) -> GenesisInfo {
        GenesisInfo {
            decimals: self.token.decimals,
            epoch_length_blocks: self.consensus.epoch_length_blocks,
            has_economics: self.economics.is_some(),
            treasury_bps: self.economics.as_ref().map(|e| e.treasury_bps),
            modules: self.modules.present(),
        }
    }

    fn fee_params(&self) -> Result<FeeParams, GenesisError> {
        self.fees
            .clone()
            .unwrap_or_default()
            .params()
            .map_err(|(name, why)| field(name, why))
    }

    fn module_params(&self) -> Result<ModuleParams, GenesisError> {
        ModuleParams::from_genesis(&self.modules, &self.info())
            .map_err(|(name, why)| field(name, why))
    }

    fn economics_params(&self) -> Result<Option<EconomicsParams>, GenesisError> {
        let Some(e) = &self.economics else {
            return Ok(None);
        };
        e.params(self.token.decimals)
            .map(Some)
            .map_err(|(name, why)| field(name, why))
    }

    /// The genesis balances in base units, with their total.
    pub fn balances(&self) -> Result<(Vec<(Address, Amount)>, Amount), GenesisError> {
        let mut total = Amount::ZERO;
        let mut out = Vec::with_capacity(self.allocations.len());
        for a in &self.allocations {
            let amount = Amount::parse(&a.amount, self.token.decimals)
                .map_err(|e| field("allocations.amount", e.to_string()))?;
            total = total
                .checked_add(amount)
                .ok_or_else(|| field("allocations", "total supply overflows a 128-bit amount"))?;
            out.push((a.address, amount));
        }
        Ok((out, total))
    }

    pub fn params(&self) -> Params {
        Params {
            chain_id: self.chain_id.clone(),
            token_symbol: self.token.symbol.clone(),
            decimals: self.token.decimals,
            block_interval_ms: self.consensus.block_interval_ms,
            epoch_length_blocks: self.consensus.epoch_length_blocks,
            max_block_txs: self.consensus.max_block_txs,
            validator: self.consensus.validator,
            economics: self
                .economics_params()
                .expect("params() is called on a validated genesis"),
            fees: self
                .fee_params()
                .expect("params() is called on a validated genesis"),
            modules: self
                .module_params()
                .expect("params() is called on a validated genesis"),
        }
    }

    /// A one-validator network with no economics and no modules (tests, benchmarks, tools set
    /// what else they need on the result): token DPN with 6 decimals, 1 s blocks, 60-block
    /// epochs, at most 1,000 transactions a block, genesis time 1 ms, and `allocations` as
    /// (address, whole tokens).
    pub fn solo(chain_id: &str, validator: Address, allocations: &[(Address, &str)]) -> Genesis {
        Genesis {
            chain_id: chain_id.into(),
            genesis_time_ms: 1,
            token: TokenParams {
                symbol: "DPN".into(),
                decimals: 6,
            },
            consensus: ConsensusParams {
                block_interval_ms: 1000,
                epoch_length_blocks: 60,
                max_block_txs: 1000,
                validator,
                validators: Vec::new(),
            },
            allocations: allocations
                .iter()
                .map(|(address, amount)| Allocation {
                    address: *address,
                    amount: amount.to_string(),
                })
                .collect(),
            economics: None,
            fees: None,
            modules: ModulesGenesis::default(),
        }
    }

    /// What transactions for this network are signed for: its name and genesis hash.
    pub fn network(&self) -> crate::tx::Network {
        crate::tx::Network {
            chain_id: self.chain_id.clone(),
            genesis_hash: self.hash(),
        }
    }

    /// The network's identity: a hash of its parameters and allocations; block 1's parent.
    pub fn hash(&self) -> Hash {
        let mut bytes = self.params().to_bytes();
        self.genesis_time_ms.encode(&mut bytes);
        for a in &self.allocations {
            a.address.encode(&mut bytes);
            a.amount.encode(&mut bytes);
        }
        if let Some(d) = &self.modules.devices {
            d.denylist.encode(&mut bytes);
        }
        // Only a BFT genesis has a set: a solo genesis keeps the hash it always had.
        if !self.consensus.validators.is_empty() {
            self.consensus.validators.encode(&mut bytes);
        }
        Hash::tagged("depin/genesis", &[&bytes])
    }
}

impl Encode for Params {
    fn encode(&self, out: &mut Vec<u8>) {
        self.chain_id.encode(out);
        self.token_symbol.encode(out);
        self.decimals.encode(out);
        self.block_interval_ms.encode(out);
        self.epoch_length_blocks.encode(out);
        self.max_block_txs.encode(out);
        self.validator.encode(out);
        self.economics.encode(out);
        self.fees.encode(out);
        self.modules.encode(out);
    }
}

impl Encode for EconomicsParams {
    fn encode(&self, out: &mut Vec<u8>) {
        self.emission.initial_per_epoch.encode(out);
        self.emission.halving_interval_epochs.encode(out);
        self.emission.tail_per_epoch.encode(out);
        self.treasury.encode(out);
        self.treasury_bps.encode(out);
        self.pool_weights.encode(out);
    }
}

impl Decode for EconomicsParams {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(EconomicsParams {
            emission: EmissionSchedule {
                initial_per_epoch: Amount::decode(r)?,
                halving_interval_epochs: u64::decode(r)?,
                tail_per_epoch: Amount::decode(r)?,
            },
            treasury: Address::decode(r)?,
            treasury_bps: u32::decode(r)?,
            pool_weights: Vec::decode(r)?,
        })
    }
}

impl Decode for Params {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Params {
            chain_id: String::decode(r)?,
            token_symbol: String::decode(r)?,
            decimals: u8::decode(r)?,
            block_interval_ms: u64::decode(r)?,
            epoch_length_blocks: u64::decode(r)?,
            max_block_txs: u32::decode(r)?,
            validator: Address::decode(r)?,
            economics: Option::decode(r)?,
            fees: FeeParams::decode(r)?,
            modules: ModuleParams::decode(r)?,
        })
    }
}

/// A small valid genesis for unit tests: one validator (seed 9), 1000.5 tokens for seed 1, no
/// economics and no modules.
#[cfg(test)]
pub(crate) fn test_genesis() -> Genesis {
    use crate::crypto::Keypair;
    Genesis::solo(
        "depin-test",
        Keypair::from_seed([9; 32]).address(),
        &[(Keypair::from_seed([1; 32]).address(), "1000.5")],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Genesis {
        test_genesis()
    }

    #[test]
    fn toml_round_trips() {
        let g = sample();
        let text = g.to_toml();
        assert_eq!(Genesis::from_toml(&text).unwrap(), g);
        assert_eq!(g.balances().unwrap().1, Amount(1_000_500_000));
    }

    #[test]
    fn errors_name_the_field() {
        let mut g = sample();
        g.chain_id = "bad id!".into();
        assert!(g.validate().unwrap_err().to_string().contains("chain_id"));
        let mut g = sample();
        g.allocations.push(g.allocations[0].clone());
        assert!(
            g.validate()
                .unwrap_err()
                .to_string()
                .contains("appears twice")
        );
        let mut g = sample();
        g.allocations[0].amount = "1.1234567".into();
        assert!(g.validate().unwrap_err().to_string().contains("decimals"));
        let text = sample().to_toml().replace("chain_id", "chainid");
        assert!(Genesis::from_toml(&text).is_err());
    }
}
