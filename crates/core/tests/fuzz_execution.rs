//! Fuzzing of the state transition: random but well-formed hostile transactions (every action
//! kind with random and extreme field values, signed by funded and unfunded keys, with wrong
//! nonces, bad signatures, other chains, repeated actions) in blocks on a network that runs
//! coverage and demand, with onboarded hotspots, an oracle price and credits.
//!
//! After every block: nothing panicked; each refused transaction changed nothing but its signer's
//! nonce and what paying its fee changes (the state after the block's transactions up to it, and
//! up to and including it, differ in those entries at most); supply = genesis + minted - burned = the sum of balances. After
//! every case: a replica replaying the blocks with `apply_block(.., Signatures::Verify)` reaches
//! the same receipts and app hashes.
//!
//! `DEPIN_FUZZ_CASES` sets the number of cases (default 8, for CI); the long run is
//! `DEPIN_FUZZ_CASES=20000 cargo test --release -p depin-core --test fuzz_execution -- --nocapture`.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use common::*;
use depin_core::codec::Decode;
use depin_core::economics::TokenPrice;
use depin_core::modules::coverage::actions::{
    AssertLocation, DeviceKind, OnboardDevice, sign_onboarding,
};
use depin_core::modules::coverage::device::CoverageView;
use depin_core::modules::coverage::preset;
use depin_core::services::demand::actions::{
    DelegateCredits, SetOracle, SubmitPrice, UsageReceipt,
};
use depin_core::services::demand::{
    self,
    records::{CreditBalance, EpochTally},
};
use depin_core::services::devices;
use depin_core::services::devices::{Location, RetireDevice, SetDenylist, TransferDevice};
use depin_core::state::{Meta, StateKey};
use depin_core::{
    Account, Action, Address, Amount, Block, Hash, Keypair, Receipt, Signature, Signatures, State,
    Transaction, apply_block, build_block, exec::MAX_BLOCK_TIME_STEP_MS, stage_block,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

fn cases() -> u32 {
    std::env::var("DEPIN_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8)
}

/// The keys that sign: funded, onboarded devices, governors, oracles, and strangers.
fn keys() -> &'static [Keypair] {
    static KEYS: OnceLock<Vec<Keypair>> = OnceLock::new();
    KEYS.get_or_init(|| {
        vec![
            owner(),
            fleet(),
            router(),
            governor(),
            oracle(0),
            hotspot(1),
            hotspot(2),
            hotspot(3),
            hotspot(60),
            treasury(),
            validator(),
            Keypair::from_seed([77; 32]),
            Keypair::from_seed([99; 32]),
        ]
    })
}

/// Where the onboarded hotspots (keys 5, 6, 7) stand.
fn hotspot_location(i: usize) -> Location {
    at(0.0, i as f64 * 1_500.0)
}

/// A chain a few blocks before an epoch closes: an oracle price, three hotspots onboarded
/// and beaconing, the fleet holding credits, and a replica that replayed it with
/// `apply_block(.., Verify)`.
struct Base {
    net_state: State,
    replica: State,
    time_ms: u64,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut net = Net::new(demand_genesis(1, |_| {}));
        let a = price_action(&net, HALF_DOLLAR);
        assert_eq!(net.send(&oracle(0), a), Receipt::Success);
        for i in 0..3 {
            net.onboard(&hotspot(i as u8 + 1), hotspot_location(i));
        }
        assert_eq!(
            net.send(&fleet(), buy(50 * TOKEN, &fleet())),
            Receipt::Success
        );
        let pay = Action::Transfer {
            to: hotspot(1).address(),
            amount: Amount(TOKEN),
        };
        assert_eq!(net.send(&owner(), pay), Receipt::Success);
        while net.state.height() < EPOCH_BLOCKS - 6 {
            net.block(vec![]);
        }
        let mut replica = State::genesis(&net.genesis).expect("genesis");
        for b in &net.blocks {
            apply_block(&mut replica, b, Signatures::Verify).expect("base replays");
        }
        assert_eq!(replica.app_hash(), net.state.app_hash());
        Base {
            net_state: net.state,
            replica,
            time_ms: net.time_ms,
        }
    })
}

