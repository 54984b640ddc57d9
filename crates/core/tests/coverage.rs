//! The coverage module through whole blocks: every check refuses with its own reason code,
//! honest proof is accepted and paid at the epoch's end, money is conserved, and a replay of the
//! same blocks gives the same state.

mod common;

use common::*;
use depin_core::economics::EconomyView;
use depin_core::modules::coverage::actions::{
    AssertLocation, DeviceKind, Location, OnboardDevice, Witness, sign_onboarding,
};
use depin_core::modules::coverage::device::CoverageView;
use depin_core::modules::coverage::preset;
use depin_core::services::devices::{RetireDevice, SetDenylist, TransferDevice};
use depin_core::services::fees::{FeeParams, fee_for};
use depin_core::{Action, Amount, Hash, Keypair, Receipt};
use proptest::prelude::*;

const A: Location = preset::BERLIN;
fn b_loc() -> Location {
    at(2_000.0, 0.0)
}

/// A and B onboarded 2 km apart, A's beacon accepted in a fresh window; returns
/// (net, window, entropy, sent_at).
fn with_beacon() -> (Net, u64, Hash, u64) {
    let mut net = Net::new(genesis(|_| {}));
    net.onboard(&hotspot(1), A);
    net.onboard(&hotspot(2), b_loc());
    let (w, e) = net.next_window();
    let sent = net.time_ms + 500;
    assert_eq!(
        net.send(&hotspot(1), beacon(&hotspot(1), w, &e, sent)),
        Receipt::Success
    );
    (net, w, e, sent)
}

#[test]
fn an_honest_witness_is_accepted_and_recorded() {
    let (mut net, w, e, sent) = with_beacon();
    let r = net.send(
        &hotspot(2),
        Action::from(witness(&hotspot(1), &hotspot(2), A, b_loc(), w, &e, sent)),
    );
    assert_eq!(r, Receipt::Success);
    let record = net.state.beacon(w, &hotspot(1).address()).unwrap();
    assert_eq!(record.witnesses, vec![hotspot(2).address()]);
}

/// Sends a witness from B with `edit` applied and returns the refusal code.
fn witness_code(edit: impl FnOnce(&mut Witness)) -> &'static str {
    let (mut net, w, e, sent) = with_beacon();
    let mut report = witness(&hotspot(1), &hotspot(2), A, b_loc(), w, &e, sent);
    edit(&mut report);
    code(&net.send(&hotspot(2), Action::from(report)))
}

#[test]
fn witness_checks_each_refuse_with_their_own_code() {
    assert_eq!(
        witness_code(|w| w.heard_at_ms += 5_000),
        "report_time_out_of_bounds"
    );
    assert_eq!(
        witness_code(|w| w.heard_at_ms -= 120_000),
        "report_time_out_of_bounds"
    );
    assert_eq!(witness_code(|w| w.heard_at_ms -= 100), "witness_too_late");
    assert_eq!(
        witness_code(|w| w.frequency_hz += 200_000),
        "frequency_mismatch"
    );
    assert_eq!(witness_code(|w| w.rssi_cdbm += 2_500), "rssi_too_strong");
    assert_eq!(
        witness_code(|w| w.rssi_cdbm = -14_000),
        "rssi_below_sensitivity"
    );
    assert_eq!(witness_code(|w| w.snr_cdb = 5_000), "snr_inconsistent");
    assert_eq!(witness_code(|w| w.window += 1), "entropy_unknown");
    assert_eq!(
        witness_code(|w| w.beaconer = hotspot(3).address()),
        "unknown_beacon"
    );
}

