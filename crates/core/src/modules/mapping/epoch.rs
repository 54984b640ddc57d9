//! The end of an epoch for the mapping module: bounty claims are paid from escrow (or returned
//! to their funders if the dashcam was retired or denied), ended bounties refund what nobody
//! claimed and their rounding, and each dashcam's freshness is turned into shares through the
//! region pools. What the ledger no longer needs is forgotten at the end of each block, a
//! bounded number of entries at a time.

use std::collections::BTreeMap;

use crate::amount::Amount;
use crate::codec::Decode;
use crate::crypto::Address;
use crate::module::{BlockContext, DeviceWork, EpochWork, address_suffix};
use crate::services::devices::DevicesView;
use crate::state::{State, StateRead};

use super::params::{MAX_FRAMES_PER_BUNDLE, MappingParams};
use super::records::{
    Bounty, Claim, MappingView, PassMedian, Tally, bounty_cell_key, bounty_end_range, bounty_key,
    bundles_before, cell_age_range, claim_prefix, dashcam_key, escrow_account, forgotten_key,
    group_key, group_of, pass_median_key, tallies_before, tally_prefix,
};
use super::verify::move_tokens;

/// Resolution of a dashcam's share of a region's pool: shares are parts per 10^12 of the
/// region's pool, times the region's weight.
const REGION_SCALE: u128 = 1_000_000_000_000;

/// What the close did, for the epoch summary's counters.
#[derive(Default)]
struct Counters {
    bundles: u64,
    frames_paid: u64,
    frames_flagged: u64,
    bounty_paid: u128,
    bounty_returned: u128,
    bounties_ended: u64,
    cells_forgotten: u64,
    cells_served: u64,
    /// Freshness (ppm) not paid because a dashcam's freshness per pass was above the bound.
    freshness_capped: u64,
}

/// The owner to pay for a dashcam's work, if it may still be paid (registered here, not denied).
fn payable(state: &State, device: &Address) -> Option<Address> {
    let entry = state.dashcam(device)?.entry;
    (!state.is_denied(device)).then_some(entry.owner)
}

/// Scores and settles epoch `epoch` (the block `ctx` closes it).
pub(crate) fn epoch_work(state: &mut State, epoch: u64, ctx: BlockContext) -> EpochWork {
    let Some(p) = state.params().modules.mapping.clone() else {
        return EpochWork::default();
    };
    let mut n = Counters::default();
    settle_claims(state, epoch, &mut n);
    end_bounties(state, ctx.time_ms, &mut n);

    let tallies: Vec<(Address, Tally)> = state
        .scan_prefix(&tally_prefix(epoch), usize::MAX)
        .into_iter()
        .map(|(k, v)| (address_suffix(&k), Tally::from_bytes(&v).expect("written")))
        .collect();
    let mut workers = Vec::with_capacity(tallies.len());
    for (device, t) in &tallies {
        n.bundles += u64::from(t.bundles);
        n.frames_paid += u64::from(t.frames_paid);
        n.frames_flagged += u64::from(t.frames_flagged);
        n.cells_served += u64::from(t.cells_served);
        let Some(owner) = payable(state, device) else {
            continue;
        };
        workers.push((*device, owner, t));
    }
    // Each dashcam's freshness per region, bounded per pass by the region's median.
    let worked: Vec<&Tally> = workers.iter().map(|(_, _, t)| *t).collect();
    let (counted, medians) = bound_per_pass(&p, &worked, &mut n.freshness_capped);
    if !medians.is_empty() {
        state.put(pass_median_key(epoch), &medians);
    }
    // Sum of freshness per region, over dashcams that can be paid.
    let mut region_sums = vec![0u128; p.regions.len()];
    for regions in &counted {
        for &(region, weight) in regions {
            // A region the parameters no longer have (none can be removed today) pays nothing.
            if let Some(sum) = region_sums.get_mut(region as usize) {
                *sum += u128::from(weight);
            }
        }
    }
    let devices = workers
        .into_iter()
        .zip(&counted)
        .filter_map(|((device, owner, _), regions)| {
            let shares = shares(&p, &region_sums, regions);
            (shares > 0).then_some(DeviceWork {
                device,
                owner,
                shares,
            })
        })
        .collect();
    // Counted by the end of each block of the epoch, this one included.
    let forgotten_key = forgotten_key(epoch);
    n.cells_forgotten = state.get(&forgotten_key).unwrap_or(0);
    if n.cells_forgotten > 0 {
        state.put_raw(forgotten_key, None);
    }
    let counters = vec![
        ("bundles".to_string(), n.bundles),
        ("frames_paid".to_string(), n.frames_paid),
        ("frames_flagged".to_string(), n.frames_flagged),
        ("bounty_paid".to_string(), saturate(n.bounty_paid)),
        ("bounty_returned".to_string(), saturate(n.bounty_returned)),
        ("bounties_ended".to_string(), n.bounties_ended),
        ("cells_forgotten".to_string(), n.cells_forgotten),
        ("cells_served".to_string(), n.cells_served),
        ("freshness_capped".to_string(), n.freshness_capped),
    ];
    EpochWork { devices, counters }
}