/// A number chosen to hit edges: zero, one, the maximum, near a plausible value, or anything.
#[derive(Clone, Debug)]
enum Num {
    Zero,
    One,
    Max,
    /// The plausible value plus or minus a little.
    Near(i64),
    Any(u128),
}

fn num() -> impl Strategy<Value = Num> {
    prop_oneof![
        1 => Just(Num::Zero),
        1 => Just(Num::One),
        1 => Just(Num::Max),
        4 => (-5_000i64..5_000).prop_map(Num::Near),
        2 => any::<u128>().prop_map(Num::Any),
    ]
}

impl Num {
    fn u64(&self, plausible: u64) -> u64 {
        match self {
            Num::Zero => 0,
            Num::One => 1,
            Num::Max => u64::MAX,
            Num::Near(d) => plausible.saturating_add_signed(*d),
            Num::Any(v) => *v as u64,
        }
    }
    fn u128(&self, plausible: u128) -> u128 {
        match self {
            Num::Zero => 0,
            Num::One => 1,
            Num::Max => u128::MAX,
            Num::Near(d) => plausible.saturating_add_signed(i128::from(*d)),
            Num::Any(v) => *v,
        }
    }
    fn i32(&self, plausible: i32) -> i32 {
        match self {
            Num::Zero => 0,
            Num::One => i32::MIN,
            Num::Max => i32::MAX,
            Num::Near(d) => plausible.saturating_add(*d as i32),
            Num::Any(v) => *v as i32,
        }
    }
    fn u16(&self, plausible: u16) -> u16 {
        self.u64(u64::from(plausible)) as u16
    }
}

/// What a transaction does, before it is made concrete against the state of its block.
#[derive(Clone, Debug)]
enum ActionPlan {
    Transfer {
        to: usize,
        amount: Num,
    },
    Onboard {
        device: usize,
        region: String,
        located: bool,
        lat: Num,
        gain: Num,
        elevation: Num,
        good_sig: bool,
    },
    Assert {
        device: usize,
        lat: Num,
        lon: Num,
        gain: Num,
        elevation: Num,
    },
    Beacon {
        window: Num,
        payload_ok: bool,
        channel: Num,
        power: Num,
        sent: Num,
    },
    Witness {
        beaconer: usize,
        window: Num,
        payload_ok: bool,
        freq: Num,
        rssi: Num,
        snr: Num,
        heard: Num,
    },
    TransferDevice {
        device: usize,
        to: usize,
    },
    Reveal {
        window: Num,
        sig_ok: bool,
    },
    Retire {
        device: usize,
    },
    Deny {
        device: usize,
        denied: bool,
    },
    Price {
        price: Num,
        observed: Num,
    },
    SetOracle {
        oracle: usize,
        authorised: bool,
    },
    Buy {
        tokens: Num,
        min_credits: Num,
        to: usize,
    },
    Delegate {
        payer: usize,
        credits: Num,
    },
    Usage {
        payer: usize,
        device: usize,
        start: Num,
        len: Num,
        packets: Num,
        bytes: Num,
        payer_sig_ok: bool,
        device_sig_ok: bool,
    },
    /// The same action as an earlier transaction of the case (a duplicate receipt, a second
    /// beacon...), counted back from the latest.
    Repeat(usize),
}

fn key_index() -> impl Strategy<Value = usize> {
    0..keys().len()
}

/// A signer: mostly one with an account (owner, fleet, governor, oracle, the hotspots).
fn signer_index() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => proptest::sample::select(vec![0usize, 1, 3, 4, 5, 6, 7]),
        1 => key_index(),
    ]
}

/// A device: mostly an onboarded hotspot.
fn device_index() -> impl Strategy<Value = usize> {
    prop_oneof![3 => 5usize..8, 1 => key_index()]
}