/// A's beacon with B's report of what it heard on air and C's report of a payload it guessed
/// from public data (it never heard the beacon), then the reveal.
#[test]
fn the_reveal_keeps_the_witnesses_that_heard_the_payload_and_refuses_with_reasons() {
    let (mut net, w, e, sent) = with_beacon();
    let c = at(0.0, 3_000.0);
    net.onboard(&hotspot(3), c);
    let heard = witness(&hotspot(1), &hotspot(2), A, b_loc(), w, &e, sent);
    let guessed = witness_of(&hotspot(1), &hotspot(3), &e, (A, c), w, &e, sent);
    // A copy of B's commitment names B: it cannot match for C.
    let mut copied = heard.clone();
    copied.heard_at_ms += 1;
    assert_eq!(net.send(&hotspot(2), Action::from(heard)), Receipt::Success);
    assert_eq!(
        net.send(&hotspot(3), Action::from(guessed)),
        Receipt::Success
    );
    net.onboard(&hotspot(4), at(-3_000.0, 0.0));
    assert_eq!(
        net.send(&hotspot(4), Action::from(copied)),
        Receipt::Success
    );
    let reveal_a = |entropy: &Hash| reveal(&hotspot(1), w, entropy);
    assert_eq!(
        code(&net.send(&hotspot(1), reveal_a(&e))),
        "reveal_too_early"
    );
    while net.state.height() / BEACON_INTERVAL < w + REVEAL_LAG {
        net.block(vec![]);
    }
    // Reports of window w are closed before its reveal opens. A signature of other entropy, or
    // another key's signature of the right message, does not make the committed payload.
    let late = witness(&hotspot(1), &hotspot(2), A, b_loc(), w, &e, net.time_ms);
    let mut forged = reveal(&hotspot(1), w, &e);
    if let Action::Module(depin_core::modules::ModuleAction::Coverage(
        depin_core::modules::coverage::actions::CoverageAction::Reveal(r),
    )) = &mut forged
    {
        r.signature = hotspot(2).sign(&depin_core::modules::coverage::actions::beacon_message(
            CHAIN_ID,
            &e,
            w,
            &hotspot(1).address(),
        ));
    }
    let (n1, n2) = (net.nonce(&hotspot(1)), net.nonce(&hotspot(2)));
    let sign = |k: &Keypair, n: u64, a: Action| net.tx_at(k, n, a);
    let txs = vec![
        sign(&hotspot(2), n2, Action::from(late)),
        sign(&hotspot(1), n1, reveal_a(&Hash([9; 32]))),
        sign(&hotspot(1), n1 + 1, forged),
        sign(&hotspot(2), n2 + 1, reveal(&hotspot(2), w, &e)),
        sign(&hotspot(1), n1 + 2, reveal_a(&e)),
        sign(&hotspot(1), n1 + 3, reveal_a(&e)),
    ];
    let codes: Vec<_> = net.block(txs).iter().map(code).collect();
    assert_eq!(
        codes,
        [
            "entropy_expired",
            "wrong_payload",
            "wrong_payload",
            "unknown_beacon",
            "success",
            "already_revealed"
        ]
    );
    let record = net.state.beacon(w, &hotspot(1).address()).unwrap();
    assert_eq!(record.witnesses, vec![hotspot(2).address()]);
    assert_eq!(
        record.mismatched,
        vec![hotspot(3).address(), hotspot(4).address()]
    );
    assert_eq!(record.revealed, Some(payload_on_air(&hotspot(1), w, &e)));
    while net.state.height() / BEACON_INTERVAL < w + REVEAL_LAG + 1 {
        net.block(vec![]);
    }
    assert_eq!(
        code(&net.send(&hotspot(1), reveal_a(&e))),
        "reveal_too_late"
    );
    net.replays_identically();
}

#[test]
fn self_and_duplicate_witnesses_are_refused() {
    let (mut net, w, e, sent) = with_beacon();
    let own = witness(&hotspot(1), &hotspot(1), A, A, w, &e, sent);
    assert_eq!(
        code(&net.send(&hotspot(1), Action::from(own))),
        "self_witness"
    );
    let report = witness(&hotspot(1), &hotspot(2), A, b_loc(), w, &e, sent);
    assert_eq!(
        net.send(&hotspot(2), Action::from(report.clone())),
        Receipt::Success
    );
    assert_eq!(
        code(&net.send(&hotspot(2), Action::from(report))),
        "duplicate_witness"
    );
}

#[test]
fn witnesses_too_close_too_far_or_in_another_plan_are_refused() {
    let (mut net, w, e, sent) = with_beacon();
    let close = at(50.0, 0.0);
    let far = at(150_000.0, 0.0);
    net.onboard(&hotspot(3), close);
    net.onboard(&hotspot(4), far);
    let other_plan = net.onboard_action(&hotspot(5), "EU433", Some(at(0.0, 3_000.0)));
    assert_eq!(net.send(&owner(), other_plan), Receipt::Success);
    let r = net.send(
        &hotspot(3),
        Action::from(witness(&hotspot(1), &hotspot(3), A, close, w, &e, sent)),
    );
    assert_eq!(code(&r), "too_close");
    let r = net.send(
        &hotspot(4),
        Action::from(witness(&hotspot(1), &hotspot(4), A, far, w, &e, sent)),
    );
    assert_eq!(code(&r), "too_far");
    let report = witness(&hotspot(1), &hotspot(5), A, at(0.0, 3_000.0), w, &e, sent);
    let r = net.send(&hotspot(5), Action::from(report));
    assert_eq!(code(&r), "region_mismatch");
}

