//! One signature rule everywhere: single verification, batch verification (alone and mixed with
//! valid signatures), the transaction batch, and a block built after the mempool's batch versus
//! the same block replayed with every signature checked again must all agree.
//!
//! The rule is ZIP-215 with small-order signer keys refused (see `depin_core::crypto`). The cases
//! are the twelve published with "Taming the many EdDSAs" (Chalkias, Garillot, Nikolaenko 2020),
//! listed below, and signatures built here with points of small order added to `R` or `A`.

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT as B, EIGHT_TORSION};
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use depin_core::crypto::{self, small_order_encodings};
use depin_core::tx::{Network, verify_signatures};
use depin_core::{
    Action, Address, Amount, Genesis, Hash, Keypair, Receipt, Signature, Signatures, State,
    Transaction, apply_block, build_block,
};
use ed25519_dalek::{Digest, Sha512};

/// The twelve cases of "Taming the many EdDSAs" (message, public key, signature), in the paper's
/// order, with the verdict of the depin rule and why.
const TAMING: [(&str, &str, &str, bool, &str); 12] = [
    (
        "8c93255d71dcab10e8f379c26200f3c7bd5f09d9bc3068d3ef4edeb4853022b6",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a0000000000000000000000000000000000000000000000000000000000000000",
        false,
        "0: S = 0, small A, small R: ZIP-215 accepts, depin refuses small-order keys",
    ),
    (
        "9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43a5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
        false,
        "1: 0 < S < L, small A, mixed R: small-order key",
    ),
    (
        "aebf3f2601a0c8c5d39cc7d8911642f740b78168218da8471772b35f9d35b9ab",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa8c4bd45aecaca5b24fb97bc10ac27ac8751a7dfe1baff8b953ec9f5833ca260e",
        true,
        "2: 0 < S < L, mixed A, small R",
    ),
    (
        "9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
        "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
        "9046a64750444938de19f227bb80485e92b83fdb4b6506c160484c016cc1852f87909e14428a7a1d62e9f22f3d3ad7802db02eb2e688b6c52fcd6648a98bd009",
        true,
        "3: mixed A, mixed R, valid under both equations",
    ),
    (
        "e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
        "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
        "160a1cb0dc9c0258cd0a7d23e94d8fa878bcb1925f2c64246b2dee1796bed5125ec6bc982a269b723e0668e540911a9a6a58921d6925e434ab10aa7940551a09",
        true,
        "4: mixed A, mixed R, valid under the cofactored equation only",
    ),
    (
        "e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
        "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
        "21122a84e0b5fca4052f5b1235c80a537878b38f3142356b2c2384ebad4668b7e40bc836dac0f71076f9abe3a53f9c03c1ceeeddb658d0030494ace586687405",
        true,
        "5: mixed A, mixed R, cofactored only, k reduced before use",
    ),
    (
        "85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
        "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
        "e96f66be976d82e60150baecff9906684aebb1ef181f67a7189ac78ea23b6c0e547f7690a0e2ddcd04d87dbc3490dc19b3b3052f7ff0538cb68afb369ba3a514",
        false,
        "6: S > L",
    ),
    (
        "85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
        "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
        "8ce5b96c8f26d0ab6c47958c9e68b937104cd36e13c33566acd2fe8d38aa19427e71f98a473474f2f13f06f97c20d58cc3f54b8bd0d272f42b695dd7e89a8c22",
        false,
        "7: S >> L",
    ),
    (
        "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff03be9678ac102edcd92b0210bb34d7428d12ffc5df5f37e359941266a4e35f0f",
        false,
        "8: non-canonical R, k computed over the reduced R: does not verify",
    ),
    (
        "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffca8c5b64cd208982aa38d4936621a4775aa233aa0505711d8fdcfdaa943d4908",
        true,
        "9: non-canonical R, k computed over R as given: ZIP-215 accepts",
    ),
    (
        "e96b7021eb39c1a163b6da4e3093dcd3f21387da4cc4572be588fafae23c155b",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
        false,
        "10: non-canonical small-order A: small-order key",
    ),
    (
        "39a591f5321bbe07fd5a23dc2f39d025d74526615746727ceefd6e82ae65c06f",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
        false,
        "11: non-canonical small-order A, k over A as given: small-order key",
    ),
];

