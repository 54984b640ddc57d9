//! Durable storage of blocks, receipts and state in an embedded redb database, one atomic commit
//! per block.
//!
//! Each block is written in a single redb write transaction holding the block, its receipts, the
//! transaction index, the block's state write set, the height and the app hash, committed with
//! fsync. After a crash (even `kill -9` mid-write) the database opens at the last committed block:
//! never half a block. Reads use redb's MVCC snapshots, so the API reads committed data while the
//! driver writes the next block.
//!
//! The state write set goes in as one sequential blob keyed by height (the pending table), not as
//! random keys into the state table: copy-on-write would otherwise rewrite most of the state
//! table's leaf pages every block. A checkpoint, every [`CheckpointPolicy::blocks`] blocks or
//! once the pending blobs pass [`CheckpointPolicy::bytes`], applies the pending sets to the state
//! table (in key order, newest write winning) and deletes them; the state table's height is kept
//! beside it. It is spread over the next [`CheckpointPolicy::steps`] block commits, a share of
//! its keys each, so no block's commit waits for a whole checkpoint: a share applied before a
//! crash is harmless, because the pending sets it came from are still there and win over the
//! table. Loading the state reads the table and then the pending sets in height order. Every
//! state read (entries, ranges, prefixes, snapshots, accounts) merges the pending sets over the
//! table, both taken under one lock so a read never sees half a block.

mod pending;
mod replay;

use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use depin_core::codec::{Decode, DecodeError, Encode, Reader};
use depin_core::state::{RestoreError, WriteSet};
use depin_core::{
    Account, Address, Applied, Block, Genesis, Hash, Header, Params, Receipt, State, StateRead,
    Transaction,
};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use thiserror::Error;

pub use replay::{ReplayReport, replay_from_genesis};

/// Height -> canonical block bytes.
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
/// Height -> canonical bytes of the block's receipts (a `Vec<Receipt>`).
const RECEIPTS: TableDefinition<u64, &[u8]> = TableDefinition::new("receipts");
/// Transaction hash -> (height, index in block).
const TX_INDEX: TableDefinition<[u8; 32], (u64, u32)> = TableDefinition::new("tx_index");
/// State key -> state value (the ledger's key-value view).
const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
/// (device, height, index in block) -> nothing: every proof-of-coverage report a device signed,
/// accepted or refused, so a device's rejections can be explained.
const REPORTS: TableDefinition<([u8; 32], u64, u32), ()> = TableDefinition::new("reports");
/// (height, reason code or "accepted") -> number of reports in that block with that outcome.
const REPORT_OUTCOMES: TableDefinition<(u64, &str), u64> = TableDefinition::new("report_outcomes");
/// Chain position and identity.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Height -> the state write set of a committed block not yet applied to [`STATE`] (see
/// [`pending`] for the encoding).
const PENDING: TableDefinition<u64, &[u8]> = TableDefinition::new("pending_state");
/// Finalization certificates of a BFT network (encoded by the engine), by the height of the
/// block each names; its ancestors are final through it.
const CERTIFICATES: TableDefinition<u64, &[u8]> = TableDefinition::new("certificates");

/// State entries as (key, value) pairs.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Outcome code of an accepted report in [`Store::report_outcomes`].
pub const ACCEPTED: &str = "accepted";

const META_HEIGHT: &str = "height";
const META_APP_HASH: &str = "app_hash";
const META_LAST_BLOCK_HASH: &str = "last_block_hash";
const META_GENESIS_HASH: &str = "genesis_hash";
/// The height [`STATE`] reflects: the pending sets above it, up to [`META_HEIGHT`], complete it.
/// Absent in stores written before the pending table: their [`STATE`] is at [`META_HEIGHT`].
const META_STATE_HEIGHT: &str = "state_height";

/// When pending state writes are applied to the state table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// At most this many blocks' write sets wait (at least 1).
    pub blocks: u64,
    /// A checkpoint runs once the waiting write sets hold at least this many bytes.
    pub bytes: usize,
    /// A due checkpoint is applied over this many block commits (at least 1), an equal share of
    /// its keys with each, in key order. 1 applies it whole with the block that made it due.
    /// While it runs, more blocks wait: at twice `blocks` or `bytes` the rest is applied at once.
    pub steps: u64,
}

