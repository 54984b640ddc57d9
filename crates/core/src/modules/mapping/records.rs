//! What the mapping module keeps in the state, with the layout of its keys: each dashcam's
//! number, sequence and last trusted fix, each recently mapped cell (freshness, recent
//! perceptual hashes and image fingerprints, dashcams by number), each bundle's verdicts, each
//! epoch's tallies, and bounties.
//!
//! Growth is bounded: cells not seen for `memory_ms` are forgotten (a per-bundle age index
//! finds them at the end of each block, a bounded number at a time), bundle records and
//! tallies older than `history_epochs` epochs
//! are dropped, claims are settled at the close of the epoch they were made in, and a bounty is
//! removed when it ends. What stays grows with the number of dashcams (one record each).

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::struct_codec;
use crate::crypto::{Address, Hash};
use crate::module::{Module, module_key};
use crate::services::devices::{DeviceEntry, DevicesView};
use crate::state::StateRead;

use super::Mapping;
use super::reject::FrameFault;

/// The last frame of a dashcam whose fix and motion passed the checks: the next frames are
/// measured against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fix {
    pub time_ms: u64,
    pub lat_udeg: i32,
    pub lon_udeg: i32,
    pub speed_cms: u16,
}

/// What mapping keeps of a dashcam beside its registry entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashcam {
    /// The dashcam's number: given at its first onboarding, in onboarding order, and kept for
    /// its address if it is retired and onboarded again (see [`number_key`]). Cell records
    /// name dashcams by it.
    pub number: u64,
    /// Sequence number of the last accepted bundle.
    pub last_seq: Option<u64>,
    /// Capture time of the last frame accepted in a bundle (the next must be later).
    pub last_frame_ms: u64,
    pub trusted: Option<Fix>,
    pub bundles: u64,
    pub frames_paid: u64,
    pub frames_flagged: u64,
}

/// A dashcam's valid frame in a cell, remembered for the duplicate checks and as the cell's
/// recent contributors: what [`MappingView::cell`] shows (the state keeps a [`Seen`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sighting {
    pub device: Address,
    pub time_ms: u64,
    pub phash: u64,
    /// [`image_fingerprint`] of the frame's image hash: a later frame nearby showing the same
    /// image is an exact copy.
    pub image: u64,
}

/// The part of an image hash a [`Sighting`] keeps: its first 8 bytes. Two different images a
/// cell and its neighbours remember share one by chance with probability below 2^-57; a copier
/// who wants a match copies the whole hash, and one who wants none makes a new hash, either
/// way the full hash adds nothing.
pub fn image_fingerprint(image: &Hash) -> u64 {
    u64::from_le_bytes(image.0[..8].try_into().expect("8 bytes"))
}

/// A recently mapped cell, as [`MappingView::cell`] shows it (dashcams by address; the state
/// keeps a [`CellEntry`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellRecord {
    /// Capture time of the last valid frame here: freshness grows from it.
    pub last_mapped_ms: u64,
    pub last_device: Address,
    /// The latest valid frames (at most `phashes_per_cell`), oldest first.
    pub recent: Vec<Sighting>,
}

/// A [`Sighting`] as the state keeps it: the dashcam by its [`Dashcam::number`] (8 bytes, not
/// its 32-byte address), 32 bytes in all. Numbers are unique per device and never reused, so
/// comparing numbers is comparing dashcams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    pub dashcam: u64,
    pub time_ms: u64,
    pub phash: u64,
    pub image: u64,
}

/// A [`CellRecord`] as the state keeps it (in its [`CellGroup`]): dashcams by number. At most
/// 20 + 32 x `phashes_per_cell` bytes (532 with 16 sightings, against 948 with addresses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellEntry {
    pub last_mapped_ms: u64,
    pub last_dashcam: u64,
    /// The latest valid frames (at most `phashes_per_cell`), oldest first.
    pub recent: Vec<Seen>,
}