fn action_plan() -> impl Strategy<Value = ActionPlan> {
    let k = key_index;
    prop_oneof![
        1 => (k(), num()).prop_map(|(to, amount)| ActionPlan::Transfer { to, amount }),
        1 => (k(), prop_oneof![Just("EU868".to_string()), Just("EU433".to_string()), "\\PC{0,40}"], any::<bool>(), num(), num(), num(), any::<bool>())
            .prop_map(|(device, region, located, lat, gain, elevation, good_sig)| ActionPlan::Onboard { device, region, located, lat, gain, elevation, good_sig }),
        1 => (device_index(), num(), num(), num(), num()).prop_map(|(device, lat, lon, gain, elevation)| ActionPlan::Assert { device, lat, lon, gain, elevation }),
        2 => (num(), any::<bool>(), num(), num(), num()).prop_map(|(window, payload_ok, channel, power, sent)| ActionPlan::Beacon { window, payload_ok, channel, power, sent }),
        2 => (k(), num(), any::<bool>(), num(), num(), num(), num()).prop_map(|(beaconer, window, payload_ok, freq, rssi, snr, heard)| ActionPlan::Witness { beaconer, window, payload_ok, freq, rssi, snr, heard }),
        1 => (device_index(), k()).prop_map(|(device, to)| ActionPlan::TransferDevice { device, to }),
        1 => (num(), any::<bool>()).prop_map(|(window, sig_ok)| ActionPlan::Reveal { window, sig_ok }),
        1 => device_index().prop_map(|device| ActionPlan::Retire { device }),
        1 => (device_index(), any::<bool>()).prop_map(|(device, denied)| ActionPlan::Deny { device, denied }),
        1 => (num(), num()).prop_map(|(price, observed)| ActionPlan::Price { price, observed }),
        1 => (k(), any::<bool>()).prop_map(|(oracle, authorised)| ActionPlan::SetOracle { oracle, authorised }),
        1 => (num(), num(), k()).prop_map(|(tokens, min_credits, to)| ActionPlan::Buy { tokens, min_credits, to }),
        1 => (k(), num()).prop_map(|(payer, credits)| ActionPlan::Delegate { payer, credits }),
        2 => (k(), device_index(), num(), num(), num(), num(), any::<bool>(), any::<bool>()).prop_map(|(payer, device, start, len, packets, bytes, payer_sig_ok, device_sig_ok)| ActionPlan::Usage { payer, device, start, len, packets, bytes, payer_sig_ok, device_sig_ok }),
        2 => (0usize..8).prop_map(ActionPlan::Repeat),
    ]
}

#[derive(Clone, Debug)]
enum NoncePlan {
    Next,
    Ahead(u64),
    Behind(u64),
    Any(u64),
}

#[derive(Clone, Debug)]
enum SignaturePlan {
    Valid,
    FlipBit(usize),
    ByOtherKey(usize),
    Zero,
}

#[derive(Clone, Debug)]
struct TxPlan {
    signer: usize,
    nonce: NoncePlan,
    signature: SignaturePlan,
    other_chain: bool,
    /// The most the transaction offers to pay (mostly plenty; sometimes nothing or anything),
    /// and its tip (mostly none).
    max_fee: u64,
    tip: u64,
    action: ActionPlan,
    /// Resubmit the previous transaction of the case byte for byte instead.
    replay_previous: bool,
}

fn tx_plan() -> impl Strategy<Value = TxPlan> {
    (
        signer_index(),
        prop_oneof![
            8 => Just(NoncePlan::Next),
            1 => (1u64..3).prop_map(NoncePlan::Ahead),
            1 => (1u64..3).prop_map(NoncePlan::Behind),
            1 => any::<u64>().prop_map(NoncePlan::Any),
        ],
        prop_oneof![
            30 => Just(SignaturePlan::Valid),
            1 => (0usize..512).prop_map(SignaturePlan::FlipBit),
            1 => key_index().prop_map(SignaturePlan::ByOtherKey),
            1 => Just(SignaturePlan::Zero),
        ],
        (
            proptest::bool::weighted(0.03),
            prop_oneof![
                20 => Just(1_000_000u64),
                1 => Just(0u64),
                1 => any::<u64>(),
            ],
            prop_oneof![
                8 => Just(0u64),
                1 => 0u64..1_000,
                1 => any::<u64>(),
            ],
        ),
        action_plan(),
        proptest::bool::weighted(0.05),
    )
        .prop_map(
            |(signer, nonce, signature, (other_chain, max_fee, tip), action, replay_previous)| {
                TxPlan {
                    signer,
                    nonce,
                    signature,
                    other_chain,
                    max_fee,
                    tip,
                    action,
                    replay_previous,
                }
            },
        )
}

