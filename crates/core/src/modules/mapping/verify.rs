//! Every check of the mapping module, and the state change each action makes once it passes.
//!
//! A bundle is checked as a whole first (dashcam, signature, sequence, size, field ranges, time
//! order, upload window); a bundle that fails is refused and changes nothing. Each frame of an
//! accepted bundle is then judged on its own (fix quality, kinematics against the dashcam's last
//! trusted fix, motion, region, exact and near duplicates): a flagged frame earns nothing and
//! says why in the bundle's record, the others earn the freshness of their cell and may claim
//! bounties.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::amount::Amount;
use crate::crypto::{self, Address};
use crate::module::{BlockContext, Module};
use crate::rejection::Rejection;
use crate::services::demand::hold::{self, Held};
use crate::services::devices::{self, DeviceRejection, Location};
use crate::services::fees::{self, FeeKind};
use crate::state::{State, StateRead};

use super::Mapping;
use super::actions::{
    Frame, OnboardDashcam, OpenBounty, PayMapAccess, SubmitBundle, bundle_message,
};
use super::geo::distance_mm;
use super::params::{
    MAPPING_RESOLUTION, MAX_ACCESS_CELLS, MAX_BOUNTY_CELLS, MAX_FRAMES_PER_BUNDLE, MappingParams,
    Placement,
};
use super::records::{
    Bounty, BundleRecord, CellEntry, CellGroup, CellRecord, Claim, Dashcam, Fix, MappingView, Seen,
    Tally, Verdict, address_of, any_bounty_cells, bounty_cell_key, bounty_end_key, bounty_key,
    bundle_key, cell_age_key, claim_key, dashcam_key, escrow_account, group_key, group_of,
    image_fingerprint, next_bounty_key, next_number_key, number_key, numbered_key, tally_key,
};
use super::reject::{FrameFault as F, MappingRejection as R};

/// A fully fresh cell's weight, parts per million.
pub const FULL_WEIGHT_PPM: u32 = 1_000_000;

pub(crate) fn params(state: &State) -> Result<Arc<MappingParams>, Rejection> {
    state
        .params()
        .modules
        .mapping
        .clone()
        .ok_or(Rejection::ModuleDisabled {
            module: Mapping::ID,
        })
}

/// Registers a dashcam to `owner`.
pub fn onboard(
    state: &mut State,
    owner: &Address,
    a: &OnboardDashcam,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    devices::check_new(state, owner, &a.device, &a.device_signature)?;
    let fee = fees::plan(state, owner, &[FeeKind::Onboard], p.onboard_fee, ctx)?;
    fees::pay(state, owner, fee, ctx)?;
    devices::register(state, owner, &a.device, Mapping::ID, None, ctx);
    // A dashcam onboarded again (after it was retired) keeps its number.
    let number = match state.get(&number_key(&a.device)) {
        Some(number) => number,
        None => {
            let number: u64 = state.get(&next_number_key()).unwrap_or(0);
            // One number per onboarding transaction: 2^64 of them cannot happen.
            state.put(next_number_key(), &(number + 1));
            state.put(number_key(&a.device), &number);
            state.put(numbered_key(number), &a.device);
            number
        }
    };
    state.put(
        dashcam_key(&a.device),
        &Dashcam {
            number,
            ..Dashcam::default()
        },
    );
    Ok(())
}

/// The bundle-level checks: everything that refuses the bundle as a whole.
fn check_bundle(
    state: &State,
    p: &MappingParams,
    b: &SubmitBundle,
    co_signed: bool,
    ctx: BlockContext,
) -> Result<Dashcam, Rejection> {
    devices::usable(state, &b.device)?;
    let cam = state
        .dashcam(&b.device)
        .ok_or(DeviceRejection::WrongModule {
            device: b.device,
            module: Mapping::NAME.into(),
        })?;
    let (Some(first), Some(last)) = (b.frames.first(), b.frames.last()) else {
        return Err(R::EmptyBundle {}.into());
    };
    if b.frames.len() > MAX_FRAMES_PER_BUNDLE {
        return Err(R::TooManyFrames {
            count: b.frames.len().min(u32::MAX as usize) as u32,
            max: MAX_FRAMES_PER_BUNDLE as u32,
        }
        .into());
    }
    if !co_signed {
        let message = bundle_message(&state.network(), &b.device, b.seq, &b.frames);
        if !crypto::verify(&b.device, &message, &b.device_signature) {
            return Err(R::BadBundleSignature {}.into());
        }
    }
    let record = cam.record;
    if let Some(last_seq) = record.last_seq
        && b.seq <= last_seq
    {
        return Err(R::StaleSequence {
            seq: b.seq,
            last: last_seq,
        }
        .into());
    }
    let mut previous_ms = record.last_frame_ms;
    for (i, f) in b.frames.iter().enumerate() {
        let index = i as u32;
        let field = |name: &str| R::FieldOutOfRange {
            index,
            field: name.into(),
        };
        if f.lat_udeg.unsigned_abs() > 90_000_000 {
            return Err(field("latitude").into());
        }
        if f.lon_udeg.unsigned_abs() > 180_000_000 {
            return Err(field("longitude").into());
        }
        if f.heading_cdeg >= 36_000 {
            return Err(field("heading").into());
        }
        if f.time_ms <= previous_ms {
            return Err(R::TimeNotForward { index }.into());
        }
        previous_ms = f.time_ms;
    }
    let age_ms = ctx.time_ms.saturating_sub(first.time_ms);
    if age_ms > p.frames.upload_window_ms {
        return Err(R::BundleTooOld {
            age_ms,
            max_ms: p.frames.upload_window_ms,
        }
        .into());
    }
    let ahead_ms = last.time_ms.saturating_sub(ctx.time_ms);
    if ahead_ms > p.frames.max_clock_skew_ms {
        return Err(R::BundleInFuture {
            ahead_ms,
            max_ms: p.frames.max_clock_skew_ms,
        }
        .into());
    }
    Ok(record)
}

