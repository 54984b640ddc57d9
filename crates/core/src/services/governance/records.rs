//! What governance keeps: each account's stake and unbondings, who backs which validator,
//! proposals with their tallies and votes, slashes and jails; the layout of their keys and a
//! read view over any [`StateRead`].

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::{Decode, DecodeError, Encode, Reader, struct_codec};
use crate::crypto::{Address, Hash};
use crate::module::{Module, address_suffix, module_key};
use crate::state::StateRead;

use super::Governance;
use super::actions::{Choice, ProposalKind};

/// Most unbondings one account may have in flight.
pub const MAX_UNBONDINGS: u32 = 16;

const STAKE: u8 = 0;
const BACKING: u8 = 1;
const BACKED: u8 = 2;
const TOTALS: u8 = 3;
const PROPOSAL: u8 = 4;
const ENDS: u8 = 5;
const QUEUE: u8 = 6;
const VOTE: u8 = 7;
const DEVICE_VOTE: u8 = 8;
const OPEN_BY: u8 = 9;
const SLASH: u8 = 10;
const JAIL: u8 = 11;
const CANDIDATES: u8 = 12;
const SLASH_LOG: u8 = 13;
const CANDIDACY: u8 = 14;
const ELECTION: u8 = 15;

/// Stake on its way out: slashable, not voting, withdrawable from `release_height`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unbonding {
    pub amount: Amount,
    pub release_height: u64,
}
struct_codec!(Unbonding {
    amount: Amount,
    release_height: u64,
});

/// An account's stake.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stake {
    /// Bonded base units: voting weight and the backing of `validator`.
    pub amount: Amount,
    /// The validator it backs; `None`: the account itself.
    pub validator: Option<Address>,
    /// Height of the last lock: the stake votes only on proposals opened after it.
    pub since_height: u64,
    pub unbonding: Vec<Unbonding>,
}

impl Encode for Stake {
    fn encode(&self, out: &mut Vec<u8>) {
        self.amount.encode(out);
        self.validator.encode(out);
        self.since_height.encode(out);
        self.unbonding.encode(out);
    }
}

impl Decode for Stake {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let amount = Decode::decode(r)?;
        let validator = Decode::decode(r)?;
        let since_height = Decode::decode(r)?;
        let n = r.length("unbondings", MAX_UNBONDINGS as usize)?;
        let mut unbonding = Vec::with_capacity(n);
        for _ in 0..n {
            unbonding.push(Unbonding::decode(r)?);
        }
        Ok(Stake {
            amount,
            validator,
            since_height,
            unbonding,
        })
    }
}

impl Stake {
    /// The key its stake backs: the chosen validator, or the account itself.
    pub fn backs(&self, owner: &Address) -> Address {
        self.validator.unwrap_or(*owner)
    }

    /// Bonded plus unbonding: what slashing can reach.
    pub fn slashable(&self) -> Amount {
        self.unbonding.iter().fold(self.amount, |a, u| {
            a.checked_add(u.amount).expect("<= supply")
        })
    }
}

/// Stake across all accounts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Bonded (voting) base units.
    pub bonded: Amount,
    /// Unbonding base units.
    pub unbonding: Amount,
    /// Ever slashed, base units.
    pub slashed: Amount,
}
struct_codec!(Totals {
    bonded: Amount,
    unbonding: Amount,
    slashed: Amount,
});

/// Where a proposal is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    /// Open for votes until `voting_end_height` (inclusive).
    Voting,
    /// Passed; applies at the start of `effective_epoch`.
    Passed { effective_epoch: u64 },
    /// Did not pass: a reason code and a sentence.
    Rejected { code: String, why: String },
    /// Took effect at the first block of `epoch`.
    Applied { epoch: u64, height: u64 },
    /// Passed, but could not be applied at the boundary (e.g. the treasury was short).
    Failed { code: String, why: String },
}