struct Case {
    signer: Address,
    message: Vec<u8>,
    signature: Signature,
    valid: bool,
    what: String,
}

fn taming_cases() -> Vec<Case> {
    TAMING
        .iter()
        .map(|(m, a, s, valid, what)| Case {
            signer: Address(hex::decode(a).unwrap().try_into().unwrap()),
            message: hex::decode(m).unwrap(),
            signature: Signature(hex::decode(s).unwrap().try_into().unwrap()),
            valid: *valid,
            what: what.to_string(),
        })
        .collect()
}

/// SHA-512(R || A || M) reduced mod L, the Ed25519 challenge over the bytes as given.
fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> Scalar {
    let digest: [u8; 64] = Sha512::new()
        .chain_update(r)
        .chain_update(a)
        .chain_update(message)
        .finalize()
        .into();
    Scalar::from_bytes_mod_order_wide(&digest)
}

/// A signature by secret `a` (public key `public`, which may carry a torsion component) whose
/// commitment is `[r]B + torsion`.
fn forge(
    a: Scalar,
    public: &[u8; 32],
    r: Scalar,
    torsion: EdwardsPoint,
    message: &[u8],
) -> Signature {
    let big_r = (r * B + torsion).compress().to_bytes();
    let s = r + challenge(&big_r, public, message) * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&big_r);
    sig[32..].copy_from_slice(s.as_bytes());
    Signature(sig)
}

fn secret(i: u8) -> Scalar {
    Scalar::from_bytes_mod_order([i.wrapping_mul(37).wrapping_add(11); 32])
}

/// Signatures with a small-order component in R, a pure small-order R, a key with a torsion
/// component, and a non-canonical S: all built here over `message`.
fn built_cases(message: &[u8]) -> Vec<Case> {
    let mut cases = Vec::new();
    for (t, torsion) in EIGHT_TORSION.iter().enumerate() {
        let a = secret(t as u8 + 1);
        let public = (a * B).compress().to_bytes();
        cases.push(Case {
            signer: Address(public),
            message: message.to_vec(),
            signature: forge(a, &public, secret(50 + t as u8), *torsion, message),
            valid: true,
            what: format!("R + T{t} (mixed-order R), honest key"),
        });
        // R of small order alone: s = k·a, so [8]([s]B - R - [k]A) = -[8]T = 0.
        cases.push(Case {
            signer: Address(public),
            message: message.to_vec(),
            signature: forge(a, &public, Scalar::ZERO, *torsion, message),
            valid: true,
            what: format!("R = T{t} (small-order R), honest key"),
        });
        let mixed_public = (a * B + torsion).compress().to_bytes();
        cases.push(Case {
            signer: Address(mixed_public),
            message: message.to_vec(),
            signature: forge(
                a,
                &mixed_public,
                secret(90 + t as u8),
                EdwardsPoint::default(),
                message,
            ),
            // [8]([s]B - R - [k](aB + T)) = -[8][k]T = 0.
            valid: true,
            what: format!("A + T{t} (mixed-order key)"),
        });
    }
    // S + L: the same signature with a non-canonical scalar.
    let a = secret(200);
    let public = (a * B).compress().to_bytes();
    let good = forge(a, &public, secret(201), EdwardsPoint::default(), message);
    cases.push(Case {
        signer: Address(public),
        message: message.to_vec(),
        signature: good,
        valid: true,
        what: "honest signature".into(),
    });
    cases.push(Case {
        signer: Address(public),
        message: message.to_vec(),
        signature: with_s_plus_l(good),
        valid: false,
        what: "honest signature with S + L".into(),
    });
    // Every encoding of a small-order key, with R small and S = 0 (valid under plain ZIP-215).
    for (i, key) in small_order_encodings().iter().enumerate() {
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&small_order_encodings()[(i * 5) % 14]);
        cases.push(Case {
            signer: Address(*key),
            message: message.to_vec(),
            signature: Signature(sig),
            valid: false,
            what: format!("small-order key encoding {i}"),
        });
    }
    cases
}

