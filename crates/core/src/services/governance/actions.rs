//! Governance's actions: staking (lock, delegate, unbond, withdraw), proposals and votes, a
//! validator candidacy, a jailed validator's request to come back, and a devnet's emergency
//! enactment.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::{Decode, DecodeError, Encode, Reader, struct_codec};
use crate::crypto::Address;
use crate::module::actions;

/// Longest proposal title, bytes.
pub const MAX_TITLE_BYTES: u32 = 200;
/// Longest genesis section a proposal carries (JSON), bytes.
pub const MAX_SECTION_BYTES: u32 = 16 * 1024;
/// Most validators a validator-set proposal names.
pub const MAX_VALIDATORS: u32 = 100;

/// What a proposal changes. Parameter changes carry the module's genesis section as JSON; it is
/// parsed and checked by that module's own [`crate::module::Module::params`] when proposed, and
/// the typed parameters are stored encoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProposalKind {
    /// New parameters for a module, or a module switched on (when the network does not run it
    /// yet; its initial state is written at the boundary).
    ModuleParams { module: String, section: String },
    /// A new `[economics]` section (emission, treasury share, pool weights).
    Economics { section: String },
    /// Add a key to the demand service's oracle set, or remove one.
    OracleSet { oracle: Address, authorised: bool },
    /// Put a device on the denylist or take it off; `fraud` also retires it, burns its bond and
    /// slashes its owner's stake by the fraud rule.
    Denylist {
        device: Address,
        denied: bool,
        #[serde(default)]
        fraud: bool,
    },
    /// Put a pair of devices on the edge denylist or take it off.
    PairDenylist {
        a: Address,
        b: Address,
        denied: bool,
    },
    /// Pay `amount` base units from the treasury to `to`.
    TreasurySpend { to: Address, amount: Amount },
    /// The keys that may propose and sign blocks (their power is their backing stake).
    ValidatorSet { validators: Vec<Address> },
}

impl ProposalKind {
    /// Stable name of the kind.
    pub fn name(&self) -> &'static str {
        match self {
            ProposalKind::ModuleParams { .. } => "module_params",
            ProposalKind::Economics { .. } => "economics",
            ProposalKind::OracleSet { .. } => "oracle_set",
            ProposalKind::Denylist { .. } => "denylist",
            ProposalKind::PairDenylist { .. } => "pair_denylist",
            ProposalKind::TreasurySpend { .. } => "treasury_spend",
            ProposalKind::ValidatorSet { .. } => "validator_set",
        }
    }
}

impl Encode for ProposalKind {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ProposalKind::ModuleParams { module, section } => {
                out.push(0);
                module.encode(out);
                section.encode(out);
            }
            ProposalKind::Economics { section } => {
                out.push(1);
                section.encode(out);
            }
            ProposalKind::OracleSet { oracle, authorised } => {
                out.push(2);
                oracle.encode(out);
                authorised.encode(out);
            }
            ProposalKind::Denylist {
                device,
                denied,
                fraud,
            } => {
                out.push(3);
                device.encode(out);
                denied.encode(out);
                fraud.encode(out);
            }
            ProposalKind::PairDenylist { a, b, denied } => {
                out.push(4);
                a.encode(out);
                b.encode(out);
                denied.encode(out);
            }
            ProposalKind::TreasurySpend { to, amount } => {
                out.push(5);
                to.encode(out);
                amount.encode(out);
            }
            ProposalKind::ValidatorSet { validators } => {
                out.push(6);
                validators.encode(out);
            }
        }
    }
}

impl Decode for ProposalKind {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match u8::decode(r)? {
            0 => ProposalKind::ModuleParams {
                module: Decode::decode(r)?,
                section: Decode::decode(r)?,
            },
            1 => ProposalKind::Economics {
                section: Decode::decode(r)?,
            },
            2 => ProposalKind::OracleSet {
                oracle: Decode::decode(r)?,
                authorised: Decode::decode(r)?,
            },
            3 => ProposalKind::Denylist {
                device: Decode::decode(r)?,
                denied: Decode::decode(r)?,
                fraud: Decode::decode(r)?,
            },
            4 => ProposalKind::PairDenylist {
                a: Decode::decode(r)?,
                b: Decode::decode(r)?,
                denied: Decode::decode(r)?,
            },
            5 => ProposalKind::TreasurySpend {
                to: Decode::decode(r)?,
                amount: Decode::decode(r)?,
            },
            6 => {
                let n = r.length("validators", MAX_VALIDATORS as usize)?;
                let mut validators = Vec::with_capacity(n);
                for _ in 0..n {
                    validators.push(Address::decode(r)?);
                }
                ProposalKind::ValidatorSet { validators }
            }
            tag => {
                return Err(DecodeError::InvalidTag {
                    what: "proposal kind",
                    tag,
                });
            }
        })
    }
}

