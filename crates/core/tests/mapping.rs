//! The mapping module on a real chain: every reason code (bundle refusals and frame faults),
//! freshness paid once per refill, region pools, bounties paid exactly with their rounding
//! returned, the module's forgetting, and cheaters that earn nothing.

mod common;

use std::collections::BTreeSet;

use common::*;
use depin_core::economics::EconomyView;
use depin_core::genesis::Allocation;
use depin_core::module::Module;
use depin_core::modules::mapping::actions::{
    Frame, Location, OnboardDashcam, OpenBounty, SubmitBundle, sign_onboarding,
};
use depin_core::modules::mapping::params::RegionGenesis;
use depin_core::modules::mapping::preset::{self, DAY_MS};
use depin_core::modules::mapping::records::{MappingView, Verdict, escrow_account};
use depin_core::modules::mapping::{FrameFault, Mapping, MappingGenesis, MappingRejection};
use depin_core::modules::coverage::preset::BERLIN;
use depin_core::services::devices::{RetireDevice, SetDenylist};
use depin_core::{Action, Amount, Genesis, Hash, Keypair, Receipt, Transaction};
use proptest::prelude::*;

fn cam(i: u8) -> Keypair {
    Keypair::from_seed([150 + i; 32])
}

/// A bounty funder with tokens of its own.
fn funder() -> Keypair {
    Keypair::from_seed([140; 32])
}

const HAMBURG: Location = Location {
    lat_udeg: 53_550_000,
    lon_udeg: 9_993_000,
};
const LEIPZIG: Location = Location {
    lat_udeg: 51_340_000,
    lon_udeg: 12_373_000,
};

fn cell_hex(l: Location, res: u8) -> String {
    format!("{:x}", l.cell(res).unwrap())
}

/// Berlin (open, weight 1, the preset), Hamburg (open, weight 3), Leipzig (closed).
fn section() -> MappingGenesis {
    let mut m = preset::single_region(BERLIN);
    m.regions.push(RegionGenesis {
        name: "hamburg".into(),
        h3_cells: vec![cell_hex(HAMBURG, 6)],
        weight: 3,
        closed: false,
    });
    m.regions.push(RegionGenesis {
        name: "leipzig".into(),
        h3_cells: vec![cell_hex(LEIPZIG, 6)],
        weight: 1,
        closed: true,
    });
    m
}

fn mapping_genesis(edit: impl FnOnce(&mut Genesis)) -> Genesis {
    genesis(|g| {
        g.modules.mapping = Some(section());
        g.allocations.push(Allocation {
            address: funder().address(),
            amount: "1000".into(),
        });
        edit(g)
    })
}

fn onboard(net: &mut Net, c: &Keypair) {
    let a = Action::from(OnboardDashcam {
        device: c.address(),
        device_signature: sign_onboarding(CHAIN_ID, &owner().address(), c),
    });
    assert_eq!(net.send(&owner(), a), Receipt::Success);
}

/// A mapping network with dashcams `0..n` onboarded.
fn net_with(n: u8) -> Net {
    let mut net = Net::new(mapping_genesis(|_| {}));
    for i in 0..n {
        onboard(&mut net, &cam(i));
    }
    net
}

/// A deterministic 64-bit value from a tag and an index (distinct images, unrelated phashes).
fn mix(tag: u64, i: u64) -> u64 {
    let h = Hash::tagged("test/mix", &[&tag.to_le_bytes(), &i.to_le_bytes()]);
    u64::from_le_bytes(h.0[..8].try_into().unwrap())
}

/// `n` frames one second apart of a car driving east at `speed_cms` from `start`, the first
/// at `t0`; images and perceptual hashes drawn from `tag`.
fn drive(start: Location, t0: u64, n: usize, speed_cms: u16, tag: u64) -> Vec<Frame> {
    let m_per_udeg_lon = 0.11132 * start.lat_deg().to_radians().cos();
    (0..n)
        .map(|i| {
            let east_m = f64::from(speed_cms) / 100.0 * i as f64;
            Frame {
                time_ms: t0 + 1_000 * i as u64,
                lat_udeg: start.lat_udeg,
                lon_udeg: start.lon_udeg + (east_m / m_per_udeg_lon).round() as i32,
                speed_cms,
                heading_cdeg: 9_000,
                satellites: 12,
                hdop_centi: 90,
                image: Hash::tagged("test/image", &[&tag.to_le_bytes(), &i.to_le_bytes()]),
                phash: mix(tag, i as u64),
            }
        })
        .collect()
}

