//! Fuzzing of every decoder that reads bytes from outside: transactions (wire and JSON), blocks,
//! batches, receipts and rejections. Inputs are arbitrary bytes and mutations (bit flips,
//! truncations, length-prefix rewrites, splices) of valid encodings of every action kind.
//!
//! No decoder may panic; whatever decodes must re-encode to exactly the input (one encoding per
//! value) and decode again to the same value; a decoded JSON transaction must round-trip.
//!
//! `DEPIN_FUZZ_CASES` sets the number of inputs per test (default 256, for CI); the long run is
//! `DEPIN_FUZZ_CASES=2000000 cargo test --release -p depin-core --test fuzz_decode -- --nocapture`.

use std::sync::OnceLock;
use std::time::Instant;

use depin_core::block::Header;
use depin_core::codec::{Decode, Encode};
use depin_core::modules::ModuleAction;
use depin_core::modules::coverage::CoverageRejection;
use depin_core::modules::coverage::actions::{
    AssertLocation, Beacon, DeviceKind, OnboardDevice, Reveal, Witness, sign_onboarding,
};
use depin_core::services::demand::DemandRejection;
use depin_core::services::demand::actions::{
    BuyCredits, DelegateCredits, SetOracle, SubmitPrice, UsageReceipt,
};
use depin_core::services::devices::{
    DeviceRejection, Location, RetireDevice, SetDenylist, TransferDevice,
};
use depin_core::{
    Action, Amount, Block, Hash, Keypair, Receipt, Rejection, Transaction, economics::TokenPrice,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const CHAIN_ID: &str = "depin-fuzz";

/// Inputs per test: `DEPIN_FUZZ_CASES`, or a few hundred so `cargo test` stays fast.
fn cases() -> u32 {
    std::env::var("DEPIN_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// Runs `check` on `cases()` inputs from `strategy` and says how many ran and how long it took.
fn fuzz<S: Strategy>(name: &str, strategy: S, check: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let cases = cases();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let started = Instant::now();
    let outcome = runner.run(&strategy, check);
    eprintln!(
        "{name}: {cases} inputs in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if let Err(e) = outcome {
        panic!("{name}: {e}");
    }
}

fn key(i: u8) -> Keypair {
    Keypair::from_seed([i; 32])
}

/// One action of every kind the ledger knows, with plausible field values.
fn every_action() -> Vec<Action> {
    let owner = key(1);
    let device = key(2);
    let other = key(3).address();
    let berlin = Location {
        lat_udeg: 52_520_008,
        lon_udeg: 13_404_954,
    };
    let usage = UsageReceipt::signed(CHAIN_ID, &owner, &device, 1_000, 2_000, 7, 700);
    vec![
        Action::Transfer {
            to: other,
            amount: Amount(1_500_000),
        },
        Action::from(OnboardDevice {
            device: device.address(),
            kind: DeviceKind::Hotspot,
            region: "EU868".into(),
            location: Some(berlin),
            gain_cdbi: 300,
            elevation_m: 10,
            device_signature: sign_onboarding(CHAIN_ID, &owner.address(), &device),
        }),
        Action::from(OnboardDevice {
            device: device.address(),
            kind: DeviceKind::DataOnly,
            region: "US915".into(),
            location: None,
            gain_cdbi: -1,
            elevation_m: -5,
            device_signature: sign_onboarding(CHAIN_ID, &owner.address(), &device),
        }),
        Action::from(AssertLocation {
            device: device.address(),
            location: berlin,
            gain_cdbi: 500,
            elevation_m: 30,
        }),
        Action::from(Beacon {
            window: 12,
            commitment: Hash([7; 32]),
            channel: 3,
            tx_power_cdbm: 1_200,
            sent_at_ms: 1_700_000_000_000,
        }),
        Action::from(Witness {
            beaconer: other,
            window: 12,
            commitment: Hash([7; 32]),
            frequency_hz: 868_100_000,
            rssi_cdbm: -9_000,
            snr_cdb: 500,
            heard_at_ms: 1_700_000_000_030,
        }),
        Action::from(Reveal {
            window: 12,
            signature: depin_core::Signature([5; 64]),
        }),
        Action::from(TransferDevice {
            device: device.address(),
            new_owner: other,
        }),
        Action::from(RetireDevice {
            device: device.address(),
        }),
        Action::from(SetDenylist {
            device: device.address(),
            denied: true,
        }),
        Action::from(SubmitPrice {
            price: TokenPrice(50_000_000),
            observed_at_ms: 1_700_000_000_000,
        }),
        Action::from(SetOracle {
            oracle: other,
            authorised: false,
        }),
        Action::from(BuyCredits {
            tokens: Amount(u128::MAX),
            min_credits: 5,
            to: owner.address(),
        }),
        Action::from(DelegateCredits {
            payer: other,
            credits: 1_000_000,
        }),
        Action::from(usage),
    ]
}

fn network() -> depin_core::tx::Network {
    depin_core::tx::Network {
        chain_id: CHAIN_ID.into(),
        genesis_hash: depin_core::Hash([5; 32]),
    }
}

fn every_tx() -> Vec<Transaction> {
    every_action()
        .into_iter()
        .enumerate()
        .map(|(i, a)| Transaction::sign(&network(), &key(1), i as u64, 1_000, a))
        .collect()
}

fn every_rejection() -> Vec<Rejection> {
    let a = key(4).address();
    vec![
        Rejection::WrongChain {
            expected: CHAIN_ID.into(),
            got: "other".into(),
        },
        Rejection::BadSignature,
        Rejection::NonceReplayed { next: 3, got: 1 },
        Rejection::NonceGap { next: 3, got: 9 },
        Rejection::NonceTooFarAhead {
            next: 0,
            got: u64::MAX,
            max_ahead: 64,
        },
        Rejection::UnknownAccount { address: a },
        Rejection::InsufficientFunds {
            balance: Amount(1),
            needed: Amount(u128::MAX),
        },
        Rejection::ZeroAmount,
        Rejection::BalanceOverflow,
        Rejection::TooLarge {
            size: 5000,
            max: 4096,
        },
        Rejection::Malformed {
            detail: "héllo".into(),
        },
        Rejection::Duplicate,
        Rejection::MempoolFull,
        Rejection::ModuleDisabled { module: 9 },
        Rejection::NotEmergencyKey,
        Rejection::from(DeviceRejection::NotOwner {
            device: a,
            owner: key(5).address(),
        }),
        Rejection::from(DeviceRejection::WrongModule {
            device: a,
            module: "coverage".into(),
        }),
        Rejection::from(DemandRejection::StalePrice {
            age_ms: 10,
            max_ms: 5,
        }),
        Rejection::from(CoverageRejection::UnknownRegion {
            name: "EU433".into(),
        }),
        Rejection::from(CoverageRejection::GainOutOfRange {
            gain_cdbi: i32::MIN,
            min_cdbi: 0,
            max_cdbi: 1_500,
        }),
    ]
}

fn block_of(txs: Vec<Transaction>, consensus: Vec<u8>) -> Block {
    let proposer = key(9);
    let header = Header {
        height: 7,
        parent: Hash([0xaa; 32]),
        time_ms: 1_700_000_000_000,
        proposer: proposer.address(),
        tx_root: Block::tx_root(&txs),
        receipts_root: Receipt::root(&[Receipt::Success]),
        app_hash: Hash([0xbb; 32]),
        base_fee: 10_000,
        consensus,
    };
    Block::seal(header, txs, &proposer)
}

/// Valid canonical encodings of every kind of value the decoders read: the seeds mutations start
/// from.
fn binary_seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let txs = every_tx();
        let mut seeds: Vec<Vec<u8>> = txs.iter().map(Encode::to_bytes).collect();
        seeds.extend(every_action().iter().map(Encode::to_bytes));
        seeds.push(txs.to_bytes());
        seeds.push(txs[..3].to_vec().to_bytes());
        seeds.push(block_of(txs.clone(), Vec::new()).to_bytes());
        seeds.push(block_of(txs[4..7].to_vec(), vec![1, 2, 3, 4]).to_bytes());
        seeds.push(block_of(Vec::new(), Vec::new()).to_bytes());
        seeds.push(Receipt::Success.to_bytes());
        for r in every_rejection() {
            seeds.push(r.to_bytes());
            seeds.push(Receipt::Rejected(r).to_bytes());
        }
        let receipts: Vec<Receipt> = every_rejection()
            .into_iter()
            .map(Receipt::Rejected)
            .chain([Receipt::Success])
            .collect();
        seeds.push(receipts.to_bytes());
        seeds
    })
}