/// The group order L, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fn with_s_plus_l(sig: Signature) -> Signature {
    let mut out = sig;
    let mut carry = 0u16;
    for (byte, l) in out.0[32..].iter_mut().zip(L) {
        let sum = u16::from(*byte) + u16::from(l) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "S + L fits in 256 bits");
    out
}

fn check_single_and_batches(cases: &[Case]) {
    for c in cases {
        assert_eq!(
            crypto::verify(&c.signer, &c.message, &c.signature),
            c.valid,
            "single: {}",
            c.what
        );
        assert_eq!(
            crypto::verify_many(&[(&c.signer, c.message.as_slice(), &c.signature)]),
            vec![c.valid],
            "batch of one: {}",
            c.what
        );
    }
    // Each case inside a batch of valid signatures, at the front, in the middle and at the end.
    let honest: Vec<(Keypair, Vec<u8>)> = (0..7u8)
        .map(|i| (Keypair::from_seed([i + 100; 32]), vec![i; 40]))
        .collect();
    let honest: Vec<(Address, Vec<u8>, Signature)> = honest
        .iter()
        .map(|(k, m)| (k.address(), m.clone(), k.sign(m)))
        .collect();
    for c in cases {
        for at in [0, 3, 7] {
            let mut items: Vec<(&Address, &[u8], &Signature)> = honest
                .iter()
                .map(|(a, m, s)| (a, m.as_slice(), s))
                .collect();
            items.insert(at, (&c.signer, c.message.as_slice(), &c.signature));
            let mut expected = vec![true; 8];
            expected[at] = c.valid;
            assert_eq!(
                crypto::verify_many(&items),
                expected,
                "in a batch: {}",
                c.what
            );
        }
    }
    // All cases in one batch: the verdicts are exactly the single verdicts.
    let items: Vec<(&Address, &[u8], &Signature)> = cases
        .iter()
        .map(|c| (&c.signer, c.message.as_slice(), &c.signature))
        .collect();
    let expected: Vec<bool> = cases.iter().map(|c| c.valid).collect();
    assert_eq!(crypto::verify_many(&items), expected);
}

#[test]
fn the_twelve_taming_cases_follow_the_rule_alone_and_in_batches() {
    check_single_and_batches(&taming_cases());
}

#[test]
fn small_order_components_follow_the_rule_alone_and_in_batches() {
    check_single_and_batches(&built_cases(b"depin edge cases"));
}

const CHAIN: &str = "depin-sig-test";
/// Plenty for a transfer at the default base fee.
const MAX_FEE: u64 = 100_000;

fn validator() -> Keypair {
    Keypair::from_seed([9; 32])
}

fn genesis(funded: &[Address]) -> Genesis {
    let allocations: Vec<(Address, &str)> = funded.iter().map(|a| (*a, "10")).collect();
    Genesis::solo(CHAIN, validator().address(), &allocations)
}