/// A drive of `n` frames at 10 m/s ending a second before the next block.
fn recent_drive(net: &Net, start: Location, n: usize, tag: u64) -> Vec<Frame> {
    drive(start, net.time_ms - 1_000 * n as u64, n, 1_000, tag)
}

fn bundle(c: &Keypair, seq: u64, frames: Vec<Frame>) -> Action {
    Action::from(SubmitBundle::signed(CHAIN_ID, c, seq, frames))
}

/// Submits a bundle signed and uploaded by the dashcam.
fn submit(net: &mut Net, c: &Keypair, seq: u64, frames: Vec<Frame>) -> Receipt {
    net.send(c, bundle(c, seq, frames))
}

/// The verdicts of a dashcam's accepted bundle `seq`.
fn verdicts(net: &Net, c: &Keypair, seq: u64) -> Vec<Verdict> {
    let epochs = net.state.height() / EPOCH_BLOCKS + 1;
    (0..epochs)
        .flat_map(|e| net.state.bundles(e, &c.address(), usize::MAX))
        .find(|(s, _)| *s == seq)
        .unwrap_or_else(|| panic!("bundle {seq} was accepted"))
        .1
        .verdicts
}

fn fault_codes(v: &[Verdict]) -> Vec<&'static str> {
    v.iter()
        .map(|v| v.fault.as_ref().map_or("ok", |f| f.code()))
        .collect()
}

fn weight_sum(v: &[Verdict]) -> u64 {
    v.iter().map(|v| u64::from(v.weight_ppm)).sum()
}

/// Runs empty blocks until the current epoch closes.
fn close_epoch(net: &mut Net) -> u64 {
    let epoch = net.state.height() / EPOCH_BLOCKS;
    while net.state.height() < (epoch + 1) * EPOCH_BLOCKS {
        net.block(vec![]);
    }
    epoch
}

fn balance(net: &Net, k: &Address) -> u128 {
    net.state.account(k).map_or(0, |a| a.balance.0)
}

use depin_core::Address;

fn rejected(r: &Receipt) -> &'static str {
    code(r)
}

#[test]
fn an_honest_drive_is_paid_for_the_freshness_of_its_cells() {
    let mut net = net_with(1);
    let frames = recent_drive(&net, BERLIN, 40, 1);
    assert_eq!(submit(&mut net, &cam(0), 1, frames), Receipt::Success);
    let v = verdicts(&net, &cam(0), 1);
    // The first frame has no reference; every one moved and is new: all valid.
    assert!(v.iter().all(|v| v.fault.is_none()), "{:?}", fault_codes(&v));
    // 10 m/s for 40 s: about 400 m, some 20 resolution-12 cells, each fully fresh once.
    let cells: BTreeSet<u64> = v.iter().map(|v| v.cell).collect();
    assert!(cells.len() >= 15, "{}", cells.len());
    assert_eq!(weight_sum(&v), cells.len() as u64 * 1_000_000);
    let epoch = close_epoch(&mut net);
    let reward = net.state.reward(epoch, &cam(0).address()).expect("paid");
    assert!(reward.amount.0 > 0 && reward.shares > 0, "{reward:?}");
    let s = net.state.epoch_summary(epoch).unwrap();
    epoch_is_conserved(&s);
    assert_eq!(counter(&s, "mapping", "frames_paid"), 40);
    assert_eq!(counter(&s, "mapping", "bundles"), 1);
    net.replays_identically();
}