fn saturate(v: u128) -> u64 {
    v.min(u128::from(u64::MAX)) as u64
}

/// A dashcam's shares: in each region, its part of the region's (counted) freshness (to
/// 10^-12) times the region's weight. The close splits the module's pool by shares, so each
/// region with work gets the pool times its weight over the weights of the regions with work,
/// and within it each dashcam its part of the freshness; the rounding down here is at most one
/// share per region and goes to the treasury with the close's dust.
pub fn shares(p: &MappingParams, region_sums: &[u128], regions: &[(u16, u64)]) -> u128 {
    regions
        .iter()
        .map(|&(region, weight)| {
            let (Some(&total), Some(r)) = (
                region_sums.get(region as usize),
                p.regions.get(region as usize),
            ) else {
                return 0;
            };
            if total == 0 {
                return 0;
            }
            // weight <= total, so the part is at most 10^12 and times a u32 fits easily.
            let part = u128::from(weight) * REGION_SCALE / total;
            part * u128::from(r.weight)
        })
        .sum()
}

/// The freshness of each tally that the close pays, per region: at most
/// `pass_rate_margin_pct` percent of the region's median freshness per pass, times the
/// dashcam's passes there. The median is weighted by passes: sort the dashcams of the region
/// by freshness per pass and take the one at which half of all passes are reached. Returns the
/// counted freshness of every tally (in order) and the medians (with what they capped), and
/// adds the capped freshness to `capped`.
///
/// Why: a desk drive (or a GPS spoofer) chooses where it "drives", so it picks never-mapped
/// and stale cells, where every pass is worth a full cell; honest drivers pass mapped and
/// unmapped cells alike. Bounding the pay per pass takes away the choice of cells, so a made-up
/// drive earns at most the margin over what the region's drivers earn per pass (section 4 of
/// docs/MAPPING.md has the measurement and what it leaves open).
pub fn bound_per_pass(
    p: &MappingParams,
    tallies: &[&Tally],
    capped: &mut u64,
) -> (Vec<Vec<(u16, u64)>>, Vec<PassMedian>) {
    let mut counted: Vec<Vec<(u16, u64)>> = tallies.iter().map(|t| t.regions.clone()).collect();
    let margin = u128::from(p.freshness.pass_rate_margin_pct);
    if margin == 0 {
        return (counted, Vec::new());
    }
    // Per region: (tally index, position in its regions, freshness, passes).
    let mut by_region: BTreeMap<u16, Vec<(usize, usize, u64, u64)>> = BTreeMap::new();
    for (i, t) in tallies.iter().enumerate() {
        for (k, &(region, weight)) in t.regions.iter().enumerate() {
            let passes = t
                .passes
                .binary_search_by_key(&region, |(r, _)| *r)
                .map_or(0, |j| t.passes[j].1);
            by_region
                .entry(region)
                .or_default()
                .push((i, k, weight, passes));
        }
    }
    let mut medians = Vec::with_capacity(by_region.len());
    for (region, mut entries) in by_region {
        // Freshness per pass, compared exactly: w1 / p1 < w2 / p2 iff w1 p2 < w2 p1 (u64
        // products fit a u128). A tally with freshness has passes (a pass's first frame is
        // the one that earns); one without passes sorts last and is never the median.
        entries.retain(|e| e.3 > 0);
        entries.sort_by(|x, y| {
            (u128::from(x.2) * u128::from(y.3))
                .cmp(&(u128::from(y.2) * u128::from(x.3)))
                .then(x.0.cmp(&y.0))
        });
        let total: u128 = entries.iter().map(|e| u128::from(e.3)).sum();
        let mut reached = 0u128;
        let Some(&(_, _, median_weight, median_passes)) = entries.iter().find(|e| {
            reached += u128::from(e.3);
            reached * 2 >= total
        }) else {
            continue;
        };
        let mut region_capped = 0u64;
        for &(i, k, weight, passes) in &entries {
            // The median has passes (entries without were dropped); a product too large for
            // a u128 bounds nothing.
            let bound = (u128::from(passes) * u128::from(median_weight))
                .checked_mul(margin)
                .map_or(u128::MAX, |x| x / (u128::from(median_passes) * 100));
            if u128::from(weight) > bound {
                let bound = bound as u64;
                counted[i][k].1 = bound;
                region_capped = region_capped.saturating_add(weight - bound);
            }
        }
        *capped = capped.saturating_add(region_capped);
        medians.push(PassMedian {
            region,
            weight: median_weight,
            passes: median_passes,
            capped: region_capped,
        });
    }
    (counted, medians)
}