/// The fix quality and motion checks of one frame against the last trusted fix. `Ok(None)`:
/// the frame moved; `Ok(Some(step_mm))`: it stood still (moved `step_mm`, 0 if unknown).
/// Either way it becomes the trusted fix.
fn check_motion(p: &MappingParams, f: &Frame, trusted: Option<&Fix>) -> Result<Option<u64>, F> {
    let r = &p.frames;
    if f.satellites < r.min_satellites || f.hdop_centi > r.max_hdop_centi {
        return Err(F::PoorGnss {
            satellites: f.satellites,
            hdop_centi: f.hdop_centi,
        });
    }
    let speed_cms = u32::from(f.speed_cms);
    if speed_cms > r.max_speed_cms {
        return Err(F::TooFast {
            speed_cms,
            max_cms: r.max_speed_cms,
        });
    }
    let mut step_mm = None;
    if let Some(t) = trusted {
        // Times rise strictly within a dashcam's frames (checked for the bundle).
        let dt_ms = f.time_ms - t.time_ms;
        let d_mm = distance_mm(t.lat_udeg, t.lon_udeg, f.lat_udeg, f.lon_udeg);
        let slack = u64::from(r.distance_slack_mm);
        // mm per ms is m/s: times 100 for cm/s.
        let implied_cms = u128::from(d_mm.saturating_sub(slack)) * 100 / u128::from(dt_ms);
        if implied_cms > u128::from(r.max_speed_cms) {
            return Err(F::ImplausibleJump {
                implied_cms: implied_cms.min(u128::from(u64::MAX)) as u64,
                max_cms: r.max_speed_cms,
            });
        }
        if dt_ms <= r.max_frame_gap_ms {
            // Mean of the two speeds (cm/s) times the time (ms): cm*ms/s = 1/100 mm, halved.
            let sum_cms = u64::from(t.speed_cms) + u64::from(f.speed_cms);
            let expected_mm = sum_cms * dt_ms / 200;
            let tolerance = expected_mm * u64::from(r.distance_tolerance_bps) / 10_000 + slack;
            if d_mm.abs_diff(expected_mm) > tolerance {
                return Err(F::DistanceMismatch {
                    distance_mm: d_mm,
                    expected_mm,
                });
            }
            let dv = u64::from(t.speed_cms.abs_diff(f.speed_cms));
            let accel_cms2 = dv * 1_000 / dt_ms;
            if accel_cms2 > u64::from(r.max_accel_cms2) {
                return Err(F::Acceleration {
                    accel_cms2,
                    max_cms2: r.max_accel_cms2,
                });
            }
            step_mm = Some(d_mm);
        }
    }
    let still =
        speed_cms < r.min_speed_cms || step_mm.is_some_and(|s| s < u64::from(r.min_step_mm));
    Ok(still.then(|| step_mm.unwrap_or(0)))
}

/// Hamming distance between two perceptual hashes, bits.
pub fn phash_distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// The freshness weight a valid frame at `time_ms` earns in a cell, ppm: it grows linearly
/// with the time since the cell was last mapped and is full after `full_after_ms` (or if the
/// cell is not remembered). Further frames of the same pass earn nothing.
pub fn freshness_ppm(
    p: &MappingParams,
    cell: Option<&CellRecord>,
    device: &Address,
    time_ms: u64,
) -> u32 {
    weight_ppm(
        p,
        cell.map(|c| (c.last_mapped_ms, c.last_device == *device)),
        time_ms,
    )
}