/// The records of the mapped children of one resolution-[`GROUP_RESOLUTION`] cell, as the state
/// keeps them: one entry (under [`group_key`]) for up to seven resolution-12 cells, each by its
/// last H3 digit. The store's and the state root's costs are per key, not per byte (a
/// checkpoint inserted 1.26 M cell keys in 3 s): neighbouring cells are mapped together, so
/// one key for seven of them cuts the keys a drive writes about sevenfold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CellGroup {
    /// (child digit 0..=6, its record), by digit; never empty in the state.
    pub cells: Vec<(u8, CellEntry)>,
}

impl CellGroup {
    /// The record of the child with last digit `digit`.
    pub fn get(&self, digit: u8) -> Option<&CellEntry> {
        self.cells.iter().find(|(d, _)| *d == digit).map(|(_, e)| e)
    }
}

/// The verdict on one frame of an accepted bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// H3 cell at the mapping resolution (0 if the position was out of range).
    pub cell: u64,
    /// Freshness weight earned, parts per million of a fully fresh cell (0 when flagged, and
    /// for a cell mapped moments ago).
    pub weight_ppm: u32,
    pub fault: Option<FrameFault>,
}

/// An accepted bundle and what each of its frames earned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleRecord {
    pub height: u64,
    pub uploader: Address,
    pub first_ms: u64,
    pub last_ms: u64,
    pub verdicts: Vec<Verdict>,
}

/// A dashcam's work in one epoch, per region, and its bounty claims.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// (region index, sum of freshness weights in ppm), by region index.
    pub regions: Vec<(u16, u64)>,
    pub bundles: u32,
    pub frames_paid: u32,
    pub frames_flagged: u32,
    /// Bounty parts claimed this epoch, base units (paid at the close).
    pub bounty: Amount,
    /// Cells map users paid for this epoch whose latest imagery is this dashcam's.
    pub cells_served: u32,
    /// Credits those map users paid for them (the dashcam's paid service, see the demand
    /// service's usage records).
    #[serde(with = "crate::amount::u128_string")]
    pub access_credits: u128,
    /// (region index, passes), by region index: valid frames that entered a cell this dashcam
    /// had not just mapped (the first frame of each pass through a cell). The close bounds the
    /// freshness a dashcam is paid per pass by the region's median (`pass_rate_margin_pct`).
    #[serde(default)]
    pub passes: Vec<(u16, u64)>,
}

/// The freshness per pass the close measured in each region of an epoch: the pass-weighted
/// median dashcam's freshness and passes, and the cap it set (kept for the reward view's
/// explanation, forgotten with the epoch's tallies).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassMedian {
    pub region: u16,
    /// The median dashcam's freshness (ppm) and passes in the region.
    pub weight: u64,
    pub passes: u64,
    /// Freshness the close stopped paying in the region (ppm), over every capped dashcam.
    pub capped: u64,
}

/// Tokens escrowed on cells until `until_ms`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounty {
    pub funder: Address,
    pub amount: Amount,
    /// What one pass in one cell earns, base units.
    pub per_part: Amount,
    pub passes: u8,
    pub cells: Vec<u64>,
    /// Frames captured from this time on claim (the block time it opened).
    pub opened_ms: u64,
    pub until_ms: u64,
    pub claimed_parts: u64,
}

impl Bounty {
    /// Parts it can pay: cells times passes.
    pub fn parts(&self) -> u64 {
        self.cells.len() as u64 * u64::from(self.passes)
    }
}

/// A bounty part a dashcam claimed, paid at the close of the epoch it was claimed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub funder: Address,
    pub amount: Amount,
}

const DASHCAM: u8 = 0;
// 1 held one record per resolution-12 cell until session 32 (now grouped, see `CELL_GROUP`).
const CELL_AGE: u8 = 2;
// 3 and 4 held the global image index and its age index until session 23 (see DECISIONS.md).
const BUNDLE: u8 = 5;
const TALLY: u8 = 6;
const BOUNTY: u8 = 7;
const BOUNTY_CELL: u8 = 8;
const BOUNTY_END: u8 = 9;
const CLAIM: u8 = 10;
const NEXT_BOUNTY: u8 = 11;
const FORGOTTEN: u8 = 12;
const PASS_MEDIAN: u8 = 13;
const NUMBER: u8 = 14;
const NUMBERED: u8 = 15;
const NEXT_NUMBER: u8 = 16;
const CELL_GROUP: u8 = 17;

