//! Turns the engine's equivocation evidence (two conflicting votes it verified) into the
//! ledger's `ReportEquivocation` action, which checks the same signatures over the same bytes
//! on chain and slashes the signer.

use commonware_codec::{Buf, Copying};
use commonware_codec::{Read, ReadExt, varint::UInt};
use commonware_consensus::simplex::types::Proposal;
use commonware_consensus::types::Round;
use depin_core::services::governance::evidence::{ReportEquivocation, SignedVote, VoteKind};
use depin_core::{Address, Hash, Signature};

use crate::Digest;
use crate::application::FaultKind;

/// Reads one vote (proposal or round, then the attestation: signer index and signature).
fn read_vote(buf: &mut impl Buf, kind: VoteKind) -> Option<(Round, SignedVote)> {
    let (round, parent_view, payload) = if kind == VoteKind::Nullify {
        (Round::read(buf).ok()?, 0, Hash::ZERO)
    } else {
        let p = Proposal::<Digest>::read_cfg(buf, &()).ok()?;
        (p.round, p.parent.get(), crate::hash(&p.payload))
    };
    let _signer: u32 = UInt::<u32>::read(buf).ok()?.into();
    if buf.remaining() < 64 {
        return None;
    }
    let mut signature = [0u8; 64];
    buf.copy_to_slice(&mut signature);
    Some((
        round,
        SignedVote {
            kind,
            parent_view,
            payload,
            signature: Signature(signature),
        },
    ))
}

/// The ledger action reporting `validator` for the engine's encoded conflicting votes (`None`
/// if they do not read as two votes of one round).
pub fn report_of(
    validator: Address,
    kind: FaultKind,
    encoded: &[u8],
) -> Option<ReportEquivocation> {
    let (first, second) = match kind {
        FaultKind::ConflictingNotarize => (VoteKind::Notarize, VoteKind::Notarize),
        FaultKind::ConflictingFinalize => (VoteKind::Finalize, VoteKind::Finalize),
        FaultKind::NullifyFinalize => (VoteKind::Nullify, VoteKind::Finalize),
    };
    let mut buf = Copying(encoded);
    let (round_a, first) = read_vote(&mut buf, first)?;
    let (round_b, second) = read_vote(&mut buf, second)?;
    if round_a != round_b || !buf.0.is_empty() {
        return None;
    }
    Some(ReportEquivocation {
        validator,
        epoch: round_a.epoch().get(),
        view: round_a.view().get(),
        first: Box::new(first),
        second: Box::new(second),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::Encode;
    use commonware_consensus::simplex::types::{
        ConflictingFinalize, ConflictingNotarize, Finalize, Notarize, Nullify, NullifyFinalize,
    };
    use commonware_consensus::types::{Epoch, View};
    use commonware_utils::ordered::Set;
    use depin_core::Keypair;
    use depin_core::services::governance::evidence::signed_bytes;

    use crate::{NAMESPACE, Scheme, consensus_key, public_key};

    fn scheme(key: &Keypair, others: &[Keypair]) -> Scheme {
        let mut keys: Vec<_> = others
            .iter()
            .chain(std::iter::once(key))
            .map(|k| public_key(&k.address()).unwrap())
            .collect();
        keys.sort();
        Scheme::signer(NAMESPACE, Set::try_from(keys).unwrap(), consensus_key(key)).unwrap()
    }

    fn proposal(view: u64, parent: u64, payload: u8) -> Proposal<Digest> {
        Proposal::new(
            Round::new(Epoch::new(3), View::new(view)),
            View::new(parent),
            commonware_cryptography::blake3::Digest([payload; 32]),
        )
    }

    /// The bytes the ledger checks are exactly the ones the engine signs: every kind of
    /// conflict the engine reports verifies on chain, and a changed byte does not.
    #[test]
    fn the_engines_signatures_verify_over_the_ledgers_bytes() {
        let key = Keypair::from_seed([7; 32]);
        let others: Vec<_> = (0..3).map(|i| Keypair::from_seed([20 + i; 32])).collect();
        let s = scheme(&key, &others);
        let n1 = Notarize::sign(&s, proposal(9, 8, 1)).unwrap();
        let n2 = Notarize::sign(&s, proposal(9, 7, 2)).unwrap();
        let f1 = Finalize::sign(&s, proposal(9, 8, 1)).unwrap();
        let f2 = Finalize::sign(&s, proposal(9, 8, 2)).unwrap();
        let null = Nullify::sign::<Digest>(&s, Round::new(Epoch::new(3), View::new(9))).unwrap();
        let cases = [
            (
                FaultKind::ConflictingNotarize,
                ConflictingNotarize::new(n1, n2).encode().to_vec(),
            ),
            (
                FaultKind::ConflictingFinalize,
                ConflictingFinalize::new(f1.clone(), f2).encode().to_vec(),
            ),
            (
                FaultKind::NullifyFinalize,
                NullifyFinalize::new(null, f1).encode().to_vec(),
            ),
        ];
        for (kind, bytes) in cases {
            let r = report_of(key.address(), kind, &bytes).expect("reads");
            assert_eq!((r.epoch, r.view), (3, 9));
            for vote in [&*r.first, &*r.second] {
                let msg = signed_bytes(r.epoch, r.view, vote);
                assert!(
                    depin_core::crypto::verify(&key.address(), &msg, &vote.signature),
                    "{kind:?} {vote:?}"
                );
                let mut other = vote.clone();
                other.payload.0[0] ^= 1;
                if other.kind != VoteKind::Nullify {
                    let msg = signed_bytes(r.epoch, r.view, &other);
                    assert!(!depin_core::crypto::verify(
                        &key.address(),
                        &msg,
                        &vote.signature
                    ));
                }
            }
            assert!(report_of(key.address(), kind, &bytes[..bytes.len() - 1]).is_none());
        }
    }
}