impl Default for CheckpointPolicy {
    /// 64 blocks or 256 MiB, whichever comes first: memory for the pending index stays bounded
    /// and a restart reads at most about that much beyond the state table. Applied over 16
    /// blocks: whole, a checkpoint of the mapping bench's 1.26 million keys took about 3 s inside
    /// one block's commit; in steps the slowest commit of a round about halved (BENCHMARKS.md).
    fn default() -> Self {
        CheckpointPolicy {
            blocks: 64,
            bytes: 256 << 20,
            steps: 16,
        }
    }
}

impl CheckpointPolicy {
    /// Environment variable overriding [`CheckpointPolicy::blocks`].
    pub const BLOCKS_VAR: &'static str = "DEPIN_STORE_CHECKPOINT_BLOCKS";
    /// Environment variable overriding [`CheckpointPolicy::bytes`], in MiB.
    pub const MIB_VAR: &'static str = "DEPIN_STORE_CHECKPOINT_MIB";
    /// Environment variable overriding [`CheckpointPolicy::steps`].
    pub const STEPS_VAR: &'static str = "DEPIN_STORE_CHECKPOINT_STEPS";

    /// Whether pending write sets this large must be applied: a new checkpoint is due at the
    /// policy's size; one under way is finished at once at twice it.
    fn due(&self, pending: &Pending) -> bool {
        let (blocks, bytes) = match pending.stepping {
            None => (self.blocks, self.bytes),
            Some(_) => (self.blocks.saturating_mul(2), self.bytes.saturating_mul(2)),
        };
        pending.layers.len() as u64 >= blocks || pending.bytes >= bytes
    }

    /// The default, with [`Self::BLOCKS_VAR`], [`Self::MIB_VAR`] and [`Self::STEPS_VAR`] applied
    /// when set.
    pub fn from_env() -> Result<CheckpointPolicy, StoreError> {
        let mut policy = CheckpointPolicy::default();
        let read = |var: &str| -> Result<Option<u64>, StoreError> {
            match std::env::var(var) {
                Err(_) => Ok(None),
                Ok(v) => match v.trim().parse::<u64>() {
                    Ok(n) if n >= 1 => Ok(Some(n)),
                    _ => Err(StoreError::Config(format!(
                        "{var}={v:?} is not a whole number of at least 1; unset it or give e.g. {var}=64"
                    ))),
                },
            }
        };
        if let Some(n) = read(Self::BLOCKS_VAR)? {
            policy.blocks = n;
        }
        if let Some(n) = read(Self::MIB_VAR)? {
            policy.bytes = usize::try_from(n.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        }
        if let Some(n) = read(Self::STEPS_VAR)? {
            policy.steps = n;
        }
        Ok(policy)
    }
}

/// What went wrong reading or writing the store.
#[derive(Debug, Error)]
pub enum StoreError {
    // Not a `source`: the message carries it, so a printed chain of causes says it once.
    #[error("database error: {0}")]
    Db(redb::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(
        "this data directory belongs to another network (genesis {stored}, but the genesis file hashes to {given}); use a fresh --home or the genesis it was created with"
    )]
    WrongGenesis { stored: Hash, given: Hash },
    #[error("stored state does not match its app hash: {0}")]
    State(#[from] RestoreError),
    #[error("block {got} cannot be stored on top of height {height}")]
    OutOfOrder { height: u64, got: u64 },
    #[error("bad store setting: {0}")]
    Config(String),
    #[error(
        "block {height} is committed, but applying the pending state writes to the state table failed ({error}); restart the node to finish it"
    )]
    Checkpoint { height: u64, error: Box<StoreError> },
}

impl StoreError {
    /// The database file is held open by another process: another node runs on this home.
    pub fn is_locked(&self) -> bool {
        match self {
            StoreError::Db(redb::Error::DatabaseAlreadyOpen) => true,
            StoreError::Checkpoint { error, .. } => error.is_locked(),
            _ => false,
        }
    }
}