/// Resolution of the cells whose resolution-12 children share one state entry ([`CellGroup`]).
pub const GROUP_RESOLUTION: u8 = 11;
/// Bit position of an H3 index's resolution-12 digit (digits are three bits each, from bit 42
/// down for resolution 1), and of its resolution field.
const DIGIT_12_SHIFT: u32 = 9;
const RESOLUTION_SHIFT: u32 = 52;
// The group arithmetic takes the children's last digit: a group is one resolution above the cells.
const _: () = assert!(super::params::MAPPING_RESOLUTION == 12 && GROUP_RESOLUTION == 11);

pub fn dashcam_key(device: &Address) -> Vec<u8> {
    module_key(Mapping::ID, DASHCAM, &[&device.0])
}

/// A device's dashcam number (a `u64`), written at its first onboarding and kept after it is
/// retired, so a dashcam onboarded again gets its old number back (its remembered sightings
/// stay its own: the same-pass rules cannot be reset by re-registering).
pub fn number_key(device: &Address) -> Vec<u8> {
    module_key(Mapping::ID, NUMBER, &[&device.0])
}

/// The address of dashcam number `number` (kept as long as its number: cells name dashcams by
/// number, and the views and refusal reasons show addresses).
pub fn numbered_key(number: u64) -> Vec<u8> {
    module_key(Mapping::ID, NUMBERED, &[&number.to_be_bytes()])
}

/// The number the next new dashcam gets (a `u64`, 0 before the first).
pub fn next_number_key() -> Vec<u8> {
    module_key(Mapping::ID, NEXT_NUMBER, &[])
}

/// The group of a resolution-12 cell: its resolution-11 parent's index and the cell's last
/// digit (`None` if `cell` is not a resolution-12 index). Bit arithmetic on the index, the
/// same on every node.
pub fn group_of(cell: u64) -> Option<(u64, u8)> {
    if (cell >> RESOLUTION_SHIFT) & 0xF != u64::from(super::params::MAPPING_RESOLUTION) {
        return None;
    }
    let digit = ((cell >> DIGIT_12_SHIFT) & 0b111) as u8;
    let parent = (cell & !(0xF << RESOLUTION_SHIFT))
        | (u64::from(GROUP_RESOLUTION) << RESOLUTION_SHIFT)
        | (0b111 << DIGIT_12_SHIFT);
    Some((parent, digit))
}

/// The resolution-12 cell with last digit `digit` under the resolution-11 cell `parent`.
pub fn child_of(parent: u64, digit: u8) -> u64 {
    (parent & !(0xF << RESOLUTION_SHIFT) & !(0b111 << DIGIT_12_SHIFT))
        | (u64::from(super::params::MAPPING_RESOLUTION) << RESOLUTION_SHIFT)
        | (u64::from(digit) << DIGIT_12_SHIFT)
}

/// A cell group's key (`parent` a resolution-11 index), on the stack: it is built for every
/// group a bundle's frames look at.
pub fn group_key(parent: u64) -> [u8; 10] {
    let mut key = [0; 10];
    key[0] = Mapping::ID;
    key[1] = CELL_GROUP;
    key[2..].copy_from_slice(&parent.to_be_bytes());
    key
}

/// The cell groups of `from..to` (resolution-11 H3 indices).
pub fn group_range(from: u64, to: u64) -> (Vec<u8>, Vec<u8>) {
    (group_key(from).to_vec(), group_key(to).to_vec())
}

/// The age index of cells: a bundle's entry lists the cells whose latest frame it brought,
/// under the bundle's last capture time. Once that time is past the memory window, each listed
/// cell not mapped again since is forgotten. One entry per bundle, not one per cell: a cell
/// mapped again gets no delete and insert of its age entry, only the newer bundle's listing.
pub fn cell_age_key(last_ms: u64, device: &Address, seq: u64) -> Vec<u8> {
    module_key(
        Mapping::ID,
        CELL_AGE,
        &[&last_ms.to_be_bytes(), &device.0, &seq.to_be_bytes()],
    )
}