/// JSON forms of every transaction and of a batch.
fn json_seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let txs = every_tx();
        let mut seeds: Vec<Vec<u8>> = txs
            .iter()
            .map(|t| serde_json::to_vec(t).expect("transactions serialize"))
            .collect();
        seeds.push(serde_json::to_vec(&txs).expect("transactions serialize"));
        seeds
    })
}

/// One change to a byte string. Positions are taken modulo the length at the time.
#[derive(Clone, Debug)]
enum Mutation {
    FlipBit {
        at: usize,
        bit: u8,
    },
    SetByte {
        at: usize,
        byte: u8,
    },
    Truncate {
        at: usize,
    },
    Delete {
        at: usize,
        len: usize,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    /// Overwrites four bytes with a `u32` (as a length prefix would be).
    SetU32 {
        at: usize,
        value: u32,
    },
    /// Copies a range of another seed (or of the input itself) in at `at`.
    Splice {
        seed: usize,
        from: usize,
        len: usize,
        at: usize,
    },
    /// Repeats a range of the input right after itself.
    Repeat {
        at: usize,
        len: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let pos = any::<usize>();
    prop_oneof![
        3 => (pos, 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        2 => (pos, any::<u8>()).prop_map(|(at, byte)| Mutation::SetByte { at, byte }),
        1 => pos.prop_map(|at| Mutation::Truncate { at }),
        1 => (pos, 1usize..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
        1 => (pos, proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        3 => (
            pos,
            prop_oneof![
                Just(0u32),
                Just(1),
                0u32..300,
                Just(4096),
                Just(4097),
                Just(1 << 20),
                Just(1 << 26),
                Just((1 << 26) + 1),
                Just(u32::MAX),
                any::<u32>(),
            ]
        )
            .prop_map(|(at, value)| Mutation::SetU32 { at, value }),
        2 => (any::<usize>(), pos, 0usize..256, pos)
            .prop_map(|(seed, from, len, at)| Mutation::Splice { seed, from, len, at }),
        1 => (pos, 1usize..128).prop_map(|(at, len)| Mutation::Repeat { at, len }),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation, seeds: &[Vec<u8>]) {
    let n = bytes.len();
    let at = |p: usize| if n == 0 { 0 } else { p % (n + 1) };
    match m {
        Mutation::FlipBit { at: p, bit } if n > 0 => bytes[p % n] ^= 1 << bit,
        Mutation::SetByte { at: p, byte } if n > 0 => bytes[p % n] = *byte,
        Mutation::Truncate { at: p } => bytes.truncate(at(*p)),
        Mutation::Delete { at: p, len } => {
            let start = at(*p);
            let end = (start + len).min(n);
            bytes.drain(start..end);
        }
        Mutation::Insert { at: p, bytes: b } => {
            let p = at(*p);
            bytes.splice(p..p, b.iter().copied());
        }
        Mutation::SetU32 { at: p, value } if n >= 4 => {
            let p = p % (n - 3);
            bytes[p..p + 4].copy_from_slice(&value.to_le_bytes());
        }
        Mutation::Splice {
            seed,
            from,
            len,
            at: p,
        } => {
            let source = &seeds[seed % seeds.len()];
            let start = if source.is_empty() {
                0
            } else {
                from % source.len()
            };
            let end = (start + len).min(source.len());
            let piece = source[start..end].to_vec();
            let p = at(*p);
            bytes.splice(p..p, piece);
        }
        Mutation::Repeat { at: p, len } if n > 0 => {
            let start = p % n;
            let end = (start + len).min(n);
            let piece = bytes[start..end].to_vec();
            bytes.splice(end..end, piece);
        }
        _ => {}
    }
}

/// Arbitrary bytes, or a seed with a few mutations.
fn input(seeds: &'static [Vec<u8>]) -> impl Strategy<Value = Vec<u8>> {
    let mutated = (0..seeds.len(), proptest::collection::vec(mutation(), 1..5)).prop_map(
        move |(seed, ms)| {
            let mut bytes = seeds[seed].clone();
            for m in &ms {
                apply(&mut bytes, m, seeds);
            }
            bytes
        },
    );
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..600),
        6 => mutated,
    ]
}

/// If `T` decodes from `bytes`, it re-encodes to exactly `bytes` and decodes again to itself.
fn canonical<T: Decode + Encode + PartialEq + std::fmt::Debug>(
    what: &str,
    bytes: &[u8],
) -> Result<Option<T>, TestCaseError> {
    let Ok(value) = T::from_bytes(bytes) else {
        return Ok(None);
    };
    let again = value.to_bytes();
    prop_assert_eq!(&again[..], bytes, "{} re-encodes to other bytes", what);
    let back = T::from_bytes(&again);
    prop_assert_eq!(back.as_ref(), Ok(&value), "{} does not round-trip", what);
    Ok(Some(value))
}

fn check_binary(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let tx = canonical::<Transaction>("transaction", &bytes)?;
    if let Some(tx) = &tx {
        prop_assert_eq!(tx.encoded_len(), bytes.len(), "encoded_len of {:?}", tx);
        let _ = tx.hash();
        let _ = tx.signing_bytes(&network().genesis_hash);
        let _ = tx.weight();
        // The JSON face of anything that decodes reads back as the same transaction.
        let json = serde_json::to_vec(tx).expect("a decoded transaction serializes");
        let back = serde_json::from_slice::<Transaction>(&json).ok();
        prop_assert_eq!(
            back.as_ref(),
            Some(tx),
            "JSON face does not round-trip: {}",
            String::from_utf8_lossy(&json)
        );
    }
    match Transaction::from_wire(&bytes) {
        Ok(wire) => prop_assert_eq!(Some(&wire), tx.as_ref()),
        Err(r) => {
            prop_assert!(tx.is_none() || bytes.len() > depin_core::tx::MAX_TX_BYTES);
            let _ = (r.code(), r.to_string());
        }
    }
    if let Some(block) = canonical::<Block>("block", &bytes)? {
        let _ = (
            block.hash(),
            block.signature_valid(),
            Block::tx_root(&block.txs),
        );
    }
    canonical::<Vec<Transaction>>("batch", &bytes)?;
    canonical::<Header>("header", &bytes)?;
    canonical::<Action>("action", &bytes)?;
    canonical::<ModuleAction>("module action", &bytes)?;
    if let Some(r) = canonical::<Receipt>("receipt", &bytes)? {
        let _ = depin_core::ReceiptView::from(&r);
    }
    if let Some(r) = canonical::<Rejection>("rejection", &bytes)? {
        let _ = (r.code(), r.to_string(), depin_core::Explained::from(&r));
    }
    canonical::<Vec<Receipt>>("receipts", &bytes)?;
    Ok(())
}

fn check_json(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    if let Ok(tx) = serde_json::from_slice::<Transaction>(&bytes) {
        let json = serde_json::to_vec(&tx).expect("a decoded transaction serializes");
        let back = serde_json::from_slice::<Transaction>(&json).ok();
        prop_assert_eq!(back.as_ref(), Some(&tx));
        let wire = tx.to_bytes();
        prop_assert_eq!(tx.encoded_len(), wire.len());
        // A JSON transaction need not fit the wire limit, but its encoding always decodes, unless
        // its chain id is longer than the wire format allows.
        if tx.chain_id.len() <= depin_core::tx::MAX_CHAIN_ID_BYTES {
            let back = Transaction::from_bytes(&wire);
            prop_assert_eq!(back.as_ref(), Ok(&tx));
        }
        let _ = tx.check_stateless(&network());
        let _ = tx.weight();
    }
    if let Ok(txs) = serde_json::from_slice::<Vec<Transaction>>(&bytes) {
        let json = serde_json::to_vec(&txs).expect("decoded transactions serialize");
        prop_assert_eq!(
            serde_json::from_slice::<Vec<Transaction>>(&json).ok(),
            Some(txs)
        );
    }
    let _ = serde_json::from_slice::<Header>(&bytes);
    let _ = serde_json::from_slice::<Action>(&bytes);
    Ok(())
}

#[test]
fn seeds_are_canonical() {
    for seed in binary_seeds() {
        check_binary(seed.clone()).unwrap();
    }
    for seed in json_seeds() {
        check_json(seed.clone()).unwrap();
    }
    for tx in every_tx() {
        assert_eq!(Transaction::from_wire(&tx.to_bytes()), Ok(tx.clone()));
        tx.check_stateless(&network()).unwrap();
    }
}

#[test]
fn binary_decoders_never_panic_and_are_canonical() {
    fuzz("fuzz_decode binary", input(binary_seeds()), check_binary);
}

#[test]
fn json_decoders_never_panic_and_round_trip() {
    let json = input(json_seeds());
    // JSON seeds mutated as text too: a field's value swapped for a hostile one.
    let hostile = (
        0..json_seeds().len(),
        prop_oneof![
            Just("-1".to_string()),
            Just("18446744073709551616".to_string()),
            Just("340282366920938463463374607431768211456".to_string()),
            Just("\"\"".to_string()),
            Just("null".to_string()),
            Just("1e400".to_string()),
            Just("[]".to_string()),
            Just("{}".to_string()),
            Just("\"\\ud800\"".to_string()),
            Just("\"ff\"".to_string()),
            "\"[0-9a-z]{0,70}\"".prop_map(|s: String| s),
        ],
        any::<usize>(),
    )
        .prop_map(|(seed, value, at)| {
            let text = String::from_utf8(json_seeds()[seed].clone()).expect("seeds are UTF-8");
            let colons: Vec<usize> = text.match_indices(':').map(|(i, _)| i).collect();
            let start = colons[at % colons.len()] + 1;
            let end = text[start..]
                .find([',', '}'])
                .map_or(text.len(), |e| start + e);
            format!("{}{}{}", &text[..start], value, &text[end..]).into_bytes()
        });
    fuzz("fuzz_decode json", prop_oneof![json, hostile], check_json);
}