/// [`freshness_ppm`] from the cell's last mapping time and whether the frame's dashcam made it.
fn weight_ppm(p: &MappingParams, last: Option<(u64, bool)>, time_ms: u64) -> u32 {
    let Some((last_mapped_ms, same_dashcam)) = last else {
        return FULL_WEIGHT_PPM;
    };
    let elapsed = time_ms.saturating_sub(last_mapped_ms);
    if same_dashcam && elapsed <= p.frames.same_pass_ms {
        return 0;
    }
    let full = p.freshness.full_after_ms;
    (u128::from(elapsed.min(full)) * u128::from(FULL_WEIGHT_PPM) / u128::from(full)) as u32
}

/// Whether a valid frame starts a new pass through its cell: the cell was not last mapped by
/// this dashcam (its number) within `same_pass_ms` (the frames that earn nothing as the same
/// pass are not passes either). The close bounds the freshness paid per pass.
pub fn new_pass(p: &MappingParams, cell: Option<&CellEntry>, dashcam: u64, time_ms: u64) -> bool {
    cell.is_none_or(|c| {
        c.last_dashcam != dashcam
            || time_ms.saturating_sub(c.last_mapped_ms) > p.frames.same_pass_ms
    })
}

/// Adds `amount` to a region's entry of a per-region list kept sorted by region.
fn add_to_region(list: &mut Vec<(u16, u64)>, region: u16, amount: u64) {
    match list.binary_search_by_key(&region, |(r, _)| *r) {
        Ok(i) => list[i].1 = list[i].1.saturating_add(amount),
        Err(i) => list.insert(i, (region, amount)),
    }
}

/// The cell records a bundle reads and writes, kept while its frames are judged and written
/// once at its end: consecutive frames share cells and neighbours, so a bundle of 48 frames
/// reads and writes each cell's record once instead of once per frame. Every read of a cell
/// record while a bundle is judged goes through it, so the verdicts are those of writing each
/// frame at once. Each cell has a slot (its [`Layout`]'s), and each frame reaches its cell's and
/// its neighbours' records by slot, with no lookup.
struct Cells {
    layout: Arc<Layout>,
    /// Each slot's record, as the bundle's frames so far left it.
    records: Vec<Option<CellEntry>>,
    /// Each group's records of cells in no slot (written back with the group).
    others: Vec<Vec<(u8, CellEntry)>>,
    /// Slots whose record this bundle changed.
    dirty: Vec<usize>,
    /// Cells whose latest frame is now this bundle's (the age index finds them through it).
    latest: Vec<u64>,
}

/// A frame cell's slot and the slots of its neighbourhood (see [`disk_of`]; empty if the cell
/// has none).
struct Disk {
    own: usize,
    near: Vec<usize>,
}

/// What a bundle's frame positions alone decide: each frame's cell, each cell's neighbourhood,
/// and a slot for every cell of those neighbourhoods. It reads no state, so a node computes it
/// when it admits the bundle, on cores the block thread is not using
/// ([`crate::module::Module::warm`]), and keeps it in the bundle ([`SubmitBundle::layout`]).
pub(crate) struct Layout {
    /// Each frame's position, so a layout is never used for frames it was not made from.
    at: Vec<(i32, i32)>,
    /// Each frame's cell and its [`Disk`] (`None` where the position is out of range: the
    /// bundle is refused).
    frames: Vec<Option<(u64, usize)>>,
    /// The cell in each slot.
    cells: Vec<u64>,
    disks: Vec<Disk>,
    /// The [`CellGroup`]s holding the slots' cells, by parent index: each parent with its
    /// slots (and their cells' digits).
    groups: Vec<(u64, Vec<(u8, usize)>)>,
    /// Each slot's index in `groups`.
    group_of_slot: Vec<usize>,
}