impl Encode for Status {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Status::Voting => out.push(0),
            Status::Passed { effective_epoch } => {
                out.push(1);
                effective_epoch.encode(out);
            }
            Status::Rejected { code, why } => {
                out.push(2);
                code.encode(out);
                why.encode(out);
            }
            Status::Applied { epoch, height } => {
                out.push(3);
                epoch.encode(out);
                height.encode(out);
            }
            Status::Failed { code, why } => {
                out.push(4);
                code.encode(out);
                why.encode(out);
            }
        }
    }
}

impl Decode for Status {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match u8::decode(r)? {
            0 => Status::Voting,
            1 => Status::Passed {
                effective_epoch: Decode::decode(r)?,
            },
            2 => Status::Rejected {
                code: Decode::decode(r)?,
                why: Decode::decode(r)?,
            },
            3 => Status::Applied {
                epoch: Decode::decode(r)?,
                height: Decode::decode(r)?,
            },
            4 => Status::Failed {
                code: Decode::decode(r)?,
                why: Decode::decode(r)?,
            },
            tag => {
                return Err(DecodeError::InvalidTag {
                    what: "proposal status",
                    tag,
                });
            }
        })
    }
}

/// A proposal with its tally.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: u64,
    pub proposer: Address,
    pub title: String,
    pub change: ProposalKind,
    /// The checked, typed parameters of a parameter change, encoded (empty for other kinds).
    #[serde(skip)]
    pub encoded: Vec<u8>,
    /// Enacted by the genesis' emergency key, without a vote.
    pub emergency: bool,
    pub created_height: u64,
    pub voting_end_height: u64,
    /// The weight that could vote when it opened (bonded stake plus device bonds): the quorum's
    /// base.
    pub eligible: Amount,
    pub quorum_bps: u32,
    pub threshold_bps: u32,
    pub yes: Amount,
    pub no: Amount,
    pub abstain: Amount,
    pub voters: u32,
    pub status: Status,
}
struct_codec!(Proposal {
    id: u64,
    proposer: Address,
    title: String,
    change: ProposalKind,
    encoded: Vec<u8>,
    emergency: bool,
    created_height: u64,
    voting_end_height: u64,
    eligible: Amount,
    quorum_bps: u32,
    threshold_bps: u32,
    yes: Amount,
    no: Amount,
    abstain: Amount,
    voters: u32,
    status: Status,
});

/// One account's vote on one proposal, with the weight it carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteRecord {
    pub choice: Choice,
    pub weight: Amount,
}
struct_codec!(VoteRecord {
    choice: Choice,
    weight: Amount,
});

/// What a slash was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlashRule {
    /// A validator signed two blocks at one height (evidence from consensus).
    Equivocation,
    /// A storage provider's deal was terminated for failed proofs.
    StorageDeal,
    /// A compute provider's result was proven wrong.
    ComputeResult,
    /// A device was removed for fraud by a denylist proposal.
    DeviceFraud,
}

impl Encode for SlashRule {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
}

impl Decode for SlashRule {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match u8::decode(r)? {
            0 => SlashRule::Equivocation,
            1 => SlashRule::StorageDeal,
            2 => SlashRule::ComputeResult,
            3 => SlashRule::DeviceFraud,
            tag => {
                return Err(DecodeError::InvalidTag {
                    what: "slash rule",
                    tag,
                });
            }
        })
    }
}