/// Age-index entries of bundles whose last frame was captured before `before_ms`.
pub fn cell_age_range(before_ms: u64) -> (Vec<u8>, Vec<u8>) {
    (
        module_key(Mapping::ID, CELL_AGE, &[]),
        module_key(Mapping::ID, CELL_AGE, &[&before_ms.to_be_bytes()]),
    )
}

pub fn bundle_key(epoch: u64, device: &Address, seq: u64) -> Vec<u8> {
    module_key(
        Mapping::ID,
        BUNDLE,
        &[&epoch.to_be_bytes(), &device.0, &seq.to_be_bytes()],
    )
}

/// Bundles of `epoch` (of one device if given).
pub fn bundle_prefix(epoch: u64, device: Option<&Address>) -> Vec<u8> {
    match device {
        Some(d) => module_key(Mapping::ID, BUNDLE, &[&epoch.to_be_bytes(), &d.0]),
        None => module_key(Mapping::ID, BUNDLE, &[&epoch.to_be_bytes()]),
    }
}

pub fn tally_key(epoch: u64, device: &Address) -> Vec<u8> {
    module_key(Mapping::ID, TALLY, &[&epoch.to_be_bytes(), &device.0])
}

/// Bundle records of the epochs before `epoch`.
pub fn bundles_before(epoch: u64) -> (Vec<u8>, Vec<u8>) {
    (
        module_key(Mapping::ID, BUNDLE, &[]),
        module_key(Mapping::ID, BUNDLE, &[&epoch.to_be_bytes()]),
    )
}

/// Tallies of the epochs before `epoch`.
pub fn tallies_before(epoch: u64) -> (Vec<u8>, Vec<u8>) {
    (
        module_key(Mapping::ID, TALLY, &[]),
        module_key(Mapping::ID, TALLY, &[&epoch.to_be_bytes()]),
    )
}

/// Cells forgotten so far in `epoch` (a `u64`, summed by the ends of its blocks and cleared by
/// its close into the summary's `cells_forgotten`).
pub fn forgotten_key(epoch: u64) -> Vec<u8> {
    module_key(Mapping::ID, FORGOTTEN, &[&epoch.to_be_bytes()])
}

/// The per-region pass medians of `epoch`'s close.
pub fn pass_median_key(epoch: u64) -> Vec<u8> {
    module_key(Mapping::ID, PASS_MEDIAN, &[&epoch.to_be_bytes()])
}

/// Tallies of `epoch`.
pub fn tally_prefix(epoch: u64) -> Vec<u8> {
    module_key(Mapping::ID, TALLY, &[&epoch.to_be_bytes()])
}

pub fn bounty_key(id: u64) -> Vec<u8> {
    module_key(Mapping::ID, BOUNTY, &[&id.to_be_bytes()])
}

pub fn bounty_cell_key(cell: u64, id: u64) -> Vec<u8> {
    module_key(
        Mapping::ID,
        BOUNTY_CELL,
        &[&cell.to_be_bytes(), &id.to_be_bytes()],
    )
}

/// Whether any cell has an open bounty.
pub fn any_bounty_cells(state: &impl StateRead) -> bool {
    !state
        .scan_prefix(&module_key(Mapping::ID, BOUNTY_CELL, &[]), 1)
        .is_empty()
}

/// Open bounties on `cell`.
pub fn bounty_cell_prefix(cell: u64) -> Vec<u8> {
    module_key(Mapping::ID, BOUNTY_CELL, &[&cell.to_be_bytes()])
}

pub fn bounty_end_key(settle_ms: u64, id: u64) -> Vec<u8> {
    module_key(
        Mapping::ID,
        BOUNTY_END,
        &[&settle_ms.to_be_bytes(), &id.to_be_bytes()],
    )
}

/// Bounties due to settle before `before_ms`.
pub fn bounty_end_range(before_ms: u64) -> (Vec<u8>, Vec<u8>) {
    (
        module_key(Mapping::ID, BOUNTY_END, &[]),
        module_key(Mapping::ID, BOUNTY_END, &[&before_ms.to_be_bytes()]),
    )
}

pub fn claim_key(epoch: u64, device: &Address, bounty: u64) -> Vec<u8> {
    module_key(
        Mapping::ID,
        CLAIM,
        &[&epoch.to_be_bytes(), &device.0, &bounty.to_be_bytes()],
    )
}