#[derive(Clone, Debug)]
struct BlockPlan {
    /// Milliseconds after the previous block.
    step_ms: Num,
    txs: Vec<TxPlan>,
}

fn block_plan() -> impl Strategy<Value = BlockPlan> {
    (num(), proptest::collection::vec(tx_plan(), 0..7))
        .prop_map(|(step_ms, txs)| BlockPlan { step_ms, txs })
}

fn key_of(i: usize) -> &'static Keypair {
    &keys()[i % keys().len()]
}

fn addr(i: usize) -> Address {
    key_of(i).address()
}

/// A case being run: the chain, its blocks, and what the plans refer back to.
struct Case {
    state: State,
    time_ms: u64,
    blocks: Vec<Block>,
    actions: Vec<Action>,
    txs: Vec<Transaction>,
}

impl Case {
    fn location(&self, lat: &Num, lon: &Num) -> Location {
        let p = preset::BERLIN;
        Location {
            lat_udeg: lat.i32(p.lat_udeg),
            lon_udeg: lon.i32(p.lon_udeg),
        }
    }

    fn action(&self, plan: &ActionPlan, signer: &Keypair) -> Action {
        let now = self.time_ms;
        let window = self.state.height() / BEACON_INTERVAL;
        let entropy = self.state.entropy(window).unwrap_or(Hash([0; 32]));
        match plan {
            ActionPlan::Transfer { to, amount } => Action::Transfer {
                to: addr(*to),
                amount: Amount(amount.u128(TOKEN)),
            },
            ActionPlan::Onboard {
                device,
                region,
                located,
                lat,
                gain,
                elevation,
                good_sig,
            } => {
                let d = key_of(*device);
                let owner = if *good_sig {
                    signer.address()
                } else {
                    addr(device + 1)
                };
                Action::from(OnboardDevice {
                    device: d.address(),
                    kind: if *located {
                        DeviceKind::Hotspot
                    } else {
                        DeviceKind::DataOnly
                    },
                    region: region.clone(),
                    location: located.then(|| self.location(lat, &Num::Near(0))),
                    gain_cdbi: gain.i32(GAIN_CDBI),
                    elevation_m: elevation.i32(10),
                    device_signature: sign_onboarding(CHAIN_ID, &owner, d),
                })
            }
            ActionPlan::Assert {
                device,
                lat,
                lon,
                gain,
                elevation,
            } => Action::from(AssertLocation {
                device: addr(*device),
                location: self.location(lat, lon),
                gain_cdbi: gain.i32(GAIN_CDBI),
                elevation_m: elevation.i32(10),
            }),
            ActionPlan::Beacon {
                window: w,
                payload_ok,
                channel,
                power,
                sent,
            } => {
                let mut a = beacon(signer, window, &entropy, now);
                let b = beacon_mut(&mut a);
                b.window = w.u64(window);
                if !payload_ok {
                    b.commitment = Hash([window as u8; 32]);
                }
                b.channel = channel.u16(b.channel);
                b.tx_power_cdbm = power.i32(TX_POWER_CDBM);
                b.sent_at_ms = sent.u64(now);
                a
            }
            ActionPlan::Witness {
                beaconer,
                window: w,
                payload_ok,
                freq,
                rssi,
                snr,
                heard,
            } => {
                let i = beaconer % 3;
                let j = (i + 1) % 3;
                let mut r = witness(
                    key_of(5 + i),
                    signer,
                    hotspot_location(i),
                    hotspot_location(j),
                    window,
                    &entropy,
                    now,
                );
                if *beaconer >= 3 {
                    r.beaconer = addr(*beaconer);
                }
                r.window = w.u64(window);
                if !payload_ok {
                    r.commitment = Hash([1; 32]);
                }
                r.frequency_hz = freq.u64(r.frequency_hz);
                r.rssi_cdbm = rssi.i32(r.rssi_cdbm);
                r.snr_cdb = snr.i32(r.snr_cdb);
                r.heard_at_ms = heard.u64(r.heard_at_ms);
                Action::from(r)
            }
            ActionPlan::Reveal { window: w, sig_ok } => {
                let w = w.u64(window.saturating_sub(REVEAL_LAG));
                let entropy = if *sig_ok { entropy } else { Hash([3; 32]) };
                reveal(signer, w, &entropy)
            }
            ActionPlan::TransferDevice { device, to } => Action::from(TransferDevice {
                device: addr(*device),
                new_owner: addr(*to),
            }),
            ActionPlan::Retire { device } => Action::from(RetireDevice {
                device: addr(*device),
            }),
            ActionPlan::Deny { device, denied } => Action::from(SetDenylist {
                device: addr(*device),
                denied: *denied,
            }),
            ActionPlan::Price { price, observed } => Action::from(SubmitPrice {
                price: TokenPrice(price.u64(HALF_DOLLAR)),
                observed_at_ms: observed.u64(now),
            }),
            ActionPlan::SetOracle { oracle, authorised } => Action::from(SetOracle {
                oracle: addr(*oracle),
                authorised: *authorised,
            }),
            ActionPlan::Buy {
                tokens,
                min_credits,
                to,
            } => Action::from(depin_core::services::demand::actions::BuyCredits {
                tokens: Amount(tokens.u128(TOKEN)),
                min_credits: min_credits.u128(0),
                to: addr(*to),
            }),
            ActionPlan::Delegate { payer, credits } => Action::from(DelegateCredits {
                payer: addr(*payer),
                credits: credits.u128(1_000),
            }),
            ActionPlan::Usage {
                payer,
                device,
                start,
                len,
                packets,
                bytes,
                payer_sig_ok,
                device_sig_ok,
            } => {
                let (p, d) = (key_of(*payer), key_of(*device));
                let start_ms = start.u64(now.saturating_sub(60_000));
                let end_ms = start_ms.saturating_add(len.u64(30_000));
                let mut r = UsageReceipt::signed(
                    CHAIN_ID,
                    p,
                    d,
                    start_ms,
                    end_ms,
                    packets.u64(5),
                    bytes.u64(500),
                );
                if !payer_sig_ok {
                    r.payer_signature = d.sign(&r.message(CHAIN_ID));
                }
                if !device_sig_ok {
                    r.device_signature.0[0] ^= 1;
                }
                Action::from(r)
            }
            ActionPlan::Repeat(back) => match self.actions.len() {
                0 => Action::Transfer {
                    to: addr(0),
                    amount: Amount(1),
                },
                n => self.actions[n - 1 - back % n].clone(),
            },
        }
    }