/// Transactions signed in every edge-case way, mixed with honest ones: each is a transfer from a
/// funded signer, so a signature accepted by one path and refused by another changes a receipt.
fn edge_transactions(network: &Network) -> (Vec<Transaction>, Vec<bool>) {
    let to = Keypair::from_seed([77; 32]).address();
    let action = Action::Transfer {
        to,
        amount: Amount(1),
    };
    let mut txs = Vec::new();
    let mut valid = Vec::new();
    for (t, torsion) in EIGHT_TORSION.iter().enumerate() {
        let a = secret(t as u8 + 1);
        let public = (a * B).compress().to_bytes();
        let mixed_public = (a * B + torsion).compress().to_bytes();
        for (signer, r, tor) in [
            (public, secret(50 + t as u8), *torsion),
            (public, Scalar::ZERO, *torsion),
            (mixed_public, secret(90 + t as u8), EdwardsPoint::default()),
        ] {
            // Nonces follow the order in which one signer's transactions appear.
            let nonce = txs
                .iter()
                .filter(|tx: &&Transaction| tx.signer.0 == signer)
                .count() as u64;
            let mut tx = Transaction {
                chain_id: CHAIN.into(),
                signer: Address(signer),
                nonce,
                max_fee: MAX_FEE,
                tip: 0,
                action: action.clone(),
                signature: Signature([0; 64]),
            };
            tx.signature = forge(a, &signer, r, tor, &tx.signing_bytes(&network.genesis_hash));
            txs.push(tx);
            valid.push(true);
        }
    }
    for (i, key) in small_order_encodings().iter().enumerate() {
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&small_order_encodings()[(i * 3) % 14]);
        txs.push(Transaction {
            chain_id: CHAIN.into(),
            signer: Address(*key),
            nonce: 0,
            max_fee: MAX_FEE,
            tip: 0,
            action: action.clone(),
            signature: Signature(sig),
        });
        valid.push(false);
    }
    for i in 0..20u8 {
        let k = Keypair::from_seed([i + 120; 32]);
        txs.push(Transaction::sign(network, &k, 0, MAX_FEE, action.clone()));
        valid.push(true);
        let mut bad = Transaction::sign(network, &k, 1, MAX_FEE, action.clone());
        bad.signature = with_s_plus_l(bad.signature);
        txs.push(bad);
        valid.push(false);
    }
    (txs, valid)
}

#[test]
fn transaction_batches_give_the_single_verdicts() {
    let network = Network {
        chain_id: CHAIN.into(),
        genesis_hash: Hash([3; 32]),
    };
    let (txs, valid) = edge_transactions(&network);
    let g = &network.genesis_hash;
    let single: Vec<bool> = txs
        .iter()
        .map(|tx| crypto::verify(&tx.signer, &tx.signing_bytes(g), &tx.signature))
        .collect();
    assert_eq!(single, valid);
    assert_eq!(verify_signatures(g, &txs), valid);
    for chunk in [1, 2, 5, 16] {
        let chunked: Vec<bool> = txs
            .chunks(chunk)
            .flat_map(|c| verify_signatures(g, c))
            .collect();
        assert_eq!(chunked, valid, "chunks of {chunk}");
    }
}

#[test]
fn a_block_built_after_the_batch_replays_to_the_same_receipts() {
    // The signers do not depend on the network signed for: learn them, then sign for the genesis
    // that funds them.
    let placeholder = Network {
        chain_id: CHAIN.into(),
        genesis_hash: Hash([0; 32]),
    };
    let mut funded: Vec<Address> = edge_transactions(&placeholder)
        .0
        .iter()
        .map(|tx| tx.signer)
        .collect();
    funded.sort();
    funded.dedup();
    let g = genesis(&funded);
    let network = g.network();
    let (txs, valid) = edge_transactions(&network);
    // What the mempool does (`depin_node::mempool::verify_batch`: chunks through
    // `verify_signatures`), then the producer trusts its verdicts.
    let admitted: Vec<Transaction> = txs
        .chunks(16)
        .flat_map(|c| {
            c.iter()
                .cloned()
                .zip(verify_signatures(&network.genesis_hash, c))
        })
        .filter(|(_, ok)| *ok)
        .map(|(tx, _)| tx)
        .collect();
    assert_eq!(admitted.len(), valid.iter().filter(|v| **v).count());
    let mut producer = State::genesis(&g).unwrap();
    let (block, built) = build_block(
        &mut producer,
        admitted.clone(),
        1_000,
        &validator(),
        Signatures::AlreadyVerified,
    );
    assert!(built.receipts.iter().all(Receipt::is_success));
    let mut replica = State::genesis(&g).unwrap();
    let replayed = apply_block(&mut replica, &block, Signatures::Verify).unwrap();
    assert_eq!(replayed.receipts, built.receipts);
    assert_eq!(replayed.app_hash, built.app_hash);

    // The refused ones, forced into a block by a producer that trusts them, are refused again by
    // every replica, and the producer's own check agrees.
    let mut producer = State::genesis(&g).unwrap();
    let (block, built) = build_block(&mut producer, txs, 1_000, &validator(), Signatures::Verify);
    for (r, ok) in built.receipts.iter().zip(&valid) {
        assert_eq!(r.is_success(), *ok);
    }
    let mut replica = State::genesis(&g).unwrap();
    let replayed = apply_block(&mut replica, &block, Signatures::Verify).unwrap();
    assert_eq!(replayed.receipts, built.receipts);
}