#[test]
fn a_beacon_keeps_only_the_witnesses_the_ledger_records() {
    let mut net = Net::new(genesis(|g| {
        g.modules
            .coverage
            .as_mut()
            .unwrap()
            .rules
            .max_witnesses_per_beacon = 2;
    }));
    net.onboard(&hotspot(1), A);
    let spots = [at(2_000.0, 0.0), at(0.0, 2_000.0), at(-2_000.0, 0.0)];
    for (i, l) in spots.iter().enumerate() {
        net.onboard(&hotspot(2 + i as u8), *l);
    }
    let (w, e) = net.next_window();
    let sent = net.time_ms + 500;
    let mut txs = vec![net.tx(&hotspot(1), beacon(&hotspot(1), w, &e, sent))];
    for (i, l) in spots.iter().enumerate() {
        let k = hotspot(2 + i as u8);
        txs.push(net.tx(
            &k,
            Action::from(witness(&hotspot(1), &k, A, *l, w, &e, sent)),
        ));
    }
    let codes: Vec<_> = net.block(txs).iter().map(code).collect();
    // The third report is accepted (it counts for its hotspot's reciprocity) but not kept.
    assert_eq!(codes, ["success", "success", "success", "success"]);
    let record = net.state.beacon(w, &hotspot(1).address()).unwrap();
    assert_eq!(record.witnesses.len(), 2);
    assert_eq!(record.overflow, 1);
    assert_eq!(
        net.state
            .device(&hotspot(4).address())
            .unwrap()
            .last_witness_window,
        Some(w)
    );
}

#[test]
fn one_hotspot_witnesses_at_most_the_cap_of_beacons_per_window() {
    let mut net = Net::new(genesis(|g| {
        g.modules
            .coverage
            .as_mut()
            .unwrap()
            .rules
            .max_witnessed_per_window = 1;
    }));
    let spots = [A, at(0.0, 3_000.0), at(2_000.0, 0.0)];
    for (i, l) in spots.iter().enumerate() {
        net.onboard(&hotspot(1 + i as u8), *l);
    }
    let (w, e) = net.next_window();
    let sent = net.time_ms;
    let txs = vec![
        net.tx(&hotspot(1), beacon(&hotspot(1), w, &e, sent)),
        net.tx(&hotspot(2), beacon(&hotspot(2), w, &e, sent)),
    ];
    net.block(txs);
    let (me, n) = (hotspot(3), net.nonce(&hotspot(3)));
    let reports = [
        witness(&hotspot(1), &me, A, spots[2], w, &e, sent),
        witness(&hotspot(2), &me, spots[1], spots[2], w, &e, sent),
    ];
    let txs = reports
        .iter()
        .enumerate()
        .map(|(i, r)| net.tx_at(&me, n + i as u64, Action::from(r.clone())))
        .collect();
    let codes: Vec<_> = net.block(txs).iter().map(code).collect();
    assert_eq!(codes, ["success", "too_many_witnesses"]);
}

/// The extremes of a beacon's signed power are refused at the check, before any arithmetic on
/// them (i32::MIN used to pass the EIRP limit and wrap the link budget in release builds).
#[test]
fn out_of_range_transmit_power_is_refused() {
    let mut net = Net::new(genesis(|_| {}));
    net.onboard(&hotspot(1), A);
    let k = hotspot(1);
    for extreme in [i32::MIN, -3_001, 4_001, i32::MAX] {
        let (w, e) = net.next_window();
        let mut odd = beacon(&k, w, &e, net.time_ms);
        beacon_mut(&mut odd).tx_power_cdbm = extreme;
        assert_eq!(
            code(&net.send(&k, odd)),
            "tx_power_out_of_range",
            "{extreme}"
        );
    }
}

