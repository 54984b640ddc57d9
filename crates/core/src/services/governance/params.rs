//! The `[governance]` section: how much stake proposes, how long votes run, the quorum and the
//! threshold, the unbonding period, and the slashing rules. All of it is itself changed by
//! proposal.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::{Decode, DecodeError, Encode, Reader, struct_codec};
use crate::crypto::Address;
use crate::genesis::GenesisInfo;
use crate::module::FieldError;

use super::actions::MAX_VALIDATORS;

/// Where slashed tokens go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlashTo {
    /// Burned: the supply falls by them.
    Burn,
    /// Moved to the economics treasury (burned when the network has no `[economics]`).
    Treasury,
}

impl Encode for SlashTo {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(match self {
            SlashTo::Burn => 0,
            SlashTo::Treasury => 1,
        });
    }
}

impl Decode for SlashTo {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match u8::decode(r)? {
            0 => Ok(SlashTo::Burn),
            1 => Ok(SlashTo::Treasury),
            tag => Err(DecodeError::InvalidTag {
                what: "slash destination",
                tag,
            }),
        }
    }
}

/// The `[governance]` section of a genesis file. Amounts are whole tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernanceGenesis {
    /// Voting weight an account needs to open a proposal (whole tokens).
    pub min_proposal_stake: String,
    /// Proposals one account may have in voting at once (against proposal spam).
    #[serde(default = "default_open_proposals")]
    pub max_open_proposals: u32,
    /// Blocks a proposal stays open for votes.
    pub voting_period_blocks: u64,
    /// Share of the eligible weight that must vote (yes, no or abstain), basis points.
    pub quorum_bps: u32,
    /// Share of yes among yes and no that passes a proposal (strictly more than), basis points.
    pub threshold_bps: u32,
    /// Blocks between unbonding stake and being able to withdraw it; at least the voting period,
    /// so stake that voted stays locked until the vote is over.
    pub unbonding_blocks: u64,
    /// Share of the backing stake slashed for a validator's equivocation, basis points.
    #[serde(default)]
    pub slash_equivocation_bps: u32,
    /// Share slashed from a storage provider whose deal was terminated for failed proofs.
    #[serde(default)]
    pub slash_storage_bps: u32,
    /// Share slashed from a compute provider whose result was proven wrong.
    #[serde(default)]
    pub slash_compute_bps: u32,
    /// Share slashed from the owner of a device removed for fraud by a denylist proposal.
    #[serde(default)]
    pub slash_fraud_bps: u32,
    /// Where slashed tokens go.
    #[serde(default = "default_slash_to")]
    pub slash_to: SlashTo,
    /// Blocks a validator may miss in a row before it is jailed (never slashed for it).
    #[serde(default = "default_downtime")]
    pub downtime_jail_blocks: u64,
    /// Blocks a jailed validator waits before it may ask to come back (`unjail`).
    #[serde(default = "default_jail")]
    pub jail_blocks: u64,
    /// Seats of the validator set chosen from stake at each epoch boundary (the top candidates
    /// by backing); 0: no election, membership comes from `validator_set` proposals.
    #[serde(default)]
    pub max_validators: u32,
    /// Own stake (whole tokens) a candidate must have bonded to itself to be elected.
    #[serde(default = "zero_tokens")]
    pub min_validator_bond: String,
    /// Share of each epoch's emission paid to the validators for the leader turns they
    /// produced, basis points (0: none, the emission is split as without validators).
    #[serde(default)]
    pub validator_reward_bps: u32,
    /// A key that may enact a change without a vote (at the next epoch boundary, like a passed
    /// proposal). For devnets: the API marks it as an emergency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency_key: Option<Address>,
}

fn default_open_proposals() -> u32 {
    2
}
fn default_slash_to() -> SlashTo {
    SlashTo::Burn
}
fn default_downtime() -> u64 {
    500
}
fn default_jail() -> u64 {
    100
}
fn zero_tokens() -> String {
    "0".into()
}