/// Claims made in `epoch`.
pub fn claim_prefix(epoch: u64) -> Vec<u8> {
    module_key(Mapping::ID, CLAIM, &[&epoch.to_be_bytes()])
}

pub fn next_bounty_key() -> Vec<u8> {
    module_key(Mapping::ID, NEXT_BOUNTY, &[])
}

/// The account that holds escrowed bounties: an address nobody has the key of (a hash, not a
/// public key anyone generated), moved only by the mapping module.
pub fn escrow_account() -> Address {
    Address(Hash::tagged("depin/mapping/escrow/v1", &[]).0)
}

/// The numeric range of H3 indices holding every resolution-`to_res` descendant of `parent`
/// (valid cells in it are exactly those descendants), for range scans of [`group_key`]s
/// (`to_res` [`GROUP_RESOLUTION`]); `None` if `parent` is finer than `to_res`.
pub fn descendants_range(parent: u64, to_res: u8) -> Option<(u64, u64)> {
    let cell = h3o::CellIndex::try_from(parent).ok()?;
    let res = u8::from(cell.resolution());
    if res > to_res {
        return None;
    }
    // Layout: bits 52..56 resolution, then 15 three-bit digits from bit 42 down; digits past
    // the resolution are 7.
    let mut base = parent & !(0xF << RESOLUTION_SHIFT);
    base |= u64::from(to_res) << RESOLUTION_SHIFT;
    let digit_shift = |d: u8| u64::from(15 - d) * 3;
    for d in (res + 1)..=to_res {
        base &= !(0b111 << digit_shift(d));
    }
    let mut last = base;
    for d in (res + 1)..=to_res {
        last |= 0b110 << digit_shift(d);
    }
    Some((base, last + 1))
}

/// A dashcam as the API sees it: its registry entry and its mapping record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashcamView {
    pub entry: DeviceEntry,
    pub record: Dashcam,
}

/// Read access to mapping records, in the executing state or a store snapshot.
pub trait MappingView {
    /// A mapping device (registered to this module, with its record).
    fn dashcam(&self, device: &Address) -> Option<DashcamView>;
    /// The address of dashcam number `number`.
    fn numbered(&self, number: u64) -> Option<Address>;
    /// A cell as the state keeps it (dashcams by number).
    fn cell_entry(&self, cell: u64) -> Option<CellEntry>;
    /// The mapped children of a resolution-11 cell, as the state keeps them.
    fn cell_group(&self, parent: u64) -> Option<CellGroup>;
    /// A cell with its dashcams' addresses.
    fn cell(&self, cell: u64) -> Option<CellRecord>;
    /// Recently mapped cells among the resolution-12 descendants of `parent`, at most `limit`.
    fn cells_under(&self, parent: u64, limit: usize) -> Vec<(u64, CellRecord)>;
    /// A device's bundles accepted in `epoch`, by sequence number.
    fn bundles(&self, epoch: u64, device: &Address, limit: usize) -> Vec<(u64, BundleRecord)>;
    fn tally(&self, epoch: u64, device: &Address) -> Option<Tally>;
    /// What the close of `epoch` measured per region: the median freshness per pass and the
    /// freshness it capped.
    fn pass_medians(&self, epoch: u64) -> Vec<PassMedian>;
    fn bounty(&self, id: u64) -> Option<Bounty>;
    /// Open bounties on `cell`, with the dashcams that claimed a pass.
    fn bounties_on(&self, cell: u64) -> Vec<(u64, Vec<Address>)>;
}

/// The address of a dashcam number a cell names (every number in a cell was given to a dashcam,
/// and a number's address is never deleted).
pub fn address_of(state: &impl StateRead, number: u64) -> Address {
    state
        .get(&numbered_key(number))
        .expect("a cell names only numbered dashcams")
}