#[test]
fn every_bundle_refusal_has_its_reason_code() {
    let mut net = net_with(2);
    let mut seen = BTreeSet::new();
    let c = cam(0);
    let good = recent_drive(&net, BERLIN, 5, 2);
    let check = |net: &mut Net, tx_action: Action, signer: &Keypair, want: &str| {
        let r = net.send(signer, tx_action);
        assert_eq!(rejected(&r), want, "{r:?}");
        let Receipt::Rejected(why) = &r else { unreachable!() };
        assert!(!why.to_string().is_empty());
        want.to_string()
    };
    // A signature by another key over the same bundle.
    let mut forged = SubmitBundle::signed(CHAIN_ID, &cam(1), 1, good.clone());
    forged.device = c.address();
    seen.insert(check(&mut net, Action::from(forged), &owner(), "bad_bundle_signature"));
    seen.insert(check(&mut net, bundle(&c, 1, vec![]), &c, "empty_bundle"));
    let long = recent_drive(&net, BERLIN, 49, 3);
    seen.insert(check(&mut net, bundle(&c, 1, long), &c, "too_many_frames"));
    let mut backwards = good.clone();
    backwards[3].time_ms = backwards[2].time_ms;
    seen.insert(check(&mut net, bundle(&c, 1, backwards), &c, "time_not_forward"));
    let old = drive(BERLIN, net.time_ms - 3 * DAY_MS, 5, 1_000, 4);
    seen.insert(check(&mut net, bundle(&c, 1, old), &c, "bundle_too_old"));
    let future = drive(BERLIN, net.time_ms + 120_000, 5, 1_000, 5);
    seen.insert(check(&mut net, bundle(&c, 1, future), &c, "bundle_in_future"));
    for (field, edit) in [
        ("latitude", (|f: &mut Frame| f.lat_udeg = 90_000_001) as fn(&mut Frame)),
        ("longitude", |f: &mut Frame| f.lon_udeg = -180_000_001),
        ("heading", |f: &mut Frame| f.heading_cdeg = 36_000),
    ] {
        let mut bad = good.clone();
        edit(&mut bad[1]);
        let r = net.send(&c, bundle(&c, 1, bad));
        assert_eq!(
            r,
            Receipt::Rejected(
                MappingRejection::FieldOutOfRange {
                    index: 1,
                    field: field.into()
                }
                .into()
            )
        );
        seen.insert("field_out_of_range".into());
    }
    // Accepted once; the same sequence again, or a lower one, is a replay.
    assert_eq!(submit(&mut net, &c, 7, good.clone()), Receipt::Success);
    let later = recent_drive(&net, BERLIN, 5, 6);
    seen.insert(check(&mut net, bundle(&c, 7, later.clone()), &c, "stale_sequence"));
    seen.insert(check(&mut net, bundle(&c, 3, later.clone()), &c, "stale_sequence"));
    // A higher sequence whose frames are not after the last accepted frame.
    seen.insert(check(&mut net, bundle(&c, 8, good), &c, "time_not_forward"));

    // Bounties.
    let f = funder();
    let open = |cells: Vec<u64>, amount: u128, passes: u8, until_ms: u64| {
        Action::from(OpenBounty {
            cells,
            amount: Amount(amount),
            passes,
            until_ms,
        })
    };
    let cell = BERLIN.cell(12).unwrap();
    let until = net.time_ms + DAY_MS;
    seen.insert(check(&mut net, open(vec![], 1_000, 1, until), &f, "bounty_cells"));
    seen.insert(check(&mut net, open(vec![cell, cell], 1_000, 1, until), &f, "bounty_cells"));
    seen.insert(check(&mut net, open(vec![BERLIN.cell(11).unwrap()], 1_000, 1, until), &f, "bounty_bad_cell"));
    seen.insert(check(&mut net, open(vec![LEIPZIG.cell(12).unwrap()], 1_000, 1, until), &f, "bounty_bad_cell"));
    let now = net.time_ms;
    seen.insert(check(&mut net, open(vec![cell], 1_000, 1, now), &f, "bounty_period"));
    seen.insert(check(&mut net, open(vec![cell], 1_000, 1, now + 31 * DAY_MS), &f, "bounty_period"));
    seen.insert(check(&mut net, open(vec![cell], 1_000, 0, until), &f, "bounty_passes"));
    seen.insert(check(&mut net, open(vec![cell], 1_000, 5, until), &f, "bounty_passes"));
    seen.insert(check(&mut net, open(vec![cell], 3, 4, until), &f, "bounty_too_small"));
    let r = net.send(&f, open(vec![cell], u128::MAX / 2, 1, until));
    assert_eq!(code(&r), "insufficient_funds");

    let all: BTreeSet<String> = MappingRejection::CODES.iter().map(|c| c.to_string()).collect();
    assert_eq!(seen, all, "every bundle and bounty refusal is exercised");
    net.replays_identically();
}

/// Submits `frames` as bundle `seq` of `c` and returns the codes of its verdicts.
fn judged(net: &mut Net, c: &Keypair, seq: u64, frames: Vec<Frame>) -> Vec<&'static str> {
    assert_eq!(submit(net, c, seq, frames), Receipt::Success);
    fault_codes(&verdicts(net, c, seq))
}

/// Microdegrees of longitude for `m` metres east at Berlin's latitude.
fn east_udeg(m: f64) -> i32 {
    (m / (0.11132 * BERLIN.lat_deg().to_radians().cos())).round() as i32
}