impl GovernanceGenesis {
    /// A devnet's section: proposals by anyone with 100 tokens staked, 20-block votes, a third
    /// of the stake for quorum, a simple majority, 30-block unbonding, no emergency key.
    pub fn devnet() -> GovernanceGenesis {
        GovernanceGenesis {
            min_proposal_stake: "100".into(),
            max_open_proposals: 2,
            voting_period_blocks: 20,
            quorum_bps: 3_340,
            threshold_bps: 5_000,
            unbonding_blocks: 30,
            slash_equivocation_bps: 500,
            slash_storage_bps: 100,
            slash_compute_bps: 100,
            slash_fraud_bps: 1_000,
            slash_to: SlashTo::Burn,
            downtime_jail_blocks: 500,
            jail_blocks: 100,
            max_validators: 0,
            min_validator_bond: "0".into(),
            validator_reward_bps: 0,
            emergency_key: None,
        }
    }
}

/// Most blocks a vote may run (about a month at one block a second).
pub const MAX_VOTING_PERIOD_BLOCKS: u64 = 3_000_000;
/// Most blocks stake may take to unbond.
pub const MAX_UNBONDING_BLOCKS: u64 = 30_000_000;
/// Most proposals one account may have open at once.
pub const MAX_OPEN_PROPOSALS: u32 = 16;

/// Governance's parameters as the ledger keeps them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernanceParams {
    /// Base units of voting weight needed to propose.
    pub min_proposal_stake: Amount,
    pub max_open_proposals: u32,
    pub voting_period_blocks: u64,
    pub quorum_bps: u32,
    pub threshold_bps: u32,
    pub unbonding_blocks: u64,
    pub slash_equivocation_bps: u32,
    pub slash_storage_bps: u32,
    pub slash_compute_bps: u32,
    pub slash_fraud_bps: u32,
    pub slash_to: SlashTo,
    pub downtime_jail_blocks: u64,
    pub jail_blocks: u64,
    /// 0: no election.
    pub max_validators: u32,
    /// Base units of self-bond a candidate needs.
    pub min_validator_bond: Amount,
    pub validator_reward_bps: u32,
    pub emergency_key: Option<Address>,
}

struct_codec!(GovernanceParams {
    min_proposal_stake: Amount,
    max_open_proposals: u32,
    voting_period_blocks: u64,
    quorum_bps: u32,
    threshold_bps: u32,
    unbonding_blocks: u64,
    slash_equivocation_bps: u32,
    slash_storage_bps: u32,
    slash_compute_bps: u32,
    slash_fraud_bps: u32,
    slash_to: SlashTo,
    downtime_jail_blocks: u64,
    jail_blocks: u64,
    max_validators: u32,
    min_validator_bond: Amount,
    validator_reward_bps: u32,
    emergency_key: Option<Address>,
});