/// A stored cell with its dashcams' addresses (each distinct number read once).
fn with_addresses(state: &impl StateRead, c: CellEntry) -> CellRecord {
    let mut known: Vec<(u64, Address)> = Vec::new();
    let mut address = |number: u64| match known.iter().find(|(n, _)| *n == number) {
        Some((_, a)) => *a,
        None => {
            let a = address_of(state, number);
            known.push((number, a));
            a
        }
    };
    CellRecord {
        last_mapped_ms: c.last_mapped_ms,
        last_device: address(c.last_dashcam),
        recent: c
            .recent
            .iter()
            .map(|s| Sighting {
                device: address(s.dashcam),
                time_ms: s.time_ms,
                phash: s.phash,
                image: s.image,
            })
            .collect(),
    }
}

fn be_u64(bytes: &[u8]) -> u64 {
    u64::from_be_bytes(bytes.try_into().expect("8 bytes"))
}

impl<R: StateRead> MappingView for R {
    fn dashcam(&self, device: &Address) -> Option<DashcamView> {
        let entry = self.device_entry(device)?;
        if entry.module != Mapping::ID {
            return None;
        }
        Some(DashcamView {
            entry,
            record: self.get(&dashcam_key(device)).unwrap_or_default(),
        })
    }

    fn numbered(&self, number: u64) -> Option<Address> {
        self.get(&numbered_key(number))
    }

    fn cell_entry(&self, cell: u64) -> Option<CellEntry> {
        let (parent, digit) = group_of(cell)?;
        let group = self.cell_group(parent)?;
        group
            .cells
            .into_iter()
            .find(|(d, _)| *d == digit)
            .map(|(_, e)| e)
    }

    fn cell_group(&self, parent: u64) -> Option<CellGroup> {
        self.get(&group_key(parent))
    }

    fn cell(&self, cell: u64) -> Option<CellRecord> {
        self.cell_entry(cell).map(|c| with_addresses(self, c))
    }

    fn cells_under(&self, parent: u64, limit: usize) -> Vec<(u64, CellRecord)> {
        if group_of(parent).is_some() {
            let entry = self.cell_entry(parent);
            return (entry.into_iter().take(limit))
                .map(|e| (parent, with_addresses(self, e)))
                .collect();
        }
        let Some((from, to)) = descendants_range(parent, GROUP_RESOLUTION) else {
            return Vec::new();
        };
        let (from, to) = group_range(from, to);
        // Every group holds at least one cell: `limit` groups hold at least `limit` cells.
        self.scan(&from, &to, limit)
            .into_iter()
            .flat_map(|(k, v)| {
                let parent = be_u64(&k[k.len() - 8..]);
                let group: CellGroup =
                    crate::codec::Decode::from_bytes(&v).expect("the ledger wrote it");
                group
                    .cells
                    .into_iter()
                    .map(move |(digit, entry)| (child_of(parent, digit), entry))
            })
            .take(limit)
            .map(|(cell, entry)| (cell, with_addresses(self, entry)))
            .collect()
    }

    fn bundles(&self, epoch: u64, device: &Address, limit: usize) -> Vec<(u64, BundleRecord)> {
        self.scan_prefix(&bundle_prefix(epoch, Some(device)), limit)
            .into_iter()
            .map(|(k, v)| {
                let seq = be_u64(&k[k.len() - 8..]);
                let record = crate::codec::Decode::from_bytes(&v).expect("the ledger wrote it");
                (seq, record)
            })
            .collect()
    }

    fn tally(&self, epoch: u64, device: &Address) -> Option<Tally> {
        self.get(&tally_key(epoch, device))
    }

    fn pass_medians(&self, epoch: u64) -> Vec<PassMedian> {
        self.get(&pass_median_key(epoch)).unwrap_or_default()
    }

    fn bounty(&self, id: u64) -> Option<Bounty> {
        self.get(&bounty_key(id))
    }

    fn bounties_on(&self, cell: u64) -> Vec<(u64, Vec<Address>)> {
        self.scan_prefix(&bounty_cell_prefix(cell), usize::MAX)
            .into_iter()
            .map(|(k, v)| {
                let id = be_u64(&k[k.len() - 8..]);
                let claimants = crate::codec::Decode::from_bytes(&v).expect("the ledger wrote it");
                (id, claimants)
            })
            .collect()
    }
}