#[test]
fn beacon_checks_each_refuse_with_their_own_code() {
    let mut net = Net::new(genesis(|_| {}));
    net.onboard(&hotspot(1), A);
    let (w, e) = net.next_window();
    let k = hotspot(1);
    let sent = net.time_ms;
    let mut future = beacon(&k, w, &e, sent);
    beacon_mut(&mut future).sent_at_ms = sent + 60_000;
    assert_eq!(code(&net.send(&k, future)), "report_time_out_of_bounds");
    let mut stale = beacon(&k, w, &e, sent);
    beacon_mut(&mut stale).sent_at_ms = sent - 120_000;
    assert_eq!(code(&net.send(&k, stale)), "report_time_out_of_bounds");
    let mut wrong_channel = beacon(&k, w, &e, sent);
    let b = beacon_mut(&mut wrong_channel);
    b.channel = (b.channel + 1) % preset::EU868_CHANNELS_HZ.len() as u16;
    assert_eq!(code(&net.send(&k, wrong_channel)), "wrong_channel");
    let mut loud = beacon(&k, w, &e, sent);
    beacon_mut(&mut loud).tx_power_cdbm = 1_500;
    assert_eq!(code(&net.send(&k, loud)), "power_above_limit");
    assert_eq!(
        code(&net.send(&k, beacon(&k, w + 1, &e, sent))),
        "entropy_unknown"
    );
    assert_eq!(net.send(&k, beacon(&k, w, &e, sent)), Receipt::Success);
    assert_eq!(
        code(&net.send(&k, beacon(&k, w, &e, sent))),
        "beacon_too_frequent"
    );
    // Two windows later, window w is past the allowed age of one window.
    while net.next_window().0 < w + 2 {
        net.block(vec![]);
    }
    let old = net.state.entropy(w).map_or(e, |h| h);
    assert_eq!(
        code(&net.send(&k, beacon(&k, w, &old, sent))),
        "entropy_expired"
    );
}

#[test]
fn reports_need_a_known_capable_allowed_located_device() {
    let mut net = Net::new(genesis(|_| {}));
    // Known account, but not a device.
    let (w, e) = net.next_window();
    assert_eq!(
        code(&net.send(&owner(), beacon(&owner(), w, &e, 0))),
        "unknown_device"
    );
    // No location.
    let a = net.onboard_action(&hotspot(1), "EU868", None);
    assert_eq!(net.send(&owner(), a), Receipt::Success);
    assert_eq!(
        code(&net.send(&hotspot(1), beacon(&hotspot(1), w, &e, 0))),
        "no_location"
    );
    // Data-only.
    let mut a = net.onboard_action(&hotspot(2), "EU868", Some(A));
    onboard_mut(&mut a).kind = DeviceKind::DataOnly;
    assert_eq!(net.send(&owner(), a), Receipt::Success);
    assert_eq!(
        code(&net.send(&hotspot(2), beacon(&hotspot(2), w, &e, 0))),
        "not_capable"
    );
    // Denied, by the governor only.
    net.onboard(&hotspot(3), b_loc());
    let deny = Action::from(SetDenylist {
        device: hotspot(3).address(),
        denied: true,
    });
    assert_eq!(code(&net.send(&owner(), deny.clone())), "not_emergency_key");
    assert_eq!(net.send(&governor(), deny), Receipt::Success);
    assert_eq!(
        code(&net.send(&hotspot(3), beacon(&hotspot(3), w, &e, 0))),
        "denylisted"
    );
    // Retired.
    let retire = Action::from(RetireDevice {
        device: hotspot(1).address(),
    });
    assert_eq!(net.send(&owner(), retire), Receipt::Success);
    // A retired key has no owner to pay its fee any more, and holds nothing itself.
    assert_eq!(
        code(&net.send(&hotspot(1), beacon(&hotspot(1), w, &e, 0))),
        "fee_unpaid"
    );
}