impl Layout {
    fn of(frames: &[Frame]) -> Layout {
        // Where each cell's slot and each frame cell's disk are, while they are gathered.
        let mut slot_of: BTreeMap<u64, usize> = BTreeMap::new();
        let mut disk_of_cell: BTreeMap<u64, usize> = BTreeMap::new();
        let mut cells = Vec::new();
        let mut slot = |cell: u64, cells: &mut Vec<u64>| {
            *slot_of.entry(cell).or_insert_with(|| {
                cells.push(cell);
                cells.len() - 1
            })
        };
        let mut disks = Vec::new();
        let placed = frames
            .iter()
            .map(|f| {
                let cell = frame_cell(f)?;
                let disk = *disk_of_cell.entry(cell).or_insert_with(|| {
                    let own = slot(cell, &mut cells);
                    let near = disk_of(cell)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|near| slot(near, &mut cells))
                        .collect();
                    disks.push(Disk { own, near });
                    disks.len() - 1
                });
                Some((cell, disk))
            })
            .collect();
        let mut by_parent: BTreeMap<u64, Vec<(u8, usize)>> = BTreeMap::new();
        for (slot, &cell) in cells.iter().enumerate() {
            let (parent, digit) = group_of(cell).expect("frame cells and neighbours are res 12");
            by_parent.entry(parent).or_default().push((digit, slot));
        }
        let groups: Vec<_> = by_parent.into_iter().collect();
        let mut group_of_slot = vec![0; cells.len()];
        for (g, (_, members)) in groups.iter().enumerate() {
            for &(_, slot) in members {
                group_of_slot[slot] = g;
            }
        }
        Layout {
            at: frames.iter().map(|f| (f.lat_udeg, f.lon_udeg)).collect(),
            frames: placed,
            cells,
            disks,
            groups,
            group_of_slot,
        }
    }

    /// Whether this is the layout of `frames` (the same positions, in order).
    fn fits(&self, frames: &[Frame]) -> bool {
        self.at.len() == frames.len()
            && (self.at.iter().zip(frames)).all(|(&at, f)| at == (f.lat_udeg, f.lon_udeg))
    }
}

impl SubmitBundle {
    /// This bundle's [`Layout`], computed at the first call and kept; `None` for a bundle the
    /// checks refuse by its size. A bundle whose frames changed after its layout was kept gets
    /// a fresh one (computed again at every call).
    pub(crate) fn layout(&self) -> Option<Arc<Layout>> {
        if self.frames.is_empty() || self.frames.len() > MAX_FRAMES_PER_BUNDLE {
            return None;
        }
        if let Some(kept) = self.layout.get()
            && kept.fits(&self.frames)
        {
            return Some(kept.clone());
        }
        let layout = Arc::new(Layout::of(&self.frames));
        self.layout.keep(layout.clone());
        Some(layout)
    }
}

/// What a bundle's frames need that the state as its block found it can tell, made by
/// [`prepare`] for every bundle of a block on all cores: its [`Layout`], the record of the
/// cell in each slot, and the rest of their groups.
pub struct PreparedBundle {
    layout: Arc<Layout>,
    records: Vec<Option<CellEntry>>,
    others: Vec<Vec<(u8, CellEntry)>>,
}

/// [`PreparedBundle`] of a bundle, from the state before its block (see
/// [`crate::module::Module::prepare`]), or from the state now when an action executes without
/// one; `None` for a bundle the checks refuse by its size.
pub(crate) fn prepare(state: &State, b: &SubmitBundle) -> Option<PreparedBundle> {
    let layout = b.layout()?;
    let mut records = vec![None; layout.cells.len()];
    let others = (layout.groups.iter())
        .map(|(parent, members)| split(state.cell_group(*parent), members, &mut records))
        .collect();
    Some(PreparedBundle {
        layout,
        records,
        others,
    })
}

/// Puts a group's records of the cells in `members` into their slots (`None` for a cell the
/// group does not hold) and returns the group's other records.
fn split(
    group: Option<CellGroup>,
    members: &[(u8, usize)],
    records: &mut [Option<CellEntry>],
) -> Vec<(u8, CellEntry)> {
    for &(_, slot) in members {
        records[slot] = None;
    }
    let mut others = Vec::new();
    for (digit, entry) in group.map(|g| g.cells).unwrap_or_default() {
        match members.iter().find(|(d, _)| *d == digit) {
            Some(&(_, slot)) => records[slot] = Some(entry),
            None => others.push((digit, entry)),
        }
    }
    others
}

/// A group as `others` and the records of its `members` make it (by digit).
fn join(
    others: Vec<(u8, CellEntry)>,
    members: &[(u8, usize)],
    records: &mut [Option<CellEntry>],
) -> CellGroup {
    let mut cells = others;
    for &(digit, slot) in members {
        if let Some(entry) = records[slot].take() {
            cells.push((digit, entry));
        }
    }
    cells.sort_unstable_by_key(|&(digit, _)| digit);
    CellGroup { cells }
}

/// A frame's cell at the mapping resolution (`None` if its position is out of range).
fn frame_cell(f: &Frame) -> Option<u64> {
    Location {
        lat_udeg: f.lat_udeg,
        lon_udeg: f.lon_udeg,
    }
    .cell(MAPPING_RESOLUTION)
}

/// A cell and its six neighbours (`None` if `cell` is not a valid H3 index).
fn disk_of(cell: u64) -> Option<Vec<u64>> {
    let index = h3o::CellIndex::try_from(cell).ok()?;
    Some(
        index
            .grid_disk::<Vec<_>>(1)
            .into_iter()
            .map(u64::from)
            .collect(),
    )
}