    fn tx(&mut self, plan: &TxPlan, next: &mut HashMap<Address, u64>) -> Transaction {
        if plan.replay_previous
            && let Some(tx) = self.txs.last()
        {
            return tx.clone();
        }
        let signer = key_of(plan.signer);
        let expected = next
            .entry(signer.address())
            .or_insert_with(|| self.state.account(&signer.address()).map_or(0, |a| a.nonce));
        let nonce = match plan.nonce {
            NoncePlan::Next => *expected,
            NoncePlan::Ahead(d) => expected.saturating_add(d),
            NoncePlan::Behind(d) => expected.wrapping_sub(d),
            NoncePlan::Any(n) => n,
        };
        if nonce == *expected {
            *expected += 1;
        }
        let action = self.action(&plan.action, signer);
        self.actions.push(action.clone());
        let mut network = self.state.network();
        if plan.other_chain {
            network.chain_id = "depin-other".into();
        }
        let offer = depin_core::tx::Offer {
            max: plan.max_fee,
            tip: plan.tip,
        };
        let mut tx = Transaction::sign_for(&network, signer, nonce, action, |_| offer);
        match plan.signature {
            SignaturePlan::Valid => {}
            SignaturePlan::FlipBit(bit) => tx.signature.0[bit / 8] ^= 1 << (bit % 8),
            SignaturePlan::ByOtherKey(k) => {
                tx.signature = key_of(k).sign(&tx.signing_bytes(&network.genesis_hash))
            }
            SignaturePlan::Zero => tx.signature = Signature([0; 64]),
        }
        self.txs.push(tx.clone());
        tx
    }
}

