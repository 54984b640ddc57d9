//! Equivocation evidence from the BFT driver, recorded on chain: two votes one validator signed
//! for the same simplex round that cannot both be honest, checked here byte for byte as the
//! engine signed them, then the validator's backing stake is slashed and it is jailed (once per
//! validator, epoch and view).
//!
//! The signed bytes are commonware simplex's (=2026.10.0) ed25519 vote messages: the namespace
//! `CONSENSUS_NAMESPACE` plus `_NOTARIZE`, `_NULLIFY` or `_FINALIZE`, prefixed by its length as
//! a varint, then the subject: for a notarize or finalize vote the proposal (epoch, view and
//! parent view as varints, then the 32-byte payload), for a nullify vote the round (epoch and
//! view as varints). `depin-bft` tests that these bytes verify the engine's own signatures.

use serde::{Deserialize, Serialize};

use crate::codec::{Decode, DecodeError, Encode, Reader, struct_codec};
use crate::crypto::{Address, Hash, Signature, verify};
use crate::rejection::Rejection;
use crate::state::{State, StateRead};

use super::records::slash_key;
use super::reject::GovernanceRejection as R;
use super::stake::slash_validator;

/// The namespace every consensus signature is domain-separated by (so a vote can never be
/// replayed as a transaction signature, or the reverse, although both use a validator's key).
pub const CONSENSUS_NAMESPACE: &[u8] = b"depin/simplex/v1";

/// Which vote a validator signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoteKind {
    /// For a proposal (block) in a view.
    Notarize,
    /// To skip the view.
    Nullify,
    /// To finalize a notarized proposal.
    Finalize,
}

impl Encode for VoteKind {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
}

impl Decode for VoteKind {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match u8::decode(r)? {
            0 => Ok(VoteKind::Notarize),
            1 => Ok(VoteKind::Nullify),
            2 => Ok(VoteKind::Finalize),
            tag => Err(DecodeError::InvalidTag {
                what: "vote kind",
                tag,
            }),
        }
    }
}

/// One vote as its signer signed it. A nullify vote names no proposal: its `parent_view` is 0
/// and its `payload` all zeros.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedVote {
    pub kind: VoteKind,
    pub parent_view: u64,
    /// The proposal's payload: a block hash.
    pub payload: Hash,
    pub signature: Signature,
}

struct_codec!(SignedVote {
    kind: VoteKind,
    parent_view: u64,
    payload: Hash,
    signature: Signature,
});

/// Report `validator` for signing `first` and `second` in round (`epoch`, `view`): two
/// notarize or two finalize votes for different proposals, or a nullify and a finalize vote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportEquivocation {
    pub validator: Address,
    pub epoch: u64,
    pub view: u64,
    /// Boxed: two signatures would make every `Action` this large.
    pub first: Box<SignedVote>,
    pub second: Box<SignedVote>,
}

struct_codec!(ReportEquivocation {
    validator: Address,
    epoch: u64,
    view: u64,
    first: Box<SignedVote>,
    second: Box<SignedVote>,
});

/// A commonware varint (LEB128: seven bits a byte, low bits first).
fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The exact bytes the engine's ed25519 scheme signs for `vote` in round (`epoch`, `view`).
pub fn signed_bytes(epoch: u64, view: u64, vote: &SignedVote) -> Vec<u8> {
    let suffix: &[u8] = match vote.kind {
        VoteKind::Notarize => b"_NOTARIZE",
        VoteKind::Nullify => b"_NULLIFY",
        VoteKind::Finalize => b"_FINALIZE",
    };
    let namespace_len = CONSENSUS_NAMESPACE.len() + suffix.len();
    let mut out = Vec::with_capacity(namespace_len + 64);
    varint(namespace_len as u64, &mut out);
    out.extend_from_slice(CONSENSUS_NAMESPACE);
    out.extend_from_slice(suffix);
    varint(epoch, &mut out);
    varint(view, &mut out);
    if vote.kind != VoteKind::Nullify {
        varint(vote.parent_view, &mut out);
        out.extend_from_slice(&vote.payload.0);
    }
    out
}

/// What identifies one equivocation: the validator and the round (a validator is slashed once
/// per round it equivocated in, however many conflicting pairs it signed there).
pub fn evidence_hash(validator: &Address, epoch: u64, view: u64) -> Hash {
    Hash::tagged(
        "depin/bft/equivocation/v1",
        &[&validator.0, &epoch.to_be_bytes(), &view.to_be_bytes()],
    )
}

/// Why two votes are not a conflict, if they are not.
fn not_conflicting(a: &SignedVote, b: &SignedVote) -> Option<&'static str> {
    use VoteKind::*;
    let nullify_clean =
        |v: &SignedVote| v.kind != Nullify || (v.parent_view == 0 && v.payload == Hash::ZERO);
    if !nullify_clean(a) || !nullify_clean(b) {
        return Some(
            "a nullify vote names no proposal: its parent_view must be 0 and its payload zeros",
        );
    }
    match (a.kind, b.kind) {
        (Notarize, Notarize) | (Finalize, Finalize) => {
            if a.parent_view == b.parent_view && a.payload == b.payload {
                Some("both votes are for the same proposal")
            } else {
                None
            }
        }
        (Nullify, Finalize) | (Finalize, Nullify) => None,
        _ => Some(
            "only two notarize votes, two finalize votes, or a nullify and a finalize vote conflict",
        ),
    }
}

/// Checks the evidence and, when it holds, slashes and jails the validator through
/// [`slash_validator`]. Refused: votes that do not conflict, a signature that does not verify
/// over the engine's signed bytes, a validator outside the current set, evidence already
/// recorded for that validator and round.
pub fn report(state: &mut State, a: &ReportEquivocation, height: u64) -> Result<(), Rejection> {
    if let Some(why) = not_conflicting(&a.first, &a.second) {
        return Err(R::NotConflicting { why: why.into() }.into());
    }
    if !state.validators().iter().any(|v| v.address == a.validator) {
        return Err(R::OffenderNotAValidator {
            validator: a.validator,
        }
        .into());
    }
    for (which, vote) in [("first", &*a.first), ("second", &*a.second)] {
        if !verify(
            &a.validator,
            &signed_bytes(a.epoch, a.view, vote),
            &vote.signature,
        ) {
            return Err(R::BadVoteSignature { vote: which.into() }.into());
        }
    }
    let evidence = evidence_hash(&a.validator, a.epoch, a.view);
    if state.contains(&slash_key(&evidence)) {
        return Err(R::EvidenceRecorded { evidence }.into());
    }
    slash_validator(state, &a.validator, evidence, height);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_leb128() {
        let mut out = Vec::new();
        varint(0, &mut out);
        varint(127, &mut out);
        varint(128, &mut out);
        varint(300, &mut out);
        assert_eq!(out, vec![0, 127, 0x80, 1, 0xac, 2]);
    }
}