/// Encodings `y + p` (both signs) of points that are not of small order, for the `y < 19` that
/// leave room below 2^255 and decode: non-canonical encodings whose discrete log nobody knows.
fn non_canonical_points() -> Vec<[u8; 32]> {
    let mut out = Vec::new();
    for y in 2u8..19 {
        let mut bytes = [0xff; 32];
        bytes[0] = 0xed + y;
        bytes[31] = 0x7f;
        for sign in [0u8, 0x80] {
            let mut b = bytes;
            b[31] |= sign;
            let decoded = curve25519_dalek::edwards::CompressedEdwardsY(b).decompress();
            if decoded.is_some_and(|p| !p.is_small_order()) {
                out.push(b);
            }
        }
    }
    out
}

/// A signer in the property test: its key bytes and, when known, its secret.
struct Signer {
    key: [u8; 32],
    secret: Option<Scalar>,
}

/// Honest keys, keys with a torsion component, non-canonical encodings of points of unknown
/// discrete log, every small-order encoding, and bytes that decode to no point.
fn signers() -> Vec<Signer> {
    let mut out = Vec::new();
    for i in 0..5u8 {
        let a = secret(120 + i);
        out.push(Signer {
            key: (a * B).compress().to_bytes(),
            secret: Some(a),
        });
    }
    for (t, torsion) in EIGHT_TORSION.iter().enumerate().take(4).skip(1) {
        let a = secret(140 + t as u8);
        out.push(Signer {
            key: (a * B + torsion).compress().to_bytes(),
            secret: Some(a),
        });
    }
    for key in non_canonical_points().into_iter().take(3) {
        out.push(Signer { key, secret: None });
    }
    for key in small_order_encodings().iter().step_by(3) {
        out.push(Signer {
            key: *key,
            secret: None,
        });
    }
    let mut undecodable = [0u8; 32];
    undecodable[0] = 2;
    out.push(Signer {
        key: undecodable,
        secret: None,
    });
    out
}

/// How a property-test item is signed.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// `R = [r]B`: valid for a known secret.
    Honest,
    /// `R = [r]B + T`: valid for a known secret.
    MixedR,
    /// `R` one of the 14 small-order encodings (canonical or not), `S = k·a`: valid for a known
    /// secret.
    SmallR,
    /// An honest signature with one bit flipped.
    FlippedBit,
    /// An honest signature of another message.
    OtherMessage,
    /// An honest signature with `S + L`.
    SPlusL,
    /// `R` a non-canonical encoding of a point of unknown discrete log.
    NonCanonicalR,
    /// 64 arbitrary bytes.
    Garbage,
}

fn sign_with_r(a: Scalar, key: &[u8; 32], r: Scalar, r_bytes: [u8; 32], m: &[u8]) -> Signature {
    let s = r + challenge(&r_bytes, key, m) * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&r_bytes);
    sig[32..].copy_from_slice(s.as_bytes());
    Signature(sig)
}