/// A slash that happened: whose stake, under which rule, for which evidence, how much.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlashRecord {
    pub offender: Address,
    pub rule: SlashRule,
    pub evidence: Hash,
    pub bps: u32,
    pub amount: Amount,
    /// Burned, or sent to the treasury.
    pub burned: bool,
    pub height: u64,
}
impl SlashRecord {
    /// Why the stake was slashed and where the tokens went, in a sentence (the API's
    /// `explanation`); `decimals` of the network's token.
    pub fn explain(&self, decimals: u8) -> String {
        let why = match self.rule {
            SlashRule::Equivocation => {
                "the validator it backs signed two different blocks at one height (equivocation evidence from consensus)"
            }
            SlashRule::StorageDeal => {
                "its storage deal was terminated for failed proofs: the provider missed more proving periods in a row than the deal allows"
            }
            SlashRule::ComputeResult => {
                "its compute result was proven wrong: the verifiers' replicas of the task agreed on another output, or it differed from the known answer of a canary task"
            }
            SlashRule::DeviceFraud => {
                "its device was removed for fraud by a passed denylist proposal"
            }
        };
        let rule = match self.rule {
            SlashRule::Equivocation => "slash_equivocation_bps",
            SlashRule::StorageDeal => "slash_storage_bps",
            SlashRule::ComputeResult => "slash_compute_bps",
            SlashRule::DeviceFraud => "slash_fraud_bps",
        };
        format!(
            "{} tokens of {}'s stake slashed at height {} ({} = {} bps): {why}; evidence {}; the tokens were {}",
            self.amount.display(decimals),
            self.offender,
            self.height,
            rule,
            self.bps,
            self.evidence,
            if self.burned {
                "burned"
            } else {
                "sent to the treasury"
            }
        )
    }
}

struct_codec!(SlashRecord {
    offender: Address,
    rule: SlashRule,
    evidence: Hash,
    bps: u32,
    amount: Amount,
    burned: bool,
    height: u64,
});

/// A jailed validator: left out of the set from the next boundary until it unjails.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jail {
    /// First height at which it may ask to come back.
    pub until_height: u64,
    /// `downtime` (never slashed) or `equivocation`.
    pub reason: String,
}
struct_codec!(Jail {
    until_height: u64,
    reason: String,
});

/// An account that declared itself a validator candidate: its address is the consensus key its
/// node signs blocks and votes with (the declaration, signed by it, proves it holds the key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidacy {
    /// Height of the declaration.
    pub since_height: u64,
}
struct_codec!(Candidacy { since_height: u64 });

/// What an epoch boundary's election did: how many candidates qualified, and either the set it
/// chose or why it kept the set before it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Election {
    pub epoch: u64,
    pub height: u64,
    /// Candidates that qualified (declared, not jailed, self-bond at least the minimum).
    pub qualified: u32,
    /// `max_validators` at the boundary.
    pub seats: u32,
    /// The set it chose (empty when it kept the set before).
    pub elected: Vec<Address>,
    /// Why the set before was kept (a reason code and a sentence), if it was.
    pub kept: Option<(String, String)>,
}

impl Encode for Election {
    fn encode(&self, out: &mut Vec<u8>) {
        self.epoch.encode(out);
        self.height.encode(out);
        self.qualified.encode(out);
        self.seats.encode(out);
        self.elected.encode(out);
        self.kept.is_some().encode(out);
        if let Some((code, why)) = &self.kept {
            code.encode(out);
            why.encode(out);
        }
    }
}

impl Decode for Election {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let epoch = Decode::decode(r)?;
        let height = Decode::decode(r)?;
        let qualified = Decode::decode(r)?;
        let seats = Decode::decode(r)?;
        let n = r.length("elected", super::actions::MAX_VALIDATORS as usize)?;
        let mut elected = Vec::with_capacity(n);
        for _ in 0..n {
            elected.push(Address::decode(r)?);
        }
        let kept = if bool::decode(r)? {
            Some((Decode::decode(r)?, Decode::decode(r)?))
        } else {
            None
        };
        Ok(Election {
            epoch,
            height,
            qualified,
            seats,
            elected,
            kept,
        })
    }
}

/// The account every bonded and unbonding token is held in (no key signs for it).
pub fn stake_escrow() -> Address {
    Address(Hash::tagged("depin/governance/stake-escrow/v1", &[]).0)
}