struct_codec!(Fix {
    time_ms: u64,
    lat_udeg: i32,
    lon_udeg: i32,
    speed_cms: u16,
});
struct_codec!(Dashcam {
    number: u64,
    last_seq: Option<u64>,
    last_frame_ms: u64,
    trusted: Option<Fix>,
    bundles: u64,
    frames_paid: u64,
    frames_flagged: u64,
});
struct_codec!(Seen {
    dashcam: u64,
    time_ms: u64,
    phash: u64,
    image: u64,
});
struct_codec!(CellEntry {
    last_mapped_ms: u64,
    last_dashcam: u64,
    recent: Vec<Seen>,
});
struct_codec!(CellGroup {
    cells: Vec<(u8, CellEntry)>,
});
struct_codec!(Verdict {
    cell: u64,
    weight_ppm: u32,
    fault: Option<FrameFault>,
});
struct_codec!(BundleRecord {
    height: u64,
    uploader: Address,
    first_ms: u64,
    last_ms: u64,
    verdicts: Vec<Verdict>,
});
struct_codec!(Tally {
    regions: Vec<(u16, u64)>,
    bundles: u32,
    frames_paid: u32,
    frames_flagged: u32,
    bounty: Amount,
    cells_served: u32,
    access_credits: u128,
    passes: Vec<(u16, u64)>,
});
struct_codec!(PassMedian {
    region: u16,
    weight: u64,
    passes: u64,
    capped: u64,
});
struct_codec!(Bounty {
    funder: Address,
    amount: Amount,
    per_part: Amount,
    passes: u8,
    cells: Vec<u64>,
    opened_ms: u64,
    until_ms: u64,
    claimed_parts: u64,
});
struct_codec!(Claim {
    funder: Address,
    amount: Amount,
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_descendants_range_holds_exactly_a_cell_s_resolution_12_children() {
        let berlin = crate::services::devices::Location {
            lat_udeg: 52_520_008,
            lon_udeg: 13_404_954,
        };
        for res in [5u8, 8, 11, 12] {
            let parent = berlin.cell(res).unwrap();
            let (from, to) = descendants_range(parent, 12).unwrap();
            let p = h3o::CellIndex::try_from(parent).unwrap();
            let twelve = h3o::Resolution::Twelve;
            let first = u64::from(p.child_at(0, twelve).unwrap());
            let last = u64::from(p.child_at(p.children_count(twelve) - 1, twelve).unwrap());
            assert_eq!((from, to), (first, last + 1), "resolution {res}");
            // A neighbour's children lie outside.
            let next = p.grid_disk::<Vec<_>>(1)[1];
            let child = u64::from(next.child_at(0, twelve).unwrap());
            assert!(!(from..to).contains(&child));
        }
        let fine = berlin.cell(13).unwrap();
        assert_eq!(descendants_range(fine, 12), None);
    }

    #[test]
    fn a_cell_s_group_is_its_resolution_11_parent_and_its_last_digit() {
        let mut at = crate::services::devices::Location {
            lat_udeg: 52_520_008,
            lon_udeg: 13_404_954,
        };
        let eleven = h3o::Resolution::Eleven;
        for step in 0..500 {
            at.lat_udeg += 37 * (step % 7);
            at.lon_udeg += 53 * (step % 5);
            let cell = at.cell(12).unwrap();
            let (parent, digit) = group_of(cell).unwrap();
            let index = h3o::CellIndex::try_from(cell).unwrap();
            assert_eq!(parent, u64::from(index.parent(eleven).unwrap()));
            assert_eq!(
                digit,
                u8::from(index.direction_at(h3o::Resolution::Twelve).unwrap())
            );
            assert!(digit <= 6);
            assert_eq!(child_of(parent, digit), cell);
            // Its group lies in the groups under each of its ancestors (by index: H3 cells are
            // not nested in space).
            let eight = u64::from(index.parent(h3o::Resolution::Eight).unwrap());
            let (from, to) = descendants_range(eight, GROUP_RESOLUTION).unwrap();
            assert!((from..to).contains(&parent));
        }
        // Not a resolution-12 cell: no group.
        assert_eq!(group_of(at.cell(11).unwrap()), None);
        assert_eq!(group_of(at.cell(13).unwrap()), None);
        assert_eq!(group_of(0), None);
    }
}