#[test]
fn reciprocity_is_required_after_the_grace_period() {
    let mut net = Net::new(genesis(|g| {
        g.modules
            .coverage
            .as_mut()
            .unwrap()
            .rules
            .reciprocity_grace_windows = 0;
    }));
    let (c_loc, d_loc) = (at(0.0, 3_000.0), at(0.0, -3_000.0));
    // All onboarded inside one window, so their grace ends with it.
    let (w0, e0) = net.next_window();
    let txs = vec![net.tx(&owner(), net.onboard_action(&hotspot(1), "EU868", Some(A)))];
    net.block(txs);
    for (i, l) in [(2u8, b_loc()), (3, c_loc), (4, d_loc)] {
        let a = net.onboard_action(&hotspot(i), "EU868", Some(l));
        assert_eq!(net.send(&owner(), a), Receipt::Success);
    }
    assert_eq!(
        net.state.height() / BEACON_INTERVAL,
        w0,
        "still in window w0"
    );
    // In w0 (grace): A and B beacon and witness each other.
    let sent = net.time_ms;
    let txs = vec![
        net.tx(&hotspot(1), beacon(&hotspot(1), w0, &e0, sent)),
        net.tx(&hotspot(2), beacon(&hotspot(2), w0, &e0, sent)),
    ];
    assert!(net.block(txs).iter().all(|r| *r == Receipt::Success));
    let txs = vec![
        net.tx(
            &hotspot(2),
            Action::from(witness(&hotspot(1), &hotspot(2), A, b_loc(), w0, &e0, sent)),
        ),
        net.tx(
            &hotspot(1),
            Action::from(witness(&hotspot(2), &hotspot(1), b_loc(), A, w0, &e0, sent)),
        ),
    ];
    assert!(net.block(txs).iter().all(|r| *r == Receipt::Success));
    // Window w0+1: A may beacon (it witnessed); D never witnessed; C never beaconed.
    let (w1, e1) = net.next_window();
    let sent = net.time_ms;
    assert_eq!(
        net.send(&hotspot(1), beacon(&hotspot(1), w1, &e1, sent)),
        Receipt::Success
    );
    let r = net.send(&hotspot(4), beacon(&hotspot(4), w1, &e1, sent));
    assert_eq!(code(&r), "no_reciprocity");
    assert!(r.to_string_lossy().contains("witnessed"));
    let report = witness(&hotspot(1), &hotspot(3), A, c_loc, w1, &e1, sent);
    let r = net.send(&hotspot(3), Action::from(report));
    assert_eq!(code(&r), "no_reciprocity");
    assert!(r.to_string_lossy().contains("beaconed"));
}

#[test]
fn a_network_back_from_an_outage_is_not_locked_out_by_reciprocity() {
    let mut net = Net::new(genesis(|g| {
        let r = &mut g.modules.coverage.as_mut().unwrap().rules;
        r.reciprocity_grace_windows = 0;
        r.reciprocity_windows = 3;
    }));
    let (w0, e0) = net.next_window();
    for (i, l) in [(1u8, A), (2, b_loc())] {
        let a = net.onboard_action(&hotspot(i), "EU868", Some(l));
        assert_eq!(net.send(&owner(), a), Receipt::Success);
    }
    let sent = net.time_ms;
    let txs = vec![
        net.tx(&hotspot(1), beacon(&hotspot(1), w0, &e0, sent)),
        net.tx(&hotspot(2), beacon(&hotspot(2), w0, &e0, sent)),
    ];
    assert!(net.block(txs).iter().all(|r| *r == Receipt::Success));
    // Both go away for longer than reciprocity looks back: nobody beacons, nobody witnesses.
    let mut last = (w0, e0);
    for _ in 0..5 {
        net.block(vec![]);
        last = net.next_window();
    }
    assert_eq!(last.0, w0 + 5);
    // The network accepted no beacon in the last 3 windows: there was nothing to witness, so
    // the first beacons after the outage are accepted (before, every one was no_reciprocity,
    // for ever: no beacon, so nothing to witness, so no beacon).
    let (w, e) = last;
    let sent = net.time_ms;
    assert_eq!(
        net.send(&hotspot(1), beacon(&hotspot(1), w, &e, sent)),
        Receipt::Success
    );
    // Once one hotspot is back, the others still had something to witness in the same window:
    // the rule looks at windows before this one, so hotspot 2 is not refused for 1's beacon.
    assert_eq!(
        net.send(&hotspot(2), beacon(&hotspot(2), w, &e, sent)),
        Receipt::Success
    );
    // In the next window reciprocity is back: 2 witnesses 1, 1 witnessed nobody.
    let report = witness(&hotspot(1), &hotspot(2), A, b_loc(), w, &e, sent);
    assert_eq!(
        net.send(&hotspot(2), Action::from(report)),
        Receipt::Success
    );
    let (w1, e1) = net.next_window();
    let sent = net.time_ms;
    assert_eq!(
        net.send(&hotspot(2), beacon(&hotspot(2), w1, &e1, sent)),
        Receipt::Success
    );
    let r = net.send(&hotspot(1), beacon(&hotspot(1), w1, &e1, sent));
    assert_eq!(
        code(&r),
        "no_reciprocity",
        "hotspot 1 had beacons to witness"
    );
}