static BLOCKS_RUN: AtomicU64 = AtomicU64::new(0);
static TXS_RUN: AtomicU64 = AtomicU64::new(0);
static REFUSED: AtomicU64 = AtomicU64::new(0);
/// Receipts by code, to see how deep the cases reach.
static CODES: std::sync::Mutex<BTreeMap<&'static str, u64>> =
    std::sync::Mutex::new(BTreeMap::new());

/// The entries that differ between two states' entry lists must be `signer`'s account alone, and
/// in it only the nonce, by at most one.
/// What a refused transaction may change: its signer's nonce (up by one) and what paying its fee
/// changes (the payer's tokens or credits, the supply and the epoch's count of fees), or nothing
/// at all when it was refused before its fee.
fn only_the_nonce_and_fee_moved(
    before: &[(Vec<u8>, Vec<u8>)],
    after: &[(Vec<u8>, Vec<u8>)],
    signer: &Address,
    epoch: u64,
    closes_epoch: bool,
) -> Result<(), String> {
    let before: BTreeMap<_, _> = before.iter().cloned().collect();
    let after: BTreeMap<_, _> = after.iter().cloned().collect();
    let payer = before
        .get(&devices::records::device_key(signer))
        .map_or(*signer, |v| {
            devices::DeviceEntry::from_bytes(v)
                .expect("device entry")
                .owner
        });
    let signer_key = StateKey::Account(*signer).to_bytes();
    let payer_key = StateKey::Account(payer).to_bytes();
    let meta_key = StateKey::Meta.to_bytes();
    let credits_key = demand::records::credits_key(&payer);
    let tally_key = demand::records::tally_key(epoch);
    for key in before.keys().chain(after.keys()) {
        let (b, a) = (before.get(key), after.get(key));
        if b == a {
            continue;
        }
        let changed = || {
            format!(
                "entry {} changed: {:?} -> {:?}",
                hex::encode(key),
                b.map(hex::encode),
                a.map(hex::encode)
            )
        };
        if *key == signer_key || *key == payer_key {
            let (Some(b), Some(a)) = (b, a) else {
                return Err("the signer's or payer's account appeared or vanished".into());
            };
            let b = Account::from_bytes(b).expect("account");
            let a = Account::from_bytes(a).expect("account");
            let nonce = if *key == signer_key {
                b.nonce + 1
            } else {
                b.nonce
            };
            if a.balance > b.balance || a.nonce != nonce {
                return Err(format!(
                    "an account went from {b:?} to {a:?}: {}",
                    changed()
                ));
            }
        } else if *key == meta_key {
            let (b, a) = (
                Meta::from_bytes(b.unwrap()).expect("meta"),
                Meta::from_bytes(a.unwrap()).expect("meta"),
            );
            let same_but_burn = Meta {
                burned: b.burned,
                total_supply: b.total_supply,
                ..a.clone()
            };
            if same_but_burn != b || a.burned < b.burned {
                return Err(changed());
            }
        } else if *key == credits_key {
            let b = b
                .map(|v| CreditBalance::from_bytes(v).expect("credits"))
                .unwrap_or_default();
            let a = CreditBalance::from_bytes(a.ok_or_else(changed)?).expect("credits");
            if a.spent_on_data != b.spent_on_data
                || a.delegated != b.delegated
                || a.delegated_out != b.delegated_out
            {
                return Err(changed());
            }
        } else if closes_epoch && key[0] == depin_core::state::table::LEDGER {
            // The block closes the epoch: its summary counts the fee's burn (and re-mint).
            continue;
        } else if *key == tally_key {
            let b = b
                .map(|v| EpochTally::from_bytes(v).expect("tally"))
                .unwrap_or_default();
            let a = EpochTally::from_bytes(a.ok_or_else(changed)?).expect("tally");
            if a.credits_on_data != b.credits_on_data || a.receipts != b.receipts {
                return Err(changed());
            }
        } else {
            return Err(changed());
        }
    }
    Ok(())
}

fn supply_is_consistent(state: &State) -> Result<(), TestCaseError> {
    let m = state.meta();
    prop_assert_eq!(state.sum_of_balances(), m.total_supply);
    prop_assert_eq!(
        m.genesis_supply.0 + m.minted.0 - m.burned.0,
        m.total_supply.0,
        "supply = genesis + minted - burned"
    );
    Ok(())
}