impl Cells {
    /// The records [`prepare`] read, with those an earlier write of the block may have changed
    /// (another bundle of the block mapped the cell) read again from the state.
    fn from_prepared(state: &State, prepared: PreparedBundle) -> Cells {
        let PreparedBundle {
            layout,
            mut records,
            mut others,
        } = prepared;
        for ((parent, members), others) in layout.groups.iter().zip(&mut others) {
            if state.unchanged_since_commit(&group_key(*parent)) {
                debug_assert!(
                    {
                        let mut copy = records.clone();
                        Some(join(others.clone(), members, &mut copy))
                            .filter(|g| !g.cells.is_empty())
                            == state.cell_group(*parent)
                    },
                    "a stale prepared cell group"
                );
            } else {
                *others = split(state.cell_group(*parent), members, &mut records);
            }
        }
        Cells {
            layout,
            records,
            others,
            dirty: Vec::new(),
            latest: Vec::new(),
        }
    }

    /// The record in `slot`.
    fn record(&self, slot: usize) -> Option<&CellEntry> {
        self.records[slot].as_ref()
    }

    /// Writes the groups of the changed records (in key order), and the bundle's entry in the
    /// cell age index.
    fn write(mut self, state: &mut State, device: &Address, seq: u64, last_ms: u64) {
        let mut dirty: Vec<usize> = (self.dirty.iter())
            .map(|&slot| self.layout.group_of_slot[slot])
            .collect();
        dirty.sort_unstable();
        dirty.dedup();
        for g in dirty {
            let (parent, members) = &self.layout.groups[g];
            let others = std::mem::take(&mut self.others[g]);
            let group = join(others, members, &mut self.records);
            state.put(group_key(*parent), &group);
        }
        self.latest.sort_unstable();
        self.latest.dedup();
        if !self.latest.is_empty() {
            state.put(cell_age_key(last_ms, device, seq), &self.latest);
        }
    }
}

/// Where a frame stands once its motion is known: region, then exact and near duplicates among
/// the frames its cell and the six neighbouring ones remember (an exact copy anywhere in the
/// neighbourhood wins over a near one).
fn check_place(
    state: &State,
    cells: &Cells,
    p: &MappingParams,
    dashcam: u64,
    f: &Frame,
    cell: u64,
    disk: &Disk,
) -> Result<u16, F> {
    let region = match p.place(cell) {
        Placement::Open(i) => i,
        Placement::Closed(i) => {
            return Err(F::ClosedRegion {
                region: p.regions[i as usize].name.clone(),
            });
        }
        Placement::Outside => return Err(F::OutsideRegions {}),
    };
    // The cell and its six neighbours: a copy nudged a metre over a cell's edge is still a
    // copy (the agent's replayer escaped an own-cell-only check on one frame in nine).
    let image = image_fingerprint(&f.image);
    let mut near_duplicate = None;
    let mut copy_of = None;
    for &slot in &disk.near {
        let Some(c) = cells.record(slot) else {
            continue;
        };
        if let Some(s) = c.recent.iter().find(|s| s.image == image) {
            copy_of = Some(s.dashcam);
            break;
        }
        for s in &c.recent {
            let bits = phash_distance(s.phash, f.phash);
            let same_pass =
                s.dashcam == dashcam && f.time_ms.abs_diff(s.time_ms) <= p.frames.same_pass_ms;
            if bits <= p.frames.near_duplicate_bits && !same_pass && near_duplicate.is_none() {
                near_duplicate = Some((s.dashcam, bits));
            }
        }
    }
    if let Some(first) = copy_of {
        return Err(F::DuplicateImage {
            first: address_of(state, first),
        });
    }
    match near_duplicate {
        None => Ok(region),
        Some((other, bits)) => Err(F::NearDuplicate {
            other: address_of(state, other),
            bits,
        }),
    }
}