trait Explain {
    fn to_string_lossy(&self) -> String;
}
impl Explain for Receipt {
    fn to_string_lossy(&self) -> String {
        match self {
            Receipt::Success => "success".into(),
            Receipt::Rejected(r) => r.to_string(),
        }
    }
}

#[test]
fn device_lifecycle_checks_each_refuse_with_their_own_code() {
    let mut net = Net::new(genesis(|_| {}));
    net.onboard(&hotspot(1), A);
    let again = net.onboard_action(&hotspot(1), "EU868", Some(A));
    assert_eq!(code(&net.send(&owner(), again)), "device_exists");
    let mut forged = net.onboard_action(&hotspot(2), "EU868", Some(A));
    onboard_mut(&mut forged).device_signature =
        sign_onboarding(CHAIN_ID, &governor().address(), &hotspot(2));
    assert_eq!(code(&net.send(&owner(), forged)), "bad_device_signature");
    let unknown = net.onboard_action(&hotspot(2), "US915", Some(A));
    assert_eq!(code(&net.send(&owner(), unknown)), "unknown_region");
    let new_york = Location::from_degrees(40.7128, -74.0060);
    let outside = net.onboard_action(&hotspot(2), "EU868", Some(new_york));
    assert_eq!(code(&net.send(&owner(), outside)), "outside_region");
    let off_earth = net.onboard_action(
        &hotspot(2),
        "EU868",
        Some(Location {
            lat_udeg: 95_000_000,
            lon_udeg: 0,
        }),
    );
    assert_eq!(code(&net.send(&owner(), off_earth)), "invalid_location");
    let mut huge_gain = net.onboard_action(&hotspot(2), "EU868", Some(A));
    onboard_mut(&mut huge_gain).gain_cdbi = 3_000;
    assert_eq!(code(&net.send(&owner(), huge_gain)), "gain_out_of_range");
    for extreme in [i32::MIN, -101, 1_001, i32::MAX] {
        let mut odd_height = net.onboard_action(&hotspot(2), "EU868", Some(A));
        onboard_mut(&mut odd_height).elevation_m = extreme;
        assert_eq!(
            code(&net.send(&owner(), odd_height)),
            "elevation_out_of_range",
            "{extreme}"
        );
    }
    let poor = Keypair::from_seed([99; 32]);
    let fund = Action::Transfer {
        to: poor.address(),
        amount: Amount(1_000_000),
    };
    assert_eq!(net.send(&owner(), fund), Receipt::Success);
    let a = Action::from(OnboardDevice {
        device_signature: sign_onboarding(CHAIN_ID, &poor.address(), &hotspot(2)),
        ..onboard_mut(&mut net.onboard_action(&hotspot(2), "EU868", Some(b_loc()))).clone()
    });
    assert_eq!(code(&net.send(&poor, a)), "insufficient_funds");

    let assert_loc = |l: Location| {
        Action::from(AssertLocation {
            device: hotspot(1).address(),
            location: l,
            gain_cdbi: GAIN_CDBI,
            elevation_m: 5,
        })
    };
    assert_eq!(
        code(&net.send(&governor(), assert_loc(b_loc()))),
        "not_device_owner"
    );
    assert_eq!(
        code(&net.send(&owner(), assert_loc(b_loc()))),
        "location_too_soon"
    );
    let transfer = Action::from(TransferDevice {
        device: hotspot(1).address(),
        new_owner: governor().address(),
    });
    assert_eq!(net.send(&owner(), transfer), Receipt::Success);
    assert_eq!(
        net.state.device(&hotspot(1).address()).unwrap().owner,
        governor().address()
    );
    net.supply_is_consistent();
}

#[test]
fn without_a_coverage_section_coverage_actions_are_refused() {
    let mut net = Net::new(genesis(|g| g.modules.coverage = None));
    let a = net.onboard_action(&hotspot(1), "EU868", Some(A));
    assert_eq!(code(&net.send(&owner(), a)), "coverage_disabled");
}

