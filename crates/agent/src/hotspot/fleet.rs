//! A fleet of simulated hotspots talking to one node: the network's parameters it read and its
//! members. Onboarding is in `onboarding.rs`, the beacon windows in `window.rs`.

use anyhow::{Context, Result, bail};
use depin_core::{Action, Keypair, Transaction};
use serde_json::Value;

use super::args::HotspotArgs;
use super::layout::{Member, Plan, layout};
use crate::client::{Client, Signer};

/// A fleet of simulated hotspots talking to one node.
pub struct Fleet {
    pub(super) client: Client,
    pub(super) owner: Keypair,
    pub chain_id: String,
    /// Network and fee the fleet's transactions are signed for.
    pub signer: Signer,
    pub decimals: u8,
    pub symbol: String,
    pub epoch_length_blocks: u64,
    pub(super) beacon_interval_blocks: u64,
    pub(super) plan: Plan,
    /// Onboarding plus location fee of one device, base units.
    pub(super) fee_per_device: u128,
    /// Witness reports the ledger records per beacon.
    pub(super) max_witnesses_per_beacon: usize,
    /// Windows after its own a report may still name.
    pub(super) entropy_max_age_windows: u64,
    /// Most beacons one hotspot may witness per window.
    pub(super) max_witnessed_per_window: usize,
    /// Beacons sent and not yet revealed: window, its entropy, and which members' beacons the
    /// ledger accepted. Each is revealed `entropy_max_age_windows + 1` windows after its own.
    pub(super) unrevealed: Vec<(u64, depin_core::Hash, Vec<bool>)>,
    pub(super) seed: u64,
    pub members: Vec<Member>,
    pub(super) last_window: Option<u64>,
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
            signer: Signer::from_status(&status)?,
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
            max_witnessed_per_window: rules["max_witnessed_per_window"]
                .as_u64()
                .context("params have no max_witnessed_per_window")?
                as usize,
            unrevealed: Vec::new(),
            seed: args.seed,
            members: Vec::new(),
            last_window: None,
        };
        fleet.members = layout(args);
        Ok(fleet)
    }

    /// `action` signed by `key` with `nonce` for this chain.
    pub(super) fn sign(&self, key: &Keypair, nonce: u64, action: Action) -> Transaction {
        self.signer.sign(key, nonce, action)
    }

    /// The chain's height, from the node's status.
    pub(super) fn height(&self) -> Result<u64> {
        self.client.get("/v1/status")?["height"]
            .as_u64()
            .context("status has no height")
    }

    /// The epoch the chain is in.
    pub fn current_epoch(&self) -> Result<u64> {
        Ok(self.height()? / self.epoch_length_blocks)
    }

    /// The client of the node the fleet talks to.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Blocks per beacon window.
    pub fn beacon_interval_blocks(&self) -> u64 {
        self.beacon_interval_blocks
    }
}