/// Accepts a bundle of frames from a dashcam, uploaded by `uploader`.
pub fn submit_bundle(
    state: &mut State,
    uploader: &Address,
    b: &SubmitBundle,
    co_signed: bool,
    prepared: Option<PreparedBundle>,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    let mut cam = check_bundle(state, &p, b, co_signed, ctx)?;
    let epoch = ctx.epoch(state.params().epoch_length_blocks);
    let device = b.device;
    let mut tally: Tally = state.tally(epoch, &device).unwrap_or_default();
    let mut verdicts = Vec::with_capacity(b.frames.len());
    let prepared = (prepared.or_else(|| prepare(state, b))).expect("the bundle's size was checked");
    let mut cells = Cells::from_prepared(state, prepared);
    let layout = cells.layout.clone();
    // Bounty claims are looked up per frame only while some cell has an open bounty.
    let bounties = any_bounty_cells(state);
    for (f, place) in b.frames.iter().zip(&layout.frames) {
        let (cell, disk) = place.expect("coordinates were range-checked");
        let judged = judge_frame(
            state,
            &mut cells,
            &p,
            &mut cam,
            &device,
            f,
            (cell, &layout.disks[disk]),
            epoch,
            &mut tally,
            bounties,
        );
        let verdict = match judged {
            Ok(weight_ppm) => Verdict {
                cell,
                weight_ppm,
                fault: None,
            },
            Err(fault) => Verdict {
                cell,
                weight_ppm: 0,
                fault: Some(fault),
            },
        };
        if verdict.fault.is_some() {
            cam.frames_flagged = cam.frames_flagged.saturating_add(1);
            tally.frames_flagged = tally.frames_flagged.saturating_add(1);
        } else {
            cam.frames_paid = cam.frames_paid.saturating_add(1);
            tally.frames_paid = tally.frames_paid.saturating_add(1);
        }
        verdicts.push(verdict);
    }
    let (first_ms, last_ms) = (b.frames[0].time_ms, b.frames[b.frames.len() - 1].time_ms);
    cells.write(state, &device, b.seq, last_ms);
    cam.last_seq = Some(b.seq);
    cam.last_frame_ms = last_ms;
    cam.bundles = cam.bundles.saturating_add(1);
    tally.bundles = tally.bundles.saturating_add(1);
    state.put(dashcam_key(&device), &cam);
    state.put(tally_key(epoch, &device), &tally);
    state.put(
        bundle_key(epoch, &device, b.seq),
        &BundleRecord {
            height: ctx.height,
            uploader: *uploader,
            first_ms,
            last_ms,
            verdicts,
        },
    );
    Ok(())
}

/// Judges one frame and, if it is valid, records it (cell, image, tally, bounty claims);
/// returns its freshness weight or why it earns nothing.
#[allow(clippy::too_many_arguments)]
fn judge_frame(
    state: &mut State,
    cells: &mut Cells,
    p: &MappingParams,
    cam: &mut Dashcam,
    device: &Address,
    f: &Frame,
    (cell, disk): (u64, &Disk),
    epoch: u64,
    tally: &mut Tally,
    bounties: bool,
) -> Result<u32, F> {
    let still = check_motion(p, f, cam.trusted.as_ref())?;
    cam.trusted = Some(Fix {
        time_ms: f.time_ms,
        lat_udeg: f.lat_udeg,
        lon_udeg: f.lon_udeg,
        speed_cms: f.speed_cms,
    });
    if let Some(step_mm) = still {
        return Err(F::Stationary {
            speed_cms: f.speed_cms.into(),
            step_mm,
        });
    }
    let region = check_place(state, cells, p, cam.number, f, cell, disk)?;
    let slot = disk.own;
    let record = cells.record(slot);
    let last = record.map(|c| (c.last_mapped_ms, c.last_dashcam == cam.number));
    let weight = weight_ppm(p, last, f.time_ms);
    let pass = new_pass(p, record, cam.number, f.time_ms);
    remember(cells, p, cam.number, f, slot);
    add_to_region(&mut tally.regions, region, u64::from(weight));
    if pass {
        add_to_region(&mut tally.passes, region, 1);
    }
    if bounties {
        claim_bounties(state, device, f, cell, epoch, tally);
    }
    Ok(weight)
}

/// Records a valid frame in the record of its cell (`slot`): the cell's freshness, recent
/// perceptual hashes and image fingerprints (written with the bundle).
fn remember(cells: &mut Cells, p: &MappingParams, dashcam: u64, f: &Frame, slot: usize) {
    let cell = cells.layout.cells[slot];
    let c = cells.records[slot].get_or_insert_with(|| CellEntry {
        last_mapped_ms: 0,
        last_dashcam: dashcam,
        recent: Vec::new(),
    });
    if f.time_ms > c.last_mapped_ms {
        c.last_mapped_ms = f.time_ms;
        c.last_dashcam = dashcam;
        cells.latest.push(cell);
    }
    if c.recent.len() >= p.freshness.phashes_per_cell as usize {
        c.recent.remove(0);
    }
    c.recent.push(Seen {
        dashcam,
        time_ms: f.time_ms,
        phash: f.phash,
        image: image_fingerprint(&f.image),
    });
    cells.dirty.push(slot);
}