#[test]
fn fees_are_burned() {
    let mut net = Net::new(genesis(|_| {}));
    let before = net.state.meta().total_supply;
    net.onboard(&hotspot(1), A);
    let burned = net.state.meta().burned;
    let onboarding = &net.blocks.last().unwrap().txs[0];
    let tx_fee = fee_for(FeeParams::default().min_base_fee, onboarding.weight());
    assert!(tx_fee > 0);
    assert_eq!(
        burned,
        Amount(15_000_000 + u128::from(tx_fee)),
        "10 onboarding + 5 location tokens, and the transaction's fee"
    );
    assert_eq!(net.state.meta().total_supply.0, before.0 - burned.0);
    net.supply_is_consistent();
}

#[test]
fn an_epoch_pays_honest_hotspots_exactly_and_replays_identically() {
    let mut net = honest_network(3, 2, &[]);
    for epoch in 0..2 {
        let s = net.state.epoch_summary(epoch).expect("epoch closed");
        assert!(
            counter(&s, "coverage", "beacons") > 0 && counter(&s, "coverage", "witnesses") > 0,
            "{s:?}"
        );
        assert_eq!(
            s.paid.0 + s.dust.0 + s.treasury.0 + s.unminted.0,
            s.emission.0,
            "the emission is paid, kept as dust for the treasury, or not minted"
        );
        assert!(s.devices_paid >= 9, "{s:?}");
        let r = net.state.reward(epoch, &hotspot(10).address()).unwrap();
        let score = net.state.score(epoch, &hotspot(10).address()).unwrap();
        assert!(r.amount.0 > 0 && score.shares > 0, "{r:?} {score:?}");
        assert_eq!(r.shares, score.shares);
        assert_eq!(r.owner, owner().address());
    }
    // Halving after two epochs: the schedule is the ledger's.
    let e0 = net.state.epoch_summary(0).unwrap().emission;
    assert_eq!(e0, Amount(5_000_000_000));
    net.supply_is_consistent();

    net.replays_identically();
}