pub fn stake_key(owner: &Address) -> Vec<u8> {
    module_key(Governance::ID, STAKE, &[&owner.0])
}
/// Bonded base units backing `validator`.
pub fn backing_key(validator: &Address) -> Vec<u8> {
    module_key(Governance::ID, BACKING, &[&validator.0])
}
/// Index: `staker` backs `validator`.
pub fn backed_key(validator: &Address, staker: &Address) -> Vec<u8> {
    module_key(Governance::ID, BACKED, &[&validator.0, &staker.0])
}
pub fn backed_prefix(validator: &Address) -> Vec<u8> {
    module_key(Governance::ID, BACKED, &[&validator.0])
}
pub fn totals_key() -> Vec<u8> {
    module_key(Governance::ID, TOTALS, &[])
}
/// The id the next proposal gets.
pub fn next_id_key() -> Vec<u8> {
    module_key(Governance::ID, TOTALS, &[b"next"])
}
pub fn proposal_key(id: u64) -> Vec<u8> {
    module_key(Governance::ID, PROPOSAL, &[&id.to_be_bytes()])
}
pub fn proposal_prefix() -> Vec<u8> {
    module_key(Governance::ID, PROPOSAL, &[])
}
/// Index: proposal `id` closes its vote at `height`.
pub fn ends_key(height: u64, id: u64) -> Vec<u8> {
    module_key(
        Governance::ID,
        ENDS,
        &[&height.to_be_bytes(), &id.to_be_bytes()],
    )
}
pub fn ends_prefix(height: u64) -> Vec<u8> {
    module_key(Governance::ID, ENDS, &[&height.to_be_bytes()])
}
/// Index: proposal `id` passed and waits for its boundary.
pub fn queue_key(id: u64) -> Vec<u8> {
    module_key(Governance::ID, QUEUE, &[&id.to_be_bytes()])
}
pub fn queue_prefix() -> Vec<u8> {
    module_key(Governance::ID, QUEUE, &[])
}
pub fn vote_key(id: u64, voter: &Address) -> Vec<u8> {
    module_key(Governance::ID, VOTE, &[&id.to_be_bytes(), &voter.0])
}
pub fn vote_prefix(id: u64) -> Vec<u8> {
    module_key(Governance::ID, VOTE, &[&id.to_be_bytes()])
}
/// Which voter a device's bond was counted for on proposal `id` (a device counts once, even
/// when it changes owner during the vote).
pub fn device_vote_key(id: u64, device: &Address) -> Vec<u8> {
    module_key(Governance::ID, DEVICE_VOTE, &[&id.to_be_bytes(), &device.0])
}
/// Index: `proposer` has proposal `id` in voting.
pub fn open_by_key(proposer: &Address, id: u64) -> Vec<u8> {
    module_key(Governance::ID, OPEN_BY, &[&proposer.0, &id.to_be_bytes()])
}
pub fn open_by_prefix(proposer: &Address) -> Vec<u8> {
    module_key(Governance::ID, OPEN_BY, &[&proposer.0])
}
/// A slash, by its evidence (evidence slashes once).
pub fn slash_key(evidence: &Hash) -> Vec<u8> {
    module_key(Governance::ID, SLASH, &[&evidence.0])
}
/// Slashes in order: (height, evidence).
pub fn slash_log_key(height: u64, evidence: &Hash) -> Vec<u8> {
    module_key(
        Governance::ID,
        SLASH_LOG,
        &[&height.to_be_bytes(), &evidence.0],
    )
}
pub fn slash_log_prefix() -> Vec<u8> {
    module_key(Governance::ID, SLASH_LOG, &[])
}
pub fn jail_key(validator: &Address) -> Vec<u8> {
    module_key(Governance::ID, JAIL, &[&validator.0])
}
pub fn jail_prefix() -> Vec<u8> {
    module_key(Governance::ID, JAIL, &[])
}
/// The governed validator set (membership; jailed members sit out).
pub fn candidates_key() -> Vec<u8> {
    module_key(Governance::ID, CANDIDATES, &[])
}

/// `candidate` declared itself a validator candidate.
pub fn candidacy_key(candidate: &Address) -> Vec<u8> {
    module_key(Governance::ID, CANDIDACY, &[&candidate.0])
}
pub fn candidacy_prefix() -> Vec<u8> {
    module_key(Governance::ID, CANDIDACY, &[])
}
/// How many candidacies are declared.
pub fn candidacy_count_key() -> Vec<u8> {
    module_key(Governance::ID, TOTALS, &[b"candidacies"])
}
/// The election at the start of `epoch`.
pub fn election_key(epoch: u64) -> Vec<u8> {
    module_key(Governance::ID, ELECTION, &[&epoch.to_be_bytes()])
}
/// The latest election's epoch.
pub fn last_election_key() -> Vec<u8> {
    module_key(Governance::ID, TOTALS, &[b"election"])
}