#[test]
fn every_frame_fault_has_its_reason_code() {
    let mut net = net_with(5);
    let mut seen = BTreeSet::new();
    let c = cam(0);
    // Bundles 10 s apart: longer than the frame gap, so each starts from its own first frame.
    let mut t = net.time_ms - 100_000;

    // Each bundle: two good frames, then one tampered frame judged against the second.
    let cases: Vec<(&str, fn(&mut Frame))> = vec![
        ("too_fast", |f| f.speed_cms = 4_100),
        ("implausible_jump", |f| f.lat_udeg += 10_000),
        ("distance_mismatch", |f| f.lon_udeg += east_udeg(20.0)),
        ("acceleration", |f| {
            // 10 m/s to 19 m/s in a second, at a distance that fits the mean speed.
            f.speed_cms = 1_900;
            f.lon_udeg += east_udeg(4.5);
        }),
        ("poor_gnss", |f| f.satellites = 3),
        ("poor_gnss", |f| f.hdop_centi = 401),
    ];
    let mut seq = 0;
    for (want, edit) in cases {
        seq += 1;
        let mut frames = drive(BERLIN, t, 3, 1_000, 100 + seq);
        edit(&mut frames[2]);
        let got = judged(&mut net, &c, seq, frames);
        assert_eq!(got, ["ok", "ok", want], "{want}");
        seen.insert(want);
        t += 10_000;
    }
    // Stationary by speed: a car at 1 m/s that stops.
    seq += 1;
    let mut frames = drive(BERLIN, t, 3, 100, 202);
    frames[2].speed_cms = 20;
    assert_eq!(judged(&mut net, &c, seq, frames), ["ok", "ok", "stationary"]);
    seen.insert("stationary");
    t += 10_000;
    // Stationary by position: a parked car reporting a crawl (0.6 m/s) that does not move.
    seq += 1;
    let mut frames = drive(BERLIN, t, 2, 60, 201);
    frames[1].lon_udeg = frames[0].lon_udeg;
    assert_eq!(judged(&mut net, &c, seq, frames), ["ok", "stationary"]);
    // The second frame above was judged against a fix of a second ago within the gap: its
    // verdict says it moved 0 m.
    let v = verdicts(&net, &c, seq);
    assert_eq!(
        v[1].fault,
        Some(FrameFault::Stationary {
            speed_cms: 60,
            step_mm: 0
        })
    );

    // Regions: Leipzig is closed, the Gulf of Guinea is outside every region.
    let frames = recent_drive(&net, LEIPZIG, 3, 300);
    let got = judged(&mut net, &cam(1), 1, frames);
    assert_eq!(got, ["closed_region"; 3]);
    seen.insert("closed_region");
    let nowhere = Location {
        lat_udeg: 0,
        lon_udeg: 0,
    };
    let frames = recent_drive(&net, nowhere, 3, 301);
    let got = judged(&mut net, &cam(2), 1, frames);
    assert_eq!(got, ["outside_regions"; 3]);
    seen.insert("outside_regions");

    // Duplicates: another dashcam uploads the same images (exact), then the same scenes
    // re-encoded (perceptual hashes two bits off) along the same street.
    let honest = recent_drive(&net, HAMBURG, 6, 400);
    let got = judged(&mut net, &cam(3), 1, honest.clone());
    assert_eq!(got, ["ok"; 6]);
    let mut copy = honest.clone();
    for (i, f) in copy.iter_mut().enumerate() {
        f.time_ms = net.time_ms - 6_000 + 1_000 * i as u64;
    }
    let got = judged(&mut net, &cam(4), 1, copy.clone());
    assert_eq!(got, ["duplicate_image"; 6]);
    seen.insert("duplicate_image");
    net.time_ms += 10_000;
    for (i, f) in copy.iter_mut().enumerate() {
        f.time_ms = net.time_ms - 6_000 + 1_000 * i as u64;
        f.image = Hash::tagged("test/re-encoded", &[&[i as u8]]);
        f.phash ^= 0b101 << (i * 3);
    }
    let got = judged(&mut net, &cam(4), 2, copy);
    assert_eq!(got, ["near_duplicate"; 6]);
    seen.insert("near_duplicate");
    assert_eq!(weight_sum(&verdicts(&net, &cam(4), 2)), 0, "flagged frames earn nothing");

    let all: BTreeSet<&str> = FrameFault::CODES.iter().copied().collect();
    assert_eq!(seen, all, "every frame fault is exercised");
    for f in [
        FrameFault::TooFast { speed_cms: 4_100, max_cms: 4_000 },
        FrameFault::OutsideRegions {},
    ] {
        assert!(!f.to_string().is_empty());
    }
    net.replays_identically();
}