/// A valid frame claims a pass of every open bounty on its cell that it is in time for, that
/// has passes left, and that this dashcam has not claimed yet.
fn claim_bounties(
    state: &mut State,
    device: &Address,
    f: &Frame,
    cell: u64,
    epoch: u64,
    tally: &mut Tally,
) {
    for (id, mut claimants) in state.bounties_on(cell) {
        let mut bounty: Bounty = state.bounty(id).expect("a bounty's cells go with it");
        let in_time = f.time_ms >= bounty.opened_ms && f.time_ms <= bounty.until_ms;
        if !in_time || claimants.len() >= usize::from(bounty.passes) || claimants.contains(device) {
            continue;
        }
        claimants.push(*device);
        bounty.claimed_parts += 1;
        let key = claim_key(epoch, device, id);
        let mut claim: Claim = state.get(&key).unwrap_or(Claim {
            funder: bounty.funder,
            amount: Amount::ZERO,
        });
        claim.amount = claim
            .amount
            .checked_add(bounty.per_part)
            .expect("claims of one bounty are below its amount");
        tally.bounty = tally
            .bounty
            .checked_add(bounty.per_part)
            .expect("below the supply");
        state.put(key, &claim);
        state.put(bounty_cell_key(cell, id), &claimants);
        state.put(bounty_key(id), &bounty);
    }
}

/// Moves `amount` between two accounts (bounties in and out of escrow).
pub(crate) fn move_tokens(state: &mut State, from: &Address, to: &Address, amount: Amount) {
    if amount.is_zero() || from == to {
        return;
    }
    let mut a = state.account(from).copied().unwrap_or_default();
    a.balance = a
        .balance
        .checked_sub(amount)
        .expect("the caller checked the balance");
    state.put_account(*from, a);
    let mut b = state.account(to).copied().unwrap_or_default();
    b.balance = b.balance.checked_add(amount).expect("below the supply");
    state.put_account(*to, b);
}

/// Escrows a bounty on cells.
pub fn open_bounty(
    state: &mut State,
    funder: &Address,
    a: &OpenBounty,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    let mut cells = a.cells.clone();
    cells.sort_unstable();
    cells.dedup();
    let count = a.cells.len().min(u32::MAX as usize) as u32;
    if cells.is_empty() || cells.len() != a.cells.len() || cells.len() > MAX_BOUNTY_CELLS {
        return Err(R::BountyCells {
            count,
            max: MAX_BOUNTY_CELLS as u32,
        }
        .into());
    }
    for &cell in &cells {
        let at_resolution = h3o::CellIndex::try_from(cell)
            .is_ok_and(|c| u8::from(c.resolution()) == MAPPING_RESOLUTION);
        if !at_resolution || !matches!(p.place(cell), Placement::Open(_)) {
            return Err(R::BountyBadCell { cell }.into());
        }
    }
    if a.passes == 0 || a.passes > p.bounties.max_passes {
        return Err(R::BountyPasses {
            passes: a.passes,
            max: p.bounties.max_passes,
        }
        .into());
    }
    let duration_ms = a.until_ms.saturating_sub(ctx.time_ms);
    if duration_ms == 0 || duration_ms > p.bounties.max_duration_ms {
        return Err(R::BountyPeriod {
            duration_ms,
            max_ms: p.bounties.max_duration_ms,
        }
        .into());
    }
    let parts = cells.len() as u64 * u64::from(a.passes);
    let per_part = a.amount.0 / u128::from(parts);
    if per_part == 0 {
        return Err(R::BountyTooSmall {
            amount: a.amount.0,
            parts,
        }
        .into());
    }
    let balance = state.account(funder).map(|x| x.balance).unwrap_or_default();
    if balance < a.amount {
        return Err(Rejection::InsufficientFunds {
            balance,
            needed: a.amount,
        });
    }
    move_tokens(state, funder, &escrow_account(), a.amount);
    let id: u64 = state.get(&next_bounty_key()).unwrap_or(0);
    state.put(next_bounty_key(), &(id + 1));
    for &cell in &cells {
        state.put(bounty_cell_key(cell, id), &Vec::<Address>::new());
    }
    // Frames up to `until_ms` may still arrive within the upload window: settle after it.
    let settle_ms = a.until_ms.saturating_add(p.frames.upload_window_ms);
    state.put_raw(bounty_end_key(settle_ms, id), Some(Vec::new()));
    state.put(
        bounty_key(id),
        &Bounty {
            funder: *funder,
            amount: a.amount,
            per_part: Amount(per_part),
            passes: a.passes,
            cells,
            opened_ms: ctx.time_ms,
            until_ms: a.until_ms,
            claimed_parts: 0,
        },
    );
    Ok(())
}