/// Read access to governance's records, in the executing state or a store snapshot.
pub trait GovernanceView {
    fn stake_of(&self, owner: &Address) -> Stake;
    fn backing_of(&self, validator: &Address) -> Amount;
    fn stake_totals(&self) -> Totals;
    fn proposal(&self, id: u64) -> Option<Proposal>;
    /// Proposals from the newest, at most `limit`.
    fn proposals(&self, limit: usize) -> Vec<Proposal>;
    fn votes_on(&self, id: u64, limit: usize) -> Vec<(Address, VoteRecord)>;
    fn jail_of(&self, validator: &Address) -> Option<Jail>;
    /// Slashes from the oldest, at most `limit`.
    fn slashes(&self, limit: usize) -> Vec<SlashRecord>;
    fn candidates(&self) -> Option<Vec<Address>>;
    fn candidacy_of(&self, who: &Address) -> Option<Candidacy>;
    /// Declared candidates in address order, at most `limit`.
    fn candidacies(&self, limit: usize) -> Vec<(Address, Candidacy)>;
    /// The latest boundary's election, if the network elects its set.
    fn last_election(&self) -> Option<Election>;
}

impl<R: StateRead> GovernanceView for R {
    fn stake_of(&self, owner: &Address) -> Stake {
        self.get(&stake_key(owner)).unwrap_or_default()
    }

    fn backing_of(&self, validator: &Address) -> Amount {
        self.get(&backing_key(validator)).unwrap_or_default()
    }

    fn stake_totals(&self) -> Totals {
        self.get(&totals_key()).unwrap_or_default()
    }

    fn proposal(&self, id: u64) -> Option<Proposal> {
        self.get(&proposal_key(id))
    }

    fn proposals(&self, limit: usize) -> Vec<Proposal> {
        let next: u64 = self.get(&next_id_key()).unwrap_or(0);
        let from = next.saturating_sub(limit as u64);
        let mut out: Vec<Proposal> = self
            .scan(&proposal_key(from), &proposal_key(next), limit)
            .iter()
            .map(|(_, v)| Proposal::from_bytes(v).expect("written by the ledger"))
            .collect();
        out.reverse();
        out
    }

    fn votes_on(&self, id: u64, limit: usize) -> Vec<(Address, VoteRecord)> {
        self.scan_prefix(&vote_prefix(id), limit)
            .iter()
            .map(|(k, v)| {
                (
                    address_suffix(k),
                    VoteRecord::from_bytes(v).expect("written by the ledger"),
                )
            })
            .collect()
    }

    fn jail_of(&self, validator: &Address) -> Option<Jail> {
        self.get(&jail_key(validator))
    }

    fn slashes(&self, limit: usize) -> Vec<SlashRecord> {
        self.scan_prefix(&slash_log_prefix(), limit)
            .iter()
            .map(|(_, v)| SlashRecord::from_bytes(v).expect("written by the ledger"))
            .collect()
    }

    fn candidates(&self) -> Option<Vec<Address>> {
        self.get(&candidates_key())
    }

    fn candidacy_of(&self, who: &Address) -> Option<Candidacy> {
        self.get(&candidacy_key(who))
    }

    fn candidacies(&self, limit: usize) -> Vec<(Address, Candidacy)> {
        self.scan_prefix(&candidacy_prefix(), limit)
            .iter()
            .map(|(k, v)| {
                (
                    address_suffix(k),
                    Candidacy::from_bytes(v).expect("written by the ledger"),
                )
            })
            .collect()
    }

    fn last_election(&self) -> Option<Election> {
        let epoch: u64 = self.get(&last_election_key())?;
        self.get(&election_key(epoch))
    }
}