/// Pays the bounty parts claimed in `epoch` out of escrow.
fn settle_claims(state: &mut State, epoch: u64, n: &mut Counters) {
    for (key, value) in state.scan_prefix(&claim_prefix(epoch), usize::MAX) {
        let claim = Claim::from_bytes(&value).expect("written");
        // The device sits between the epoch and the bounty id in the key.
        let device = address_suffix(&key[..key.len() - 8]);
        match payable(state, &device) {
            Some(owner) => {
                move_tokens(state, &escrow_account(), &owner, claim.amount);
                n.bounty_paid += claim.amount.0;
            }
            None => {
                move_tokens(state, &escrow_account(), &claim.funder, claim.amount);
                n.bounty_returned += claim.amount.0;
            }
        }
        state.put_raw(key, None);
    }
}

/// Ends the bounties whose capture period and upload window are over: what was not claimed,
/// and the rounding of the split into parts, go back to the funder.
fn end_bounties(state: &mut State, now_ms: u64, n: &mut Counters) {
    let (from, to) = bounty_end_range(now_ms.saturating_add(1));
    for (key, _) in state.scan(&from, &to, usize::MAX) {
        let id = u64::from_be_bytes(key[key.len() - 8..].try_into().expect("8 bytes"));
        let bounty: Bounty = state.bounty(id).expect("an end entry has its bounty");
        let claimed = bounty
            .per_part
            .0
            .checked_mul(u128::from(bounty.claimed_parts))
            .expect("claims are below the amount");
        let refund = Amount(bounty.amount.0 - claimed);
        move_tokens(state, &escrow_account(), &bounty.funder, refund);
        n.bounty_returned += refund.0;
        n.bounties_ended += 1;
        for &cell in &bounty.cells {
            state.put_raw(bounty_cell_key(cell, id), None);
        }
        state.put_raw(bounty_key(id), None);
        state.put_raw(key, None);
    }
}

/// Entries the end of one block forgets at most (cells, bundle records and tallies together,
/// with their age-index entries). Forgetting a month of mapping at one close took
/// 19 s for 380,651 cells (docs/BENCHMARKS.md); spread over blocks, no block pays more than
/// this, and drains the backlog of a burst over the following blocks.
/// Forgetting late changes no payout: a cell past `memory_ms` is fully fresh whether it is
/// remembered or not.
pub const FORGET_PER_BLOCK: usize = 8_192;