/// A map user pays for the cells it was served: each cell whose latest imagery comes from a
/// dashcam that can still be paid costs `access_cell_credits`, held from the user's credits and
/// released as that dashcam's paid service (the demand service's usage record, paid from the
/// mapping module's demand pool at the close). Other cells are not charged.
pub fn pay_map_access(
    state: &mut State,
    user: &Address,
    a: &PayMapAccess,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    let price = u128::from(p.access_cell_credits);
    if price == 0 {
        return Err(R::AccessNotSold {}.into());
    }
    if a.cells.is_empty() || a.cells.len() > MAX_ACCESS_CELLS || !a.cells.is_sorted_by(|x, y| x < y)
    {
        return Err(R::AccessCells {
            count: a.cells.len().min(u32::MAX as usize) as u32,
            max: MAX_ACCESS_CELLS as u32,
        }
        .into());
    }
    if let Some(&cell) = a.cells.iter().find(|&&c| {
        !h3o::CellIndex::try_from(c).is_ok_and(|c| u8::from(c.resolution()) == MAPPING_RESOLUTION)
    }) {
        return Err(R::AccessBadCell { cell }.into());
    }
    // Who is paid for each cell: the dashcam of its latest valid frame, if still payable.
    let mut served: std::collections::BTreeMap<Address, u32> = std::collections::BTreeMap::new();
    for &cell in &a.cells {
        let Some(record) = state.cell_entry(cell) else {
            continue;
        };
        let device = address_of(state, record.last_dashcam);
        if devices::usable(state, &device).is_ok_and(|e| e.module == Mapping::ID) {
            *served.entry(device).or_default() += 1;
        }
    }
    let count: u32 = served.values().sum();
    if count == 0 {
        return Err(R::NothingServed {}.into());
    }
    let total = price * u128::from(count);
    hold::check_hold(state, user, total)?;
    let mut held = hold::hold(state, user, total);
    let epoch = ctx.epoch(state.params().epoch_length_blocks);
    for (device, cells) in served {
        let part = held.take(price * u128::from(cells));
        let credits = part.credits;
        hold::release(state, &device, part, ctx);
        let mut tally: Tally = state.get(&tally_key(epoch, &device)).unwrap_or_default();
        tally.cells_served = tally.cells_served.saturating_add(cells);
        tally.access_credits = tally
            .access_credits
            .checked_add(credits)
            .expect("<= credits");
        state.put(tally_key(epoch, &device), &tally);
    }
    debug_assert_eq!(held, Held::default(), "every credit held was paid");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Hash, Signature};

    fn bundle(n: usize) -> SubmitBundle {
        let frames = (0..n)
            .map(|i| Frame {
                time_ms: 1_000 * i as u64,
                lat_udeg: 52_520_000,
                lon_udeg: 13_405_000 + 150 * i as i32,
                speed_cms: 1_000,
                heading_cdeg: 9_000,
                satellites: 12,
                hdop_centi: 90,
                image: Hash([i as u8; 32]),
                phash: i as u64,
            })
            .collect();
        SubmitBundle {
            device: Address([1; 32]),
            seq: 1,
            frames,
            device_signature: Signature([0; 64]),
            layout: Default::default(),
        }
    }

    #[test]
    fn a_kept_layout_serves_only_the_frames_it_was_made_from() {
        let mut b = bundle(12);
        let kept = b.layout().expect("a bundle of 12 frames has a layout");
        assert!(
            Arc::ptr_eq(&kept, &b.layout().expect("kept")),
            "computed once"
        );
        let copy = b.clone();
        assert!(Arc::ptr_eq(
            &kept,
            copy.layout.get().expect("clones keep it")
        ));

        // A frame moved 200 m north after the layout was kept: a layout of the new frames.
        b.frames[5].lat_udeg += 1_800;
        let moved = b.layout().expect("still 12 frames");
        assert!(!Arc::ptr_eq(&kept, &moved));
        let cell = frame_cell(&b.frames[5]);
        assert_ne!(kept.frames[5].map(|(c, _)| c), cell);
        assert_eq!(moved.frames[5].map(|(c, _)| c), cell);
        let fresh = Layout::of(&b.frames);
        assert_eq!(moved.frames, fresh.frames);
        assert_eq!(moved.cells, fresh.cells);

        // The kept layout is no part of the bundle.
        assert_eq!(copy, bundle(12));
        assert_eq!(
            crate::codec::Encode::to_bytes(&copy),
            crate::codec::Encode::to_bytes(&bundle(12))
        );
    }

    #[test]
    fn bundles_refused_by_their_size_have_no_layout() {
        assert!(bundle(0).layout().is_none());
        assert!(bundle(MAX_FRAMES_PER_BUNDLE + 1).layout().is_none());
        assert!(bundle(MAX_FRAMES_PER_BUNDLE).layout().is_some());
    }
}