/// Checks the section; errors name the field and say what is allowed.
pub fn check(g: &GovernanceGenesis, network: &GenesisInfo) -> Result<GovernanceParams, FieldError> {
    let min_proposal_stake =
        Amount::parse(&g.min_proposal_stake, network.decimals).map_err(|e| {
            (
                "governance.min_proposal_stake",
                format!("{e}: whole tokens, e.g. \"100\""),
            )
        })?;
    if min_proposal_stake.is_zero() {
        return Err((
            "governance.min_proposal_stake",
            "must be more than 0, or anyone could flood the ledger with proposals".into(),
        ));
    }
    if g.max_open_proposals == 0 || g.max_open_proposals > MAX_OPEN_PROPOSALS {
        return Err((
            "governance.max_open_proposals",
            format!("must be between 1 and {MAX_OPEN_PROPOSALS}"),
        ));
    }
    if g.voting_period_blocks == 0 || g.voting_period_blocks > MAX_VOTING_PERIOD_BLOCKS {
        return Err((
            "governance.voting_period_blocks",
            format!("must be between 1 and {MAX_VOTING_PERIOD_BLOCKS}"),
        ));
    }
    if g.quorum_bps == 0 || g.quorum_bps > 10_000 {
        return Err((
            "governance.quorum_bps",
            "is a share in basis points: 1 to 10000".into(),
        ));
    }
    if !(5_000..10_000).contains(&g.threshold_bps) {
        return Err((
            "governance.threshold_bps",
            "must be 5000 (a simple majority) to 9999 basis points, so a minority never passes a change"
                .into(),
        ));
    }
    if g.unbonding_blocks < g.voting_period_blocks || g.unbonding_blocks > MAX_UNBONDING_BLOCKS {
        return Err((
            "governance.unbonding_blocks",
            format!(
                "must be between the voting period ({}) and {MAX_UNBONDING_BLOCKS}, so stake that voted stays locked until the vote ends",
                g.voting_period_blocks
            ),
        ));
    }
    for (name, bps) in [
        (
            "governance.slash_equivocation_bps",
            g.slash_equivocation_bps,
        ),
        ("governance.slash_storage_bps", g.slash_storage_bps),
        ("governance.slash_compute_bps", g.slash_compute_bps),
        ("governance.slash_fraud_bps", g.slash_fraud_bps),
    ] {
        if bps > 10_000 {
            return Err((name, "is a share in basis points: 0 to 10000".into()));
        }
    }
    if g.downtime_jail_blocks == 0 {
        return Err((
            "governance.downtime_jail_blocks",
            "must be at least 1".into(),
        ));
    }
    if g.jail_blocks > MAX_UNBONDING_BLOCKS {
        return Err((
            "governance.jail_blocks",
            format!("must be at most {MAX_UNBONDING_BLOCKS}"),
        ));
    }
    if g.max_validators > MAX_VALIDATORS {
        return Err((
            "governance.max_validators",
            format!("must be 0 (no election) to {MAX_VALIDATORS}"),
        ));
    }
    let min_validator_bond =
        Amount::parse(&g.min_validator_bond, network.decimals).map_err(|e| {
            (
                "governance.min_validator_bond",
                format!("{e}: whole tokens, e.g. \"10000\""),
            )
        })?;
    if g.max_validators > 0 && min_validator_bond.is_zero() {
        return Err((
            "governance.min_validator_bond",
            "must be more than 0 when max_validators elects the set, or a validator would risk no stake of its own"
                .into(),
        ));
    }
    if g.validator_reward_bps > 0 {
        let Some(treasury_bps) = network.treasury_bps else {
            return Err((
                "governance.validator_reward_bps",
                "needs an [economics] section: the validators' share is a share of its emission; set it to 0 or add [economics]"
                    .into(),
            ));
        };
        if u64::from(g.validator_reward_bps) + u64::from(treasury_bps) > 10_000 {
            return Err((
                "governance.validator_reward_bps",
                format!(
                    "plus economics.treasury_bps ({treasury_bps}) is more than 10000 basis points of the emission; lower one of them"
                ),
            ));
        }
    }
    Ok(GovernanceParams {
        min_proposal_stake,
        max_open_proposals: g.max_open_proposals,
        voting_period_blocks: g.voting_period_blocks,
        quorum_bps: g.quorum_bps,
        threshold_bps: g.threshold_bps,
        unbonding_blocks: g.unbonding_blocks,
        slash_equivocation_bps: g.slash_equivocation_bps,
        slash_storage_bps: g.slash_storage_bps,
        slash_compute_bps: g.slash_compute_bps,
        slash_fraud_bps: g.slash_fraud_bps,
        slash_to: g.slash_to,
        downtime_jail_blocks: g.downtime_jail_blocks,
        jail_blocks: g.jail_blocks,
        max_validators: g.max_validators,
        min_validator_bond,
        validator_reward_bps: g.validator_reward_bps,
        emergency_key: g.emergency_key,
    })
}