/// A vote's choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    Yes,
    No,
    /// Counts toward the quorum only.
    Abstain,
}

impl Encode for Choice {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
}

impl Decode for Choice {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match u8::decode(r)? {
            0 => Ok(Choice::Yes),
            1 => Ok(Choice::No),
            2 => Ok(Choice::Abstain),
            tag => Err(DecodeError::InvalidTag {
                what: "vote choice",
                tag,
            }),
        }
    }
}

/// Lock `amount` base units of the signer's balance as stake (it votes on proposals opened
/// after this block).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockStake {
    pub amount: Amount,
}

/// Back a validator with the signer's stake (`None`: the signer itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelegateStake {
    #[serde(default)]
    pub validator: Option<Address>,
}

/// Start unbonding `amount` base units: withdrawable after the unbonding period, slashable
/// until then, and no longer voting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnbondStake {
    pub amount: Amount,
}

/// Move every released unbonding back to the signer's balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawStake {}

/// Open a proposal (the signer needs the minimum voting weight).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Propose {
    pub title: String,
    pub change: ProposalKind,
}

/// Vote on an open proposal (a second vote replaces the first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vote {
    pub proposal: u64,
    pub choice: Choice,
}

/// A jailed validator asks to come back (from the next epoch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unjail {}

/// The signer declares itself a validator candidate (`candidate: true`; its address is the
/// consensus key its node runs with) or withdraws the declaration (`false`). Where the network
/// elects its set (`max_validators > 0`), candidates are ranked by backing at each epoch
/// boundary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    pub candidate: bool,
}

/// A validator or candidate sets the commission it keeps of its pay, basis points (the rest is
/// shared with the stake backing it). A cut applies from this epoch's pay, a raise from the
/// epoch after next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetCommission {
    pub commission_bps: u32,
}

/// A candidate or validator registers where its p2p listens (`host:port`; empty removes it),
/// so the other validators can reach it once it is elected without a `peers.toml` entry. Its
/// p2p identity is its key, which signs this.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct P2pEndpoint {
    pub p2p: String,
}

/// The genesis' emergency key enacts a change without a vote, at the next epoch boundary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyEnact {
    pub title: String,
    pub change: ProposalKind,
}

struct_codec!(LockStake { amount: Amount });
struct_codec!(DelegateStake {
    validator: Option<Address>,
});
struct_codec!(UnbondStake { amount: Amount });
struct_codec!(Propose {
    title: String,
    change: ProposalKind,
});
struct_codec!(Vote {
    proposal: u64,
    choice: Choice,
});
struct_codec!(Candidate { candidate: bool });
struct_codec!(SetCommission {
    commission_bps: u32
});
struct_codec!(P2pEndpoint { p2p: String });
struct_codec!(EmergencyEnact {
    title: String,
    change: ProposalKind,
});

macro_rules! empty_codec {
    ($t:ident) => {
        impl Encode for $t {
            fn encode(&self, _out: &mut Vec<u8>) {}
        }
        impl Decode for $t {
            fn decode(_r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok($t {})
            }
        }
    };
}
empty_codec!(WithdrawStake);
empty_codec!(Unjail);

actions! {
    /// Governance's actions.
    GovernanceAction, "governance action";
    0 => LockStake(LockStake),
    1 => DelegateStake(DelegateStake),
    2 => UnbondStake(UnbondStake),
    3 => WithdrawStake(WithdrawStake),
    4 => Propose(Propose),
    5 => Vote(Vote),
    6 => Unjail(Unjail),
    7 => EmergencyEnact(EmergencyEnact),
    8 => ReportEquivocation(super::evidence::ReportEquivocation),
    9 => Candidate(Candidate),
    10 => P2pEndpoint(P2pEndpoint),
    11 => SetCommission(SetCommission),
}