fn run_case(plans: Vec<BlockPlan>) -> Result<(), TestCaseError> {
    let base = base();
    let mut case = Case {
        state: base.net_state.clone(),
        time_ms: base.time_ms,
        blocks: Vec::new(),
        actions: Vec::new(),
        txs: Vec::new(),
    };
    let mut all_receipts = Vec::new();
    for plan in &plans {
        let mut next = HashMap::new();
        let txs: Vec<Transaction> = plan.txs.iter().map(|p| case.tx(p, &mut next)).collect();
        let time_ms = case
            .time_ms
            .saturating_add(plan.step_ms.u64(1_000) % (MAX_BLOCK_TIME_STEP_MS + 1_000));
        let before = case.state.clone();
        let (block, applied) = build_block(
            &mut case.state,
            txs.clone(),
            time_ms,
            &validator(),
            Signatures::Verify,
        );
        case.time_ms = block.header.time_ms;
        supply_is_consistent(&case.state)?;
        BLOCKS_RUN.fetch_add(1, Ordering::Relaxed);
        TXS_RUN.fetch_add(txs.len() as u64, Ordering::Relaxed);

        // Each refusal against the same block without it: the block's transactions before it,
        // then with it, staged on the state before the block and rolled back.
        let refused: Vec<usize> = (0..txs.len())
            .filter(|&i| !applied.receipts[i].is_success())
            .collect();
        REFUSED.fetch_add(refused.len() as u64, Ordering::Relaxed);
        {
            let mut codes = CODES.lock().expect("codes");
            for r in &applied.receipts {
                *codes.entry(code(r)).or_default() += 1;
            }
        }
        if !refused.is_empty() {
            let mut probe = before;
            let mut stage = |upto: usize| {
                let (_, staged) = stage_block(
                    &mut probe,
                    txs[..upto].to_vec(),
                    block.header.time_ms,
                    &validator(),
                    Vec::new(),
                    Signatures::Verify,
                );
                let entries = probe.entries();
                probe.rollback();
                (staged.receipts, entries)
            };
            for &i in &refused {
                let (_, without) = stage(i);
                let (receipts, with) = stage(i + 1);
                prop_assert_eq!(&receipts[..], &applied.receipts[..=i]);
                let height = block.header.height;
                let (epoch, closes) = ((height - 1) / EPOCH_BLOCKS, height % EPOCH_BLOCKS == 0);
                if let Err(e) =
                    only_the_nonce_and_fee_moved(&without, &with, &txs[i].signer, epoch, closes)
                {
                    return Err(TestCaseError::fail(format!(
                        "refused transaction {i} ({:?}) changed the state: {e}; tx {:?}",
                        applied.receipts[i], txs[i]
                    )));
                }
            }
        }
        all_receipts.push(applied.receipts);
        case.blocks.push(block);
    }

    let mut replica = base.replica.clone();
    for (block, receipts) in case.blocks.iter().zip(&all_receipts) {
        let applied = apply_block(&mut replica, block, Signatures::Verify).map_err(|e| {
            TestCaseError::fail(format!("replay of block {}: {e}", block.header.height))
        })?;
        prop_assert_eq!(&applied.receipts, receipts);
        prop_assert_eq!(applied.app_hash, block.header.app_hash);
    }
    prop_assert_eq!(replica.app_hash(), case.state.app_hash());
    prop_assert_eq!(replica.entries(), case.state.entries());
    Ok(())
}

#[test]
fn hostile_blocks_never_panic_refusals_change_only_the_nonce_and_replay_identically() {
    let cases = cases();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    base();
    let started = Instant::now();
    let outcome = runner.run(&proptest::collection::vec(block_plan(), 1..8), run_case);
    eprintln!(
        "fuzz_execution: {cases} cases, {} blocks, {} transactions ({} refused) in {:.1} s; receipts {:?}",
        BLOCKS_RUN.load(Ordering::Relaxed),
        TXS_RUN.load(Ordering::Relaxed),
        REFUSED.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
        CODES.lock().expect("codes")
    );
    if let Err(e) = outcome {
        panic!("fuzz_execution: {e}");
    }
}
