//! Why a staking, proposal or vote action was refused.

use std::fmt;

use crate::amount::Amount;
use crate::crypto::{Address, Hash};
use crate::module::reasons;

reasons! {
    /// A refused governance action.
    GovernanceRejection, "governance rejection";
    0 => ZeroStake {} = "zero_stake",
    1 => StakeShort { staked: Amount, asked: Amount } = "stake_short",
    2 => NothingToWithdraw { next_release_height: u64 } = "nothing_to_withdraw",
    3 => TooManyUnbondings { max: u32 } = "too_many_unbondings",
    4 => NotAValidator { validator: Address } = "not_a_validator",
    5 => ProposerStakeShort { weight: Amount, needed: Amount } = "proposer_stake_short",
    6 => TooManyOpenProposals { max: u32 } = "too_many_open_proposals",
    7 => BadChange { field: String, why: String } = "bad_change",
    8 => UnknownProposal { id: u64 } = "unknown_proposal",
    9 => VotingClosed { id: u64, end_height: u64 } = "voting_closed",
    10 => NoVotingWeight { since_height: u64 } = "no_voting_weight",
    11 => NotJailed {} = "not_jailed",
    12 => StillJailed { until_height: u64 } = "still_jailed",
    13 => NotEmergencyKey {} = "not_emergency_key",
    14 => FieldTooLong { field: String, max: u32 } = "field_too_long",
    15 => NotConflicting { why: String } = "evidence_not_conflicting",
    16 => BadVoteSignature { vote: String } = "evidence_bad_signature",
    17 => EvidenceRecorded { evidence: Hash } = "evidence_recorded",
    18 => OffenderNotAValidator { validator: Address } = "evidence_not_a_validator",
    19 => AlreadyCandidate {} = "already_candidate",
    20 => NotACandidate {} = "not_a_candidate",
    21 => SelfBondShort { bonded: Amount, needed: Amount } = "self_bond_short",
    22 => TooManyCandidates { max: u32 } = "too_many_candidates",
    23 => BadP2pEndpoint { why: String } = "bad_p2p_endpoint",
    24 => NotAValidatorOrCandidate {} = "not_a_validator_or_candidate",
    25 => CommissionTooHigh { bps: u32 } = "commission_too_high",
}

impl fmt::Display for GovernanceRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use GovernanceRejection::*;
        match self {
            ZeroStake {} => write!(
                f,
                "the amount is zero; lock, unbond or spend a positive amount"
            ),
            StakeShort { staked, asked } => write!(
                f,
                "the account has {staked} base units bonded, less than the {asked} asked; unbond at most what is bonded"
            ),
            NothingToWithdraw {
                next_release_height,
            } => {
                if *next_release_height == 0 {
                    write!(
                        f,
                        "nothing is unbonding; unbond stake first, then withdraw it after the unbonding period"
                    )
                } else {
                    write!(
                        f,
                        "no unbonding stake is released yet; the next release is at height {next_release_height}"
                    )
                }
            }
            TooManyUnbondings { max } => write!(
                f,
                "the account already has {max} unbondings in flight; withdraw the released ones or wait for them"
            ),
            NotAValidator { validator } => write!(
                f,
                "{validator} is neither a validator nor a validator candidate of this network; delegate to a key of the validator set, a declared candidate, or to yourself"
            ),
            ProposerStakeShort { weight, needed } => write!(
                f,
                "the proposer's voting weight is {weight} base units, less than the {needed} a proposal needs; lock more stake first"
            ),
            TooManyOpenProposals { max } => write!(
                f,
                "the proposer already has {max} proposals in voting; wait until one of them closes"
            ),
            BadChange { field, why } => write!(f, "the proposed change is invalid: {field} {why}"),
            UnknownProposal { id } => write!(
                f,
                "there is no proposal {id}; list them with `depin gov list`"
            ),
            VotingClosed { id, end_height } => write!(
                f,
                "voting on proposal {id} closed at height {end_height}; its outcome is final"
            ),
            NoVotingWeight { since_height } => write!(
                f,
                "the voter has no stake bonded before the proposal opened (at height {since_height}) and no device bonded before it: stake locked after a proposal opens does not vote on it"
            ),
            NotJailed {} => write!(f, "the validator is not jailed; there is nothing to undo"),
            StillJailed { until_height } => write!(
                f,
                "the validator is jailed until height {until_height}; ask again from that height"
            ),
            NotEmergencyKey {} => write!(
                f,
                "only the emergency key the genesis names may enact a change without a vote; make a proposal instead"
            ),
            FieldTooLong { field, max } => {
                write!(f, "{field} is longer than {max} bytes; shorten it")
            }
            NotConflicting { why } => write!(
                f,
                "the two votes are not an equivocation: {why}; report two votes of one round that cannot both be honest"
            ),
            BadVoteSignature { vote } => write!(
                f,
                "the {vote} vote's signature does not verify for the validator over the consensus engine's signed bytes; report the votes exactly as the engine received them"
            ),
            EvidenceRecorded { evidence } => write!(
                f,
                "equivocation {evidence} of this validator in this round is already recorded and slashed; nothing more to do"
            ),
            AlreadyCandidate {} => write!(
                f,
                "the account is already a validator candidate; see `depin stake validators`"
            ),
            NotACandidate {} => write!(
                f,
                "the account is not a validator candidate; there is no candidacy to withdraw"
            ),
            SelfBondShort { bonded, needed } => write!(
                f,
                "the account has {bonded} base units bonded to itself, less than the {needed} a candidate needs (min_validator_bond, and at least 1); lock more stake without delegating it first"
            ),
            TooManyCandidates { max } => write!(
                f,
                "{max} candidates are already declared, the most an election ranks; back one of them with `depin stake delegate`, or wait until one withdraws"
            ),
            CommissionTooHigh { bps } => write!(
                f,
                "a commission of {bps} basis points is more than the whole pay (10000); set 0 to 10000"
            ),
            BadP2pEndpoint { why } => write!(
                f,
                "the p2p endpoint is not host:port: {why}; give the address and port this validator's p2p listens on"
            ),
            NotAValidatorOrCandidate {} => write!(
                f,
                "only a validator candidate or a member of the validator set registers a p2p endpoint or sets a commission; declare candidacy first (`depin stake candidate`), or, if a set change will seat this key, send it again once the set has taken office"
            ),
            OffenderNotAValidator { validator } => write!(
                f,
                "{validator} is not in the current validator set; evidence is taken while the offender is a validator"
            ),
        }
    }
}