#[test]
fn a_device_denied_before_the_epoch_closes_earns_nothing() {
    let denied = hotspot(10);
    let net = honest_network_with(2, 1, &[], |net| {
        let deny = Action::from(SetDenylist {
            device: denied.address(),
            denied: true,
        });
        assert_eq!(net.send(&governor(), deny), Receipt::Success);
    });
    assert!(net.state.epoch_summary(0).is_some(), "epoch 0 closed");
    assert!(net.state.reward(0, &denied.address()).is_none());
    let other = net.state.reward(0, &hotspot(11).address()).unwrap();
    assert!(other.amount.0 > 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Whatever subset of witness reports arrives, money is conserved every block and every
    /// epoch's emission is accounted for to the base unit.
    #[test]
    fn money_is_conserved_whatever_reports_arrive(skip in proptest::collection::vec(any::<bool>(), 1..12)) {
        let mut net = honest_network(2, 1, &skip);
        let s = net.state.epoch_summary(0).unwrap();
        prop_assert_eq!(s.paid.0 + s.dust.0 + s.treasury.0 + s.unminted.0, s.emission.0);
        net.supply_is_consistent();
        let _ = net.state.app_hash();
    }
}

/// The device bond (issue 12): locked from the owner's balance while the device is active,
/// returned when the owner retires it, burned when the governor forfeits it; an owner who
/// cannot lock it beside the fee cannot onboard. Money is conserved throughout.
#[test]
fn a_bond_is_locked_returned_on_retire_and_burned_when_forfeited() {
    use depin_core::services::devices::{ForfeitBond, bond_escrow};
    let mut net = Net::new(genesis(|g| {
        g.modules.devices.as_mut().unwrap().bond = Some("100".into());
    }));
    let balance =
        |net: &Net, a: &depin_core::Address| net.state.account(a).map_or(0, |x| x.balance.0);
    let start = balance(&net, &owner().address());
    net.onboard(&hotspot(1), A);
    // 10 tokens onboarding, 5 location, 100 locked, and the transaction's fee.
    let mut fees = net.last_fee;
    assert_eq!(
        balance(&net, &owner().address()),
        start - 115 * TOKEN - fees
    );
    assert_eq!(balance(&net, &bond_escrow()), 100 * TOKEN);
    let retire = Action::from(RetireDevice {
        device: hotspot(1).address(),
    });
    assert_eq!(net.send(&owner(), retire), Receipt::Success);
    fees += net.last_fee;
    assert_eq!(balance(&net, &owner().address()), start - 15 * TOKEN - fees);
    assert_eq!(balance(&net, &bond_escrow()), 0);

    net.onboard(&hotspot(2), b_loc());
    let forfeit = Action::from(ForfeitBond {
        device: hotspot(2).address(),
    });
    assert_eq!(
        code(&net.send(&owner(), forfeit.clone())),
        "not_emergency_key"
    );
    let burned = net.state.meta().burned;
    assert_eq!(net.send(&governor(), forfeit.clone()), Receipt::Success);
    assert_eq!(
        net.state.meta().burned.0 - burned.0,
        100 * TOKEN + net.last_fee,
        "the bond and the transaction's fee"
    );
    assert_eq!(balance(&net, &bond_escrow()), 0);
    assert!(net.state.device(&hotspot(2).address()).is_none(), "removed");
    assert_eq!(code(&net.send(&governor(), forfeit)), "unknown_device");

    // An owner who holds the fee but not the bond beside it is refused before paying anything.
    let poor = Keypair::from_seed([77; 32]);
    let fund = Action::Transfer {
        to: poor.address(),
        amount: Amount(110 * TOKEN),
    };
    assert_eq!(net.send(&owner(), fund), Receipt::Success);
    let a = net.onboard_action_by(&poor, &hotspot(3), "EU868", Some(at(0.0, 3_000.0)));
    let r = net.send(&poor, a);
    assert_eq!(code(&r), "insufficient_funds");
    assert_eq!(
        balance(&net, &poor.address()),
        110 * TOKEN - net.last_fee,
        "nothing paid but the transaction's fee"
    );
    net.supply_is_consistent();
    net.replays_identically();
}

#[test]
fn one_hotspot_per_spot() {
    let mut net = Net::new(genesis(|_| {}));
    net.onboard(&hotspot(1), A);
    let near = Location {
        lat_udeg: A.lat_udeg + 1,
        lon_udeg: A.lon_udeg,
    };
    let again = net.onboard_action(&hotspot(2), "EU868", Some(near));
    assert_eq!(code(&net.send(&owner(), again)), "spot_taken");
    net.onboard(&hotspot(2), b_loc());
    let onto = Action::from(AssertLocation {
        device: hotspot(2).address(),
        location: near,
        gain_cdbi: GAIN_CDBI,
        elevation_m: 10,
    });
    while net.state.height() < 120 {
        net.block(vec![]);
    }
    assert_eq!(code(&net.send(&owner(), onto)), "spot_taken");
    // Its own spot again is no collision.
    let stay = Action::from(AssertLocation {
        device: hotspot(1).address(),
        location: A,
        gain_cdbi: GAIN_CDBI,
        elevation_m: 10,
    });
    assert_eq!(net.send(&owner(), stay), Receipt::Success);
}

/// The edge denylist (issue 12): the governor denies a pair, and their reports of each other
/// are refused either way round while each keeps working with others; lifting it restores them.
#[test]
fn a_denied_pair_cannot_witness_each_other() {
    use depin_core::services::devices::SetPairDenylist;
    let (mut net, w, e, sent) = with_beacon();
    let pair = |denied| {
        Action::from(SetPairDenylist {
            a: hotspot(2).address(),
            b: hotspot(1).address(),
            denied,
        })
    };
    assert_eq!(code(&net.send(&owner(), pair(true))), "not_emergency_key");
    assert_eq!(net.send(&governor(), pair(true)), Receipt::Success);
    let report = witness(&hotspot(1), &hotspot(2), A, b_loc(), w, &e, sent);
    let r = net.send(&hotspot(2), Action::from(report.clone()));
    assert_eq!(code(&r), "pair_denied");
    // Another hotspot still witnesses the same beacon.
    let c = at(0.0, 3_000.0);
    net.onboard(&hotspot(3), c);
    let other = witness(&hotspot(1), &hotspot(3), A, c, w, &e, sent);
    assert_eq!(net.send(&hotspot(3), Action::from(other)), Receipt::Success);
    assert_eq!(net.send(&governor(), pair(false)), Receipt::Success);
    assert_eq!(
        net.send(&hotspot(2), Action::from(report)),
        Receipt::Success
    );
}
