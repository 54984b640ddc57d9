//! Honest simulated hotspots and cheaters on one real node: the cheaters earn little or nothing,
//! and the reports that give them away are refused with the right reason codes.

mod common;

use common::{earnings_over, start_network, test_genesis};
use std::collections::{BTreeMap, BTreeSet};

use depin_agent::epoch_summary::Summaries;
use depin_agent::hotspot::{Fleet, HotspotArgs, Role};
use depin_core::Keypair;
use depin_node::Home;

#[test]
fn cheaters_earn_little_and_their_reports_are_refused_for_the_right_reasons() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = Home::new(dir.path());
    let owner = Keypair::from_seed([2; 32]);
    let genesis = test_genesis("depin-cheaters", &[(owner.address(), "100000")]);
    let (url, _) = start_network(&home, &genesis);

    let args = HotspotArgs {
        spoofers: 3,
        inflators: 3,
        ring: 4,
        ..HotspotArgs::honest(25, 8_000.0, 5)
    };
    let mut fleet = Fleet::new(&args, &url, owner).expect("fleet");
    fleet.onboard().expect("onboarding");
    // Past the grace period (3 windows), then two whole epochs.
    let (first, last, total) = earnings_over(&mut fleet, 2);
    let mut honest = total[&Role::Honest].clone();
    honest.sort_unstable();
    let median = honest[honest.len() / 2];
    eprintln!("earnings by role over epochs {first}..={last}: {total:?}");
    assert!(median > 0, "honest hotspots earn");
    // The bound: a cheater earns only through reports the ledger accepts. Every witness report
    // of a cheater is refused (spoofers too far, inflators stronger than free space, the ring too
    // close), and after the grace period a hotspot without an accepted witness report loses its
    // beacons to reciprocity too, so after the first epoch a cheater has no verified work at all.
    // A tenth of the honest median leaves room for a stray accepted report and nothing more.
    for role in [Role::Spoofer, Role::Inflator, Role::Ring] {
        for (i, earned) in total[&role].iter().enumerate() {
            assert!(
                *earned * 10 < median,
                "{} #{i} earned {earned}, the honest median is {median}",
                role.name()
            );
        }
    }

    // The reasons, from the start: a ring gives itself away while it still may beacon (its
    // members witness each other from too close), and is then cut off for lack of reciprocity.
    let roles: BTreeMap<String, Role> = fleet
        .members
        .iter()
        .map(|m| (m.key.address().to_string(), m.role))
        .collect();
    let mut codes: BTreeMap<Role, BTreeSet<String>> = BTreeMap::new();
    // Honest reports refused for a reason other than witnessing a spoofer (whose asserted
    // location is too far from what really heard it).
    let mut honest_refused_otherwise = Vec::new();
    let mut honest_refused_on_spoofers = 0usize;
    for m in &fleet.members {
        for epoch in 0..=last {
            let r = fleet
                .client()
                .get(&format!("/v1/rewards/{epoch}/{}", m.key.address()))
                .expect("explanation");
            for rej in r["rejected_reports"].as_array().into_iter().flatten() {
                let code = rej["code"].as_str().unwrap_or("?").to_string();
                if m.role == Role::Honest {
                    let tx = fleet
                        .client()
                        .get(&format!("/v1/tx/{}", rej["hash"].as_str().expect("hash")))
                        .expect("the refused report is on the chain");
                    let beaconer = find_field(&tx["tx"], "beaconer")
                        .and_then(|b| roles.get(b.as_str()?).copied());
                    if beaconer == Some(Role::Spoofer) && code == "too_far" {
                        honest_refused_on_spoofers += 1;
                    } else {
                        honest_refused_otherwise.push((code.clone(), beaconer));
                    }
                }
                codes.entry(m.role).or_default().insert(code);
            }
        }
    }
    eprintln!("rejection codes by role: {codes:?}");
    assert!(codes[&Role::Inflator].contains("rssi_too_strong"));
    assert!(
        codes[&Role::Spoofer].contains("rssi_too_strong")
            || codes[&Role::Spoofer].contains("too_far")
    );
    assert!(codes[&Role::Ring].contains("too_close"));
    for role in [Role::Spoofer, Role::Inflator, Role::Ring] {
        assert!(
            codes[&role].contains("no_reciprocity"),
            "a {} whose witness reports are all refused is soon refused as a beaconer too",
            role.name()
        );
    }

    // The devnet's summary of the same epochs, read from the same API.
    let lines = Summaries::from_epoch(last)
        .new_epochs(&fleet)
        .expect("summary");
    eprintln!("{}", lines.join("\n"));
    assert!(lines[0].starts_with(&format!("── epoch {last} closed at height")));
    assert!(
        lines.iter().any(|l| l.contains("median earned per device: 3 spoofers 0 DPN each, 3 inflators 0 DPN each, 4 ring members 0 DPN each; an honest hotspot")),
        "{lines:?}"
    );

    let mut accepted = 0u64;
    let mut refused = 0u64;
    for epoch in first..=last {
        let e = fleet
            .client()
            .get(&format!("/v1/epochs/{epoch}"))
            .expect("epoch");
        for (code, n) in e["report_outcomes"].as_object().expect("outcomes") {
            if code == "accepted" {
                accepted += n.as_u64().unwrap_or(0);
            } else {
                refused += n.as_u64().unwrap_or(0);
            }
        }
    }
    eprintln!(
        "reports: {accepted} accepted, {refused} refused; honest reports refused: {honest_refused_on_spoofers} witnesses of spoofers (too_far), otherwise {honest_refused_otherwise:?}"
    );
    assert!(
        accepted > 3 * refused,
        "{accepted} accepted vs {refused} refused"
    );
    // Honest hotspots lose only what a spoofer's lie costs its real neighbours. Anything else
    // (a report landing a window late on a loaded machine) must stay rare.
    assert!(
        honest_refused_otherwise.len() * 100 <= accepted as usize,
        "honest reports refused: {honest_refused_otherwise:?}"
    );
}

/// The first value of a field named `name` anywhere in a JSON document.
fn find_field<'a>(v: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    match v {
        serde_json::Value::Object(o) => o
            .get(name)
            .or_else(|| o.values().find_map(|x| find_field(x, name))),
        serde_json::Value::Array(a) => a.iter().find_map(|x| find_field(x, name)),
        _ => None,
    }
}