/// After a block's transactions: forgets, oldest first and at most [`FORGET_PER_BLOCK`]
/// entries, the cells not seen for the memory window (with their perceptual hashes and image
/// fingerprints), and the bundle records and tallies that fell out of the history.
pub(crate) fn end_block(state: &mut State, ctx: BlockContext) {
    let Some(p) = state.params().modules.mapping.clone() else {
        return;
    };
    let epoch = ctx.epoch(state.params().epoch_length_blocks);
    let mut budget = FORGET_PER_BLOCK;
    // Each age-index entry lists at most a bundle's frames: it and its list fit the budget.
    let per_entry = MAX_FRAMES_PER_BUNDLE + 1;
    let before = ctx.time_ms.saturating_sub(p.freshness.memory_ms);
    let (from, to) = cell_age_range(before);
    let mut forgotten = 0u64;
    // The listed cells by group, so each group is read and written once.
    let mut listed_by_group: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for (key, value) in state.scan(&from, &to, budget / per_entry) {
        let listed = Vec::<u64>::from_bytes(&value).expect("written");
        budget -= 1 + listed.len();
        for cell in listed {
            let (parent, digit) = group_of(cell).expect("the age index lists res-12 cells");
            listed_by_group.entry(parent).or_default().push(digit);
        }
        state.put_raw(key, None);
    }
    for (parent, digits) in listed_by_group {
        let Some(mut group) = state.cell_group(parent) else {
            continue;
        };
        let kept = group.cells.len();
        // Mapped again since: a later bundle's entry lists it.
        group
            .cells
            .retain(|(d, c)| !(digits.contains(d) && c.last_mapped_ms < before));
        forgotten += (kept - group.cells.len()) as u64;
        if group.cells.is_empty() {
            state.put_raw(group_key(parent), None);
        } else if group.cells.len() < kept {
            state.put(group_key(parent), &group);
        }
    }
    if forgotten > 0 {
        let key = forgotten_key(epoch);
        let count: u64 = state.get(&key).unwrap_or(0);
        state.put(key, &(count + forgotten));
    }
    // The records of epochs before `epoch - history_epochs` (the current epoch's tallies are
    // never among them: the close still reads them).
    if let Some(old) = epoch.checked_sub(p.freshness.history_epochs) {
        for (from, to) in [bundles_before(old), tallies_before(old)] {
            let stale = state.scan(&from, &to, budget);
            budget -= stale.len();
            for (key, _) in stale {
                state.put_raw(key, None);
            }
        }
        // The medians go with the tallies they were measured on.
        if let Some(before) = old.checked_sub(1)
            && state.contains(&pass_median_key(before))
        {
            state.put_raw(pass_median_key(before), None);
        }
    }
}

/// Drops what mapping keeps of a retired dashcam (its unpaid claims go back to their funders
/// at the close).
pub(crate) fn forget_device(state: &mut State, device: &Address) {
    if state.contains(&dashcam_key(device)) {
        state.put_raw(dashcam_key(device), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::coverage::preset::BERLIN;
    use crate::modules::mapping::preset;

    fn params(margin: u32) -> MappingParams {
        let mut g = preset::single_region(BERLIN);
        g.freshness.pass_rate_margin_pct = margin;
        g.to_params(6).expect("valid")
    }

    fn tally(weight: u64, passes: u64) -> Tally {
        Tally {
            regions: vec![(0, weight)],
            passes: vec![(0, passes)],
            ..Tally::default()
        }
    }

    #[test]
    fn the_median_is_weighted_by_passes_so_a_swarm_of_small_identities_cannot_set_it() {
        // One car with 100 passes at half a cell each, ten identities with 10 passes of full
        // cells each: half of all passes are the car's, so the car is the median.
        let mut tallies = vec![tally(50_000_000, 100)];
        tallies.extend((0..10).map(|_| tally(10_000_000, 10)));
        let refs: Vec<&Tally> = tallies.iter().collect();
        let mut capped = 0;
        let (counted, medians) = bound_per_pass(&params(150), &refs, &mut capped);
        // Each identity: 10 passes x 0.5 x 150 % = 7.5 cells.
        assert_eq!(counted[0], vec![(0, 50_000_000)]);
        assert!(counted[1..].iter().all(|c| *c == vec![(0, 7_500_000)]));
        assert_eq!(capped, 10 * 2_500_000);
        assert_eq!(
            medians,
            vec![PassMedian {
                region: 0,
                weight: 50_000_000,
                passes: 100,
                capped: 25_000_000
            }]
        );
        // A dashcam alone in its region is its own median: never capped.
        let alone = [tally(7, 3)];
        let (counted, _) = bound_per_pass(&params(100), &[&alone[0]], &mut capped);
        assert_eq!(counted[0], vec![(0, 7)]);
        // Without a margin nothing is bounded and nothing is recorded.
        let mut none = 0;
        let (counted, medians) = bound_per_pass(&params(0), &refs, &mut none);
        assert_eq!(counted[1], vec![(0, 10_000_000)]);
        assert!(medians.is_empty() && none == 0);
    }
}