impl From<redb::Error> for StoreError {
    fn from(e: redb::Error) -> Self {
        StoreError::Db(e)
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

impl From<DecodeError> for StoreError {
    fn from(e: DecodeError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// A transaction found in a committed block.
#[derive(Clone, Debug)]
pub struct CommittedTx {
    pub tx: Transaction,
    pub receipt: Receipt,
    pub height: u64,
    pub index: u32,
}

/// The state as of one committed block, for reads (the API's view of module records).
///
/// Reads cannot fail in [`StateRead`]'s signature: a storage error reads as an absent entry and
/// is kept; [`Snapshot::finish`] returns it, so a handler never answers from a failed read.
pub struct Snapshot {
    view: View,
    params: Params,
    error: std::cell::RefCell<Option<StoreError>>,
}

impl Snapshot {
    /// The first storage error a read met, if any.
    pub fn finish(self) -> Result<(), StoreError> {
        match self.error.into_inner() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn keep<T>(&self, r: Result<T, StoreError>, fallback: T) -> T {
        r.unwrap_or_else(|e| {
            self.error.borrow_mut().get_or_insert(e);
            fallback
        })
    }
}

impl StateRead for Snapshot {
    fn with_entry<R>(&self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> R {
        if let Some(v) = self.view.pending_get(key) {
            return f(v);
        }
        let value = self.keep(
            self.view
                .table
                .get(key)
                .map(|v| v.map(|v| v.value().to_vec()))
                .map_err(StoreError::from),
            None,
        );
        f(value.as_deref())
    }

    fn scan(&self, from: &[u8], to: &[u8], limit: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.keep(
            self.view
                .range(Bound::Included(from), Bound::Excluded(to), limit),
            Vec::new(),
        )
    }

    fn params(&self) -> &Params {
        &self.params
    }
}

/// A consistent read of the state: the state table as of one committed transaction and the
/// pending write sets that complete it, taken together under [`Store::pending`]'s lock.
struct View {
    table: redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
    /// Oldest first.
    layers: Vec<Arc<pending::Layer>>,
}

impl View {
    /// The pending write of `key`, newest first: `Some(None)` if deleted, `None` if no pending
    /// set touches it (the table has it).
    fn pending_get(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        if self.layers.is_empty() {
            return None;
        }
        let hash = pending::key_hash(key);
        self.layers
            .iter()
            .rev()
            .find_map(|l| l.get_hashed(key, hash))
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.pending_get(key) {
            Some(v) => Ok(v.map(<[u8]>::to_vec)),
            None => Ok(self.table.get(key)?.map(|v| v.value().to_vec())),
        }
    }

    /// Up to `limit` entries in the range, in key order.
    fn range(
        &self,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StoreError> {
        let base = self.table.range::<&[u8]>((from, to))?.map(
            |e| -> Result<(Vec<u8>, Vec<u8>), StoreError> {
                let (k, v) = e?;
                Ok((k.value().to_vec(), v.value().to_vec()))
            },
        );
        pending::merge_with_base(base, pending::Merged::new(&self.layers, from, to), limit)
    }
}

/// The pending write sets in memory, oldest first, with their total size.
#[derive(Default)]
struct Pending {
    layers: Vec<Arc<pending::Layer>>,
    bytes: usize,
    /// The checkpoint being applied in steps, if one is.
    stepping: Option<Stepping>,
}

/// A checkpoint applied over several block commits: the pending layers through block `top`, in
/// key order, `per_step` keys a commit; those up to `done` are in the state table.
struct Stepping {
    top: u64,
    done: Option<Vec<u8>>,
    per_step: usize,
}

/// The node's database.
pub struct Store {
    db: Database,
    /// Write sets committed but not yet in [`STATE`]. Readers take it together with their read
    /// transaction; the writer changes it only after the transaction that made the change
    /// durable has committed.
    pending: Mutex<Pending>,
    /// Held while a checkpoint (or a step of one) writes: one at a time.
    checkpointing: Mutex<()>,
    policy: CheckpointPolicy,
}

impl Store {
    /// Opens the database at `path`, creating it if missing, with the checkpoint policy of
    /// [`CheckpointPolicy::from_env`].
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, CheckpointPolicy::from_env()?)
    }

    /// Opens the database at `path`, creating it if missing, checkpointing by `policy`.
    pub fn open_with(path: &Path, policy: CheckpointPolicy) -> Result<Store, StoreError> {
        if policy.blocks == 0 || policy.steps == 0 {
            return Err(StoreError::Config(
                "a checkpoint policy must allow at least 1 block and 1 step".into(),
            ));
        }
        let db = Database::create(path)?;
        let tx = db.begin_write()?;
        tx.open_table(BLOCKS)?;
        tx.open_table(RECEIPTS)?;
        tx.open_table(TX_INDEX)?;
        tx.open_table(STATE)?;
        tx.open_table(PENDING)?;
        tx.open_table(REPORTS)?;
        tx.open_table(REPORT_OUTCOMES)?;
        tx.open_table(META)?;
        tx.commit()?;
        let store = Store {
            db,
            pending: Mutex::new(Pending::default()),
            checkpointing: Mutex::new(()),
            policy,
        };
        store.load_pending()?;
        Ok(store)
    }

    /// Reads the pending write sets into memory, checking they are exactly the blocks between
    /// the state table's height and the chain's.
    fn load_pending(&self) -> Result<(), StoreError> {
        let height = self.height()?;
        let state_height = self.state_height()?;
        if state_height > height {
            return Err(StoreError::Corrupt(format!(
                "the state table is at height {state_height}, above the chain's {height}"
            )));
        }
        let tx = self.db.begin_read()?;
        let table = tx.open_table(PENDING)?;
        let mut loaded = Pending::default();
        let mut expect = state_height + 1;
        for entry in table.iter()? {
            let (h, blob) = entry?;
            let h = h.value();
            if h != expect || h > height {
                return Err(StoreError::Corrupt(format!(
                    "pending state writes of block {h} where block {expect} was expected (state table at {state_height}, chain at {height})"
                )));
            }
            let layer = pending::Layer::parse(h, blob.value().to_vec()).map_err(|e| {
                StoreError::Corrupt(format!("pending state writes of block {h}: {e}"))
            })?;
            loaded.bytes += layer.bytes();
            loaded.layers.push(Arc::new(layer));
            expect += 1;
        }
        if expect != height + 1 {
            return Err(StoreError::Corrupt(format!(
                "the pending state writes of blocks {expect}..={height} are missing (state table at {state_height})"
            )));
        }
        *self.lock_pending() = loaded;
        Ok(())
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        // The guarded data is only replaced whole: a panic elsewhere leaves it consistent.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A consistent read of the committed state.
    fn view(&self) -> Result<View, StoreError> {
        let pending = self.lock_pending();
        let tx = self.db.begin_read()?;
        let table = tx.open_table(STATE)?;
        Ok(View {
            table,
            layers: pending.layers.clone(),
        })
    }

    /// The height the state table reflects (the rest is in pending write sets).
    fn state_height(&self) -> Result<u64, StoreError> {
        match self.meta_u64(META_STATE_HEIGHT)? {
            Some(h) => Ok(h),
            None => self.height(),
        }
    }

    /// Blocks whose state writes are committed but not yet applied to the state table.
    pub fn pending_blocks(&self) -> usize {
        self.lock_pending().layers.len()
    }

    /// Loads the committed state, writing the genesis state first if the store is empty.
    /// Refuses a store created from a different genesis.
    pub fn load_or_init(&self, genesis: &Genesis) -> Result<State, StoreError> {
        let given = genesis.hash();
        match self.meta_hash(META_GENESIS_HASH)? {
            Some(stored) if stored != given => Err(StoreError::WrongGenesis { stored, given }),
            Some(_) => self.load_state(),
            None => {
                let mut state = State::genesis(genesis)
                    .map_err(|e| StoreError::Corrupt(format!("genesis: {e}")))?;
                let app_hash = state.app_hash();
                let writes: WriteSet = state
                    .entries()
                    .into_iter()
                    .map(|(k, v)| (k, Some(v)))
                    .collect();
                let tx = self.db.begin_write()?;
                {
                    write_state(&tx, &writes)?;
                    let mut meta = tx.open_table(META)?;
                    meta.insert(META_HEIGHT, 0u64.to_le_bytes().as_slice())?;
                    meta.insert(META_APP_HASH, app_hash.0.as_slice())?;
                    meta.insert(META_LAST_BLOCK_HASH, given.0.as_slice())?;
                    meta.insert(META_GENESIS_HASH, given.0.as_slice())?;
                    meta.insert(META_STATE_HEIGHT, 0u64.to_le_bytes().as_slice())?;
                }
                tx.commit()?;
                Ok(state)
            }
        }
    }

    /// The state table with the pending write sets applied over it, checked against the
    /// committed app hash.
    fn load_state(&self) -> Result<State, StoreError> {
        let app_hash = self.required_hash(META_APP_HASH)?;
        let last = self.required_hash(META_LAST_BLOCK_HASH)?;
        let view = self.view()?;
        let entries = view.range(Bound::Unbounded, Bound::Unbounded, usize::MAX)?;
        Ok(State::restore(entries, app_hash, last)?)
    }

    /// Writes a block, its receipts, its transaction index and its state write set in one
    /// durable transaction. The block must be the next one. Then, if a checkpoint is under way or
    /// the policy makes one due, applies its next share of the pending write sets to the state
    /// table; if that fails the block is still committed (the error says so) and a restart
    /// finishes the checkpoint.
    pub fn commit_block(&self, block: &Block, applied: &Applied) -> Result<(), StoreError> {
        let height = self.height()?;
        if block.header.height != height + 1 {
            return Err(StoreError::OutOfOrder {
                height,
                got: block.header.height,
            });
        }
        let h = block.header.height;
        let layer = pending::Layer::parse(h, pending::Layer::encode(&applied.writes))
            .map_err(|e| StoreError::Corrupt(format!("state writes of block {h}: {e}")))?;
        let tx = self.db.begin_write()?;
        {
            tx.open_table(BLOCKS)?
                .insert(h, block.to_bytes().as_slice())?;
            tx.open_table(RECEIPTS)?
                .insert(h, applied.receipts.to_bytes().as_slice())?;
            let mut index = tx.open_table(TX_INDEX)?;
            for (i, hash) in applied.tx_hashes.iter().enumerate() {
                index.insert(hash.0, (h, i as u32))?;
            }
            tx.open_table(PENDING)?.insert(h, layer.blob())?;
            let mut reports = tx.open_table(REPORTS)?;
            let mut outcomes: std::collections::BTreeMap<&str, u64> = Default::default();
            for (i, (t, receipt)) in block.txs.iter().zip(&applied.receipts).enumerate() {
                if !t.action.is_report() {
                    continue;
                }
                reports.insert((t.signer.0, h, i as u32), ())?;
                let code = match receipt {
                    Receipt::Success => ACCEPTED,
                    Receipt::Rejected(r) => r.code(),
                };
                *outcomes.entry(code).or_default() += 1;
            }
            let mut outcome_table = tx.open_table(REPORT_OUTCOMES)?;
            for (code, n) in outcomes {
                outcome_table.insert((h, code), n)?;
            }
            let mut meta = tx.open_table(META)?;
            meta.insert(META_HEIGHT, h.to_le_bytes().as_slice())?;
            meta.insert(META_APP_HASH, applied.app_hash.0.as_slice())?;
            meta.insert(META_LAST_BLOCK_HASH, block.hash().0.as_slice())?;
        }
        tx.commit()?;
        let whole = {
            let mut pending = self.lock_pending();
            pending.bytes += layer.bytes();
            pending.layers.push(Arc::new(layer));
            let due = self.policy.due(&pending);
            if pending.stepping.is_none() && due {
                let keys: usize = pending.layers.iter().map(|l| l.keys()).sum();
                pending.stepping = Some(Stepping {
                    top: h,
                    done: None,
                    per_step: keys.div_ceil(self.policy.steps as usize).max(1),
                });
                self.policy.steps == 1
            } else {
                due
            }
        };
        self.step_checkpoint(whole)
            .map_err(|e| StoreError::Checkpoint {
                height: h,
                error: Box::new(e),
            })
    }

    /// Applies the next share of the checkpoint under way, if any (the rest of it if `whole`).
    fn step_checkpoint(&self, whole: bool) -> Result<(), StoreError> {
        let _one = self
            .checkpointing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (layers, done, limit, top) = {
            let pending = self.lock_pending();
            let Some(s) = &pending.stepping else {
                return Ok(());
            };
            let layers: Vec<_> = pending
                .layers
                .iter()
                .take_while(|l| l.height <= s.top)
                .cloned()
                .collect();
            let limit = if whole { usize::MAX } else { s.per_step };
            (layers, s.done.clone(), limit, s.top)
        };
        let done = self.apply_pending(&layers, top, done.as_deref(), limit)?;
        if let Some(s) = &mut self.lock_pending().stepping {
            s.done = done;
        }
        Ok(())
    }

    /// Applies every pending write set to the state table and deletes them: the table then
    /// reflects the last committed block. A crash before the last durable commit leaves the
    /// pending sets as they were; reads see the same state before and after.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.checkpoint_upto(u64::MAX)
    }

    /// Applies the pending write sets up to block `upto` (at least the oldest, and all of the
    /// checkpoint under way) to the state table and deletes them.
    #[doc(hidden)]
    pub fn checkpoint_upto(&self, upto: u64) -> Result<(), StoreError> {
        self.step_checkpoint(true)?;
        let _one = self
            .checkpointing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let layers: Vec<_> = self
            .lock_pending()
            .layers
            .iter()
            .filter(|l| l.height <= upto)
            .cloned()
            .collect();
        match layers.last().map(|l| l.height) {
            Some(top) => self.apply_pending(&layers, top, None, usize::MAX).map(drop),
            None => Ok(()),
        }
    }

    /// Writes the merged writes of `layers` (the oldest pending ones, through block `top`) into
    /// the state table in key order, those after key `after`, at most `limit` keys, in one
    /// transaction. If keys remain it returns the last one written, and the transaction is not
    /// made durable on its own (the next block's commit makes it so; lost in a crash, it is
    /// written again, and until then the pending sets win over it). With the last key, the same
    /// transaction deletes the layers' pending sets and moves the table's height, durably, and
    /// they are dropped from memory (returns `None`).
    fn apply_pending(
        &self,
        layers: &[Arc<pending::Layer>],
        top: u64,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let mut tx = self.db.begin_write()?;
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut merged = pending::Merged::new(layers, from, Bound::Unbounded).peekable();
        let mut last = None;
        {
            let mut table = tx.open_table(STATE)?;
            // Key order: each leaf page is copied once, and neighbours are written together.
            for (key, value) in merged.by_ref().take(limit) {
                match value {
                    Some(v) => {
                        table.insert(key, v)?;
                    }
                    None => {
                        table.remove(key)?;
                    }
                }
                last = Some(key);
            }
        }
        if merged.peek().is_some() {
            let last = last.map(<[u8]>::to_vec);
            tx.set_durability(redb::Durability::None)?;
            tx.commit()?;
            return Ok(last);
        }
        {
            let mut sets = tx.open_table(PENDING)?;
            for layer in layers {
                sets.remove(layer.height)?;
            }
            tx.open_table(META)?
                .insert(META_STATE_HEIGHT, top.to_le_bytes().as_slice())?;
        }
        tx.commit()?;
        let mut pending = self.lock_pending();
        let done = pending
            .layers
            .iter()
            .take_while(|l| l.height <= top)
            .count();
        let freed: usize = pending.layers.drain(..done).map(|l| l.bytes()).sum();
        pending.bytes -= freed;
        // Also when a whole checkpoint (`checkpoint_upto`) covered the layers of one a commit
        // began meanwhile: a later step would move the table's height back to its `top`.
        if pending.stepping.as_ref().is_some_and(|s| s.top <= top) {
            pending.stepping = None;
        }
        Ok(None)
    }

    /// Keeps the finalization certificate of the committed block at `height` (a BFT driver
    /// writes it after the block's commit; a crash in between leaves the block final through
    /// the next certificate).
    pub fn put_certificate(&self, height: u64, certificate: &[u8]) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        tx.open_table(CERTIFICATES)?.insert(height, certificate)?;
        tx.commit()?;
        Ok(())
    }

    /// The first certificate at or above `height` and the height of the block it names: the
    /// block at `height` is final through it (it is that block or a descendant).
    pub fn certificate_from(&self, height: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = match tx.open_table(CERTIFICATES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut range = table.range(height..)?;
        match range.next() {
            Some(entry) => {
                let (h, bytes) = entry?;
                Ok(Some((h.value(), bytes.value().to_vec())))
            }
            None => Ok(None),
        }
    }

    /// Height of the last committed block (0 before the first).
    pub fn height(&self) -> Result<u64, StoreError> {
        Ok(self.meta_u64(META_HEIGHT)?.unwrap_or(0))
    }

    fn meta_u64(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let tx = self.db.begin_read()?;
        let meta = tx.open_table(META)?;
        match meta.get(key)? {
            None => Ok(None),
            Some(v) => Ok(Some(u64::from_le_bytes(v.value().try_into().map_err(
                |_| StoreError::Corrupt(format!("{key} entry is not 8 bytes")),
            )?))),
        }
    }

    /// The app hash committed with the last block.
    pub fn app_hash(&self) -> Result<Hash, StoreError> {
        self.required_hash(META_APP_HASH)
    }

    pub fn genesis_hash(&self) -> Result<Option<Hash>, StoreError> {
        self.meta_hash(META_GENESIS_HASH)
    }

    pub fn block(&self, height: u64) -> Result<Option<Block>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(BLOCKS)?;
        let Some(bytes) = table.get(height)? else {
            return Ok(None);
        };
        Ok(Some(Block::from_bytes(bytes.value())?))
    }

    /// The header of the block at `height`, decoded without its transactions.
    pub fn header(&self, height: u64) -> Result<Option<depin_core::Header>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(BLOCKS)?;
        let Some(bytes) = table.get(height)? else {
            return Ok(None);
        };
        let mut reader = depin_core::codec::Reader::new(bytes.value());
        Ok(Some(depin_core::Header::decode(&mut reader)?))
    }

    pub fn receipts(&self, height: u64) -> Result<Option<Vec<Receipt>>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(RECEIPTS)?;
        let Some(bytes) = table.get(height)? else {
            return Ok(None);
        };
        Ok(Some(Vec::<Receipt>::from_bytes(bytes.value())?))
    }

    /// A committed transaction with its receipt and position, if any block holds it.
    pub fn transaction(&self, hash: &Hash) -> Result<Option<CommittedTx>, StoreError> {
        let read = self.db.begin_read()?;
        let Some(loc) = read.open_table(TX_INDEX)?.get(hash.0)? else {
            return Ok(None);
        };
        let (height, index) = loc.value();
        let corrupt = |what: &str| StoreError::Corrupt(format!("{what} of block {height}"));
        // Decode only up to the transaction asked for, not the whole block.
        let blocks = read.open_table(BLOCKS)?;
        let bytes = blocks
            .get(height)?
            .ok_or_else(|| corrupt("index points at the missing body"))?;
        let mut r = Reader::new(bytes.value());
        Header::decode(&mut r)?;
        let count = u32::decode(&mut r)?;
        if index >= count {
            return Err(corrupt("index points past the end"));
        }
        for _ in 0..index {
            Transaction::decode(&mut r)?;
        }
        let tx = Transaction::decode(&mut r)?;
        let receipts = read.open_table(RECEIPTS)?;
        let receipt_bytes = receipts
            .get(height)?
            .ok_or_else(|| corrupt("missing receipts"))?;
        let receipt = Vec::<Receipt>::from_bytes(receipt_bytes.value())?
            .into_iter()
            .nth(index as usize)
            .ok_or_else(|| corrupt("too few receipts"))?;
        Ok(Some(CommittedTx {
            tx,
            receipt,
            height,
            index,
        }))
    }

    /// Accounts as of the last committed block, in the order asked (`None` for unknown ones).
    pub fn accounts(&self, addresses: &[Address]) -> Result<Vec<Option<Account>>, StoreError> {
        let view = self.view()?;
        addresses
            .iter()
            .map(|a| {
                let key = depin_core::state::StateKey::Account(*a).to_bytes();
                match view.get(&key)? {
                    None => Ok(None),
                    Some(v) => Ok(Some(Account::from_bytes(&v)?)),
                }
            })
            .collect()
    }

    pub fn account(&self, address: &Address) -> Result<Option<Account>, StoreError> {
        Ok(self.accounts(std::slice::from_ref(address))?.remove(0))
    }

    /// A state entry as of the last committed block.
    pub fn state_entry(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.view()?.get(key)
    }

    /// A consistent read view of the state as of the last committed block, read through the
    /// same typed views execution uses ([`depin_core::StateRead`]). Its parameters are the
    /// committed ones (governance changes them at epoch boundaries); `params` (the genesis')
    /// only stand in for a store that has none yet.
    pub fn snapshot(&self, params: Params) -> Result<Snapshot, StoreError> {
        let view = self.view()?;
        let committed = view
            .get(&depin_core::state::StateKey::Params.to_bytes())?
            .map(|v| Params::from_bytes(&v))
            .transpose()?;
        Ok(Snapshot {
            view,
            params: committed.unwrap_or(params),
            error: std::cell::RefCell::new(None),
        })
    }

    /// A state entry decoded, as of the last committed block.
    pub fn state_value<T: Decode>(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        self.state_entry(key)?
            .map(|v| T::from_bytes(&v).map_err(StoreError::from))
            .transpose()
    }

    /// Up to `limit` state entries with keys in `from..to`, in key order.
    pub fn state_range(&self, from: &[u8], to: &[u8], limit: usize) -> Result<Entries, StoreError> {
        self.view()?
            .range(Bound::Included(from), Bound::Excluded(to), limit)
    }

    /// Up to `limit` state entries whose key starts with `prefix`, in key order.
    pub fn state_prefix(&self, prefix: &[u8], limit: usize) -> Result<Entries, StoreError> {
        let end = depin_core::state::prefix_end(prefix);
        let to = match &end {
            Some(end) => Bound::Excluded(end.as_slice()),
            None => Bound::Unbounded,
        };
        self.view()?.range(Bound::Included(prefix), to, limit)
    }

    /// The proof-of-coverage reports `device` signed in blocks `from..=to`, with their receipts,
    /// oldest first, at most `limit`.
    pub fn device_reports(
        &self,
        device: &Address,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<CommittedTx>, StoreError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(REPORTS)?;
        let mut out = Vec::new();
        let mut blocks: Option<(u64, Block, Vec<Receipt>)> = None;
        for entry in table
            .range((device.0, from, 0)..=(device.0, to, u32::MAX))?
            .take(limit)
        {
            let (key, _) = entry?;
            let (_, height, index) = key.value();
            if blocks.as_ref().is_none_or(|(h, _, _)| *h != height) {
                let block = self
                    .block(height)?
                    .ok_or_else(|| StoreError::Corrupt(format!("block {height} is missing")))?;
                let receipts = self
                    .receipts(height)?
                    .ok_or_else(|| StoreError::Corrupt(format!("receipts {height} are missing")))?;
                blocks = Some((height, block, receipts));
            }
            let (_, block, receipts) = blocks.as_ref().expect("loaded above");
            let corrupt = || StoreError::Corrupt(format!("report index past block {height}"));
            out.push(CommittedTx {
                tx: block.txs.get(index as usize).ok_or_else(corrupt)?.clone(),
                receipt: receipts.get(index as usize).ok_or_else(corrupt)?.clone(),
                height,
                index,
            });
        }
        Ok(out)
    }

    /// Proof-of-coverage report outcomes in blocks `from..=to`: reason code (or `accepted`) ->
    /// count, in code order.
    pub fn report_outcomes(&self, from: u64, to: u64) -> Result<Vec<(String, u64)>, StoreError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(REPORT_OUTCOMES)?;
        let mut totals: std::collections::BTreeMap<String, u64> = Default::default();
        for entry in table.range((from, "")..(to.saturating_add(1), ""))? {
            let (k, v) = entry?;
            let (_, code) = k.value();
            *totals.entry(code.to_string()).or_default() += v.value();
        }
        Ok(totals.into_iter().collect())
    }

    fn meta_hash(&self, key: &str) -> Result<Option<Hash>, StoreError> {
        let tx = self.db.begin_read()?;
        let meta = tx.open_table(META)?;
        match meta.get(key)? {
            None => Ok(None),
            Some(v) => Ok(Some(Hash(v.value().try_into().map_err(|_| {
                StoreError::Corrupt(format!("{key} entry is not 32 bytes"))
            })?))),
        }
    }

    fn required_hash(&self, key: &'static str) -> Result<Hash, StoreError> {
        self.meta_hash(key)?
            .ok_or_else(|| StoreError::Corrupt(format!("{key} entry is missing")))
    }
}

fn write_state(tx: &redb::WriteTransaction, writes: &WriteSet) -> Result<(), StoreError> {
    let mut table = tx.open_table(STATE)?;
    for (key, value) in writes {
        match value {
            Some(v) => {
                table.insert(key.as_slice(), v.as_slice())?;
            }
            None => {
                table.remove(key.as_slice())?;
            }
        }
    }
    Ok(())
}