/// The signature of `message` by `signer` of `kind`, and whether it must verify (`None`: the
/// single verification is the judge).
fn make(signer: &Signer, kind: Kind, message: &[u8], seed: [u8; 32]) -> (Signature, Option<bool>) {
    let r = Scalar::from_bytes_mod_order(seed);
    let pick = usize::from(seed[0]);
    let Some(a) = signer.secret else {
        // Nobody can sign for these keys; small-order R with S = 0 passes plain ZIP-215 for a
        // small-order key, and is refused here.
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&small_order_encodings()[pick % 14]);
        if matches!(kind, Kind::Garbage) {
            sig.copy_from_slice(&[seed, seed].concat());
        }
        return (Signature(sig), Some(false));
    };
    let key = &signer.key;
    let honest = || forge(a, key, r, EdwardsPoint::default(), message);
    match kind {
        Kind::Honest => (honest(), Some(true)),
        Kind::MixedR => (
            forge(a, key, r, EIGHT_TORSION[1 + pick % 7], message),
            Some(true),
        ),
        Kind::SmallR => (
            sign_with_r(
                a,
                key,
                Scalar::ZERO,
                small_order_encodings()[pick % 14],
                message,
            ),
            Some(true),
        ),
        Kind::FlippedBit => {
            let mut sig = honest();
            let bit = usize::from(u16::from_le_bytes([seed[1], seed[2]]) % 512);
            sig.0[bit / 8] ^= 1 << (bit % 8);
            (sig, None)
        }
        Kind::OtherMessage => {
            let mut other = message.to_vec();
            other.push(seed[3]);
            (
                forge(a, key, r, EdwardsPoint::default(), &other),
                Some(false),
            )
        }
        Kind::SPlusL => (with_s_plus_l(honest()), Some(false)),
        Kind::NonCanonicalR => {
            let points = non_canonical_points();
            (
                sign_with_r(a, key, r, points[pick % points.len()], message),
                None,
            )
        }
        Kind::Garbage => (Signature([seed, seed].concat().try_into().unwrap()), None),
    }
}

fn kind_strategy() -> impl proptest::strategy::Strategy<Value = Kind> {
    use proptest::prelude::*;
    prop_oneof![
        4 => Just(Kind::Honest),
        2 => Just(Kind::MixedR),
        2 => Just(Kind::SmallR),
        1 => Just(Kind::FlippedBit),
        1 => Just(Kind::OtherMessage),
        1 => Just(Kind::SPlusL),
        1 => Just(Kind::NonCanonicalR),
        1 => Just(Kind::Garbage),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Batches of many signers with repeats, valid and invalid in every way: the batch verdicts
    /// (with and without the cache of decompressed keys, whole and in chunks) are exactly the
    /// single verdicts, and so are `ed25519-zebra`'s batch's.
    #[test]
    fn batch_verification_gives_exactly_the_single_verdicts(
        spec in proptest::collection::vec(
            (
                0usize..100,
                kind_strategy(),
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..48),
                proptest::prelude::any::<[u8; 32]>(),
            ),
            1..40,
        ),
        valid_only in proptest::prelude::any::<bool>(),
    ) {
        let signers = signers();
        let honest = signers.iter().filter(|s| s.secret.is_some()).count();
        let mut cases: Vec<(Address, Vec<u8>, Signature, Option<bool>)> = Vec::new();
        for (who, kind, message, seed) in spec {
            // Most items by signers with known secrets (so most batches are valid), the rest
            // by any signer; `valid_only` makes whole batches that must pass.
            let signer = if valid_only || who < 80 {
                &signers[who % honest]
            } else {
                &signers[who % signers.len()]
            };
            let kind = if valid_only {
                [Kind::Honest, Kind::MixedR, Kind::SmallR][usize::from(seed[5]) % 3]
            } else {
                kind
            };
            let (sig, expected) = make(signer, kind, &message, seed);
            cases.push((Address(signer.key), message, sig, expected));
        }
        let items: Vec<(&Address, &[u8], &Signature)> =
            cases.iter().map(|(a, m, s, _)| (a, m.as_slice(), s)).collect();
        let single: Vec<bool> = items.iter().map(|(a, m, s)| crypto::verify(a, m, s)).collect();
        for (c, ok) in cases.iter().zip(&single) {
            if let Some(expected) = c.3 {
                proptest::prop_assert_eq!(*ok, expected);
            }
        }
        proptest::prop_assert_eq!(&crypto::verify_many(&items), &single);
        proptest::prop_assert_eq!(&crypto::verify_many(&items), &single, "keys cached");
        proptest::prop_assert_eq!(&crypto::verify_many_uncached(&items), &single);
        proptest::prop_assert_eq!(&crypto::verify_many_zebra(&items), &single);
        for chunk in [2, 7] {
            let chunked: Vec<bool> =
                items.chunks(chunk).flat_map(crypto::verify_many).collect();
            proptest::prop_assert_eq!(&chunked, &single, "chunks of {}", chunk);
        }
    }
}
