//! The ledger's state: parameters, chain metadata and accounts, with its Merkle commitment.
//!
//! The state lives in typed maps for fast execution and is mirrored, key by key, into an ordered
//! key-value view (what the store persists and the [`StateTree`] commits to). Every change made
//! while applying a block is remembered twice: as a touched key, so [`State::commit`] writes exactly
//! the changed entries, and as an undo record, so a block that turns out invalid leaves the state as
//! it was.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::amount::Amount;
use crate::codec::{Decode, DecodeError, Encode, Reader};
use crate::crypto::{Address, Hash};
use crate::genesis::{Genesis, GenesisError, Params};
use crate::key_bytes::{KeyBytes, KeyFilter, key_hash};
use crate::merkle::StateTree;

/// An account's balance and next nonce.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub balance: Amount,
    /// The nonce its next transaction must carry.
    pub nonce: u64,
}

/// Where the chain is and how much money exists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub height: u64,
    pub last_block_time_ms: u64,
    /// Always `genesis_supply + minted - burned`, and the sum of all balances.
    pub total_supply: Amount,
    pub genesis_supply: Amount,
    pub minted: Amount,
    pub burned: Amount,
    /// Hash of the genesis: bound into every transaction's signature.
    pub genesis_hash: Hash,
    /// Fee per weight unit the next block charges, in millionths of a fee unit (see
    /// [`crate::services::fees`]); follows how full blocks are.
    pub base_fee: u64,
}

/// Keys of the key-value view. The first byte names the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StateKey {
    Params,
    Meta,
    Account(Address),
}

impl StateKey {
    pub fn to_bytes(self) -> Vec<u8> {
        match self {
            StateKey::Params => vec![0],
            StateKey::Meta => vec![1],
            StateKey::Account(a) => {
                let mut k = Vec::with_capacity(33);
                k.push(2);
                k.extend_from_slice(&a.0);
                k
            }
        }
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<StateKey, DecodeError> {
        match bytes {
            [0] => Ok(StateKey::Params),
            [1] => Ok(StateKey::Meta),
            [2, rest @ ..] => Ok(StateKey::Account(Address(
                rest.try_into()
                    .map_err(|_| DecodeError::Invalid("account key"))?,
            ))),
            _ => Err(DecodeError::Invalid("state key")),
        }
    }
}

/// The entries a block changed: `(key, Some(value))` to write, `(key, None)` to delete.
pub type WriteSet = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// Why a stored state could not be loaded.
#[derive(Debug, Error)]
pub enum RestoreError {
    #[error("stored state entry is corrupt: {0}")]
    Corrupt(#[from] DecodeError),
    #[error("stored state has no {0} entry")]
    Missing(&'static str),
    #[error("stored state's root {computed} differs from the committed app hash {committed}")]
    RootMismatch { computed: Hash, committed: Hash },
}

/// The whole ledger state.
#[derive(Clone)]
pub struct State {
    params: Params,
    meta: Meta,
    accounts: BTreeMap<Address, Account>,
    /// Hash of the last header (the genesis hash at height 0). Not part of the committed state:
    /// a header commits to the state after its block, so the state cannot hold that header's hash.
    last_block_hash: Hash,
    tree: StateTree,
    touched: BTreeSet<StateKey>,
    /// Entries folded into the tree by [`State::stage`] and not yet committed.
    staged: WriteSet,
    /// Values before the current block touched them, for [`State::rollback`].
    undo_accounts: BTreeMap<Address, Option<Account>>,
    undo_meta: Option<Meta>,
    undo_params: Option<Params>,
    /// Module tables (devices, beacons, rewards...), keyed by raw bytes whose first byte names
    /// the table (see [`table`]).
    kv: BTreeMap<KeyBytes, Vec<u8>>,
    /// Module table writes since the last commit, in order, each with the value its key had
    /// before it: [`State::rollback`] undoes them newest first, which leaves each key as the
    /// last commit had it. A log, not a map: a write costs a push here, no second search.
    undo_kv: Vec<(KeyBytes, Option<Vec<u8>>)>,
    /// Where the writes since the last [`State::stage`] start in `undo_kv` (the keys the next
    /// stage folds into the tree).
    unstaged_from: usize,
    /// The keys of `undo_kv`, filtered: most keys a block's actions ask about
    /// ([`State::unchanged_since_commit`]) were not written, and the filter says so.
    written: KeyFilter,
    /// The first key byte the code running now may write: the module being dispatched, or
    /// [`table::LEDGER`] for the ledger itself.
    writer: u8,
}

/// Keys the filter of a block's writes ([`State::unchanged_since_commit`]) is sized for: a block
/// of 1,200 mapping bundles writes about 40,000 (more only make it answer "maybe" more often).
/// 128 KiB, cleared at each commit.
const WRITTEN_FILTER_KEYS: usize = 1 << 16;

/// First bytes of state keys. 0-2 are the typed tables of [`StateKey`]; [`LEDGER`] holds the
/// ledger's own records (epoch summaries, rewards); every other first byte is the
/// [`crate::module::Module::ID`] of the module that owns the entry.
pub mod table {
    pub const PARAMS: u8 = 0;
    pub const META: u8 = 1;
    pub const ACCOUNT: u8 = 2;
    /// The ledger's records: (table, parts), see [`crate::economics::records`].
    pub const LEDGER: u8 = 3;
}

/// Read access to the ledger's key-value view: implemented by the executing [`State`] and by a
/// store snapshot, so execution and the API read module records through the same typed views.
pub trait StateRead {
    /// The entry at `key`, handed to `f` (borrowed where the reader can).
    fn with_entry<R>(&self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> R;

    /// Entries with keys in `from..to`, in key order, at most `limit` of them.
    fn scan(&self, from: &[u8], to: &[u8], limit: usize) -> Vec<(Vec<u8>, Vec<u8>)>;

    /// The network's parameters.
    fn params(&self) -> &Params;

    /// An entry, decoded. The state only holds what the ledger encoded, so a value that does
    /// not decode is a bug, not bad input.
    fn get<T: Decode>(&self, key: &[u8]) -> Option<T> {
        self.with_entry(key, |v| {
            v.map(|v| T::from_bytes(v).expect("state entries are written by the ledger"))
        })
    }

    /// Whether an entry exists.
    fn contains(&self, key: &[u8]) -> bool {
        self.with_entry(key, |v| v.is_some())
    }

    /// An account, if it exists.
    fn read_account(&self, address: &Address) -> Option<Account> {
        self.get(&StateKey::Account(*address).to_bytes())
    }

    /// Where the chain is: height, time, supply, base fee.
    fn read_meta(&self) -> Meta {
        self.get(&StateKey::Meta.to_bytes())
            .expect("every state has its meta entry")
    }

    /// The validator set: the keys that may propose and sign blocks.
    fn validators(&self) -> Vec<Validator> {
        self.get(&validators_key()).unwrap_or_default()
    }

    /// Entries whose key starts with `prefix`, in key order, at most `limit` of them.
    fn scan_prefix(&self, prefix: &[u8], limit: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        match prefix_end(prefix) {
            Some(end) => self.scan(prefix, &end, limit),
            None => self.scan(prefix, &[0xff; 64], limit),
        }
    }
}

/// A key that may propose and sign blocks, with its voting power. The set lives in the state so
/// that every driver reads the same one: one validator for a solo network (the genesis
/// `consensus.validator`), several for a BFT network; governance will change it at epoch
/// boundaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validator {
    pub address: Address,
    /// Consensus weight (stake, once staking exists; 1 each until then).
    pub power: u64,
}

/// The key of the validator set, among the ledger's records.
pub fn validators_key() -> Vec<u8> {
    vec![table::LEDGER, 2]
}

/// The smallest key after every key that starts with `prefix` (`None` if there is none).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

impl StateRead for State {
    fn with_entry<R>(&self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> R {
        f(self.kv.get(&KeyBytes::new(key)).map(Vec::as_slice))
    }

    fn scan(&self, from: &[u8], to: &[u8], limit: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.range(from, to)
            .take(limit)
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect()
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn read_account(&self, address: &Address) -> Option<Account> {
        self.accounts.get(address).copied()
    }

    fn read_meta(&self) -> Meta {
        self.meta.clone()
    }
}

impl State {
    /// The state at height 0.
    pub fn genesis(genesis: &Genesis) -> Result<State, GenesisError> {
        genesis.validate()?;
        let (balances, total) = genesis.balances()?;
        let params = genesis.params();
        let mut state = State {
            meta: Meta {
                height: 0,
                last_block_time_ms: genesis.genesis_time_ms,
                total_supply: total,
                genesis_supply: total,
                minted: Amount::ZERO,
                burned: Amount::ZERO,
                genesis_hash: genesis.hash(),
                base_fee: params.fees.min_base_fee,
            },
            params,
            accounts: BTreeMap::new(),
            last_block_hash: genesis.hash(),
            tree: StateTree::new(),
            touched: BTreeSet::from([StateKey::Params, StateKey::Meta]),
            staged: Vec::new(),
            undo_accounts: BTreeMap::new(),
            undo_meta: None,
            undo_params: None,
            kv: BTreeMap::new(),
            undo_kv: Vec::new(),
            unstaged_from: 0,
            written: KeyFilter::with_capacity(WRITTEN_FILTER_KEYS),
            writer: table::LEDGER,
        };
        for (address, balance) in balances {
            state
                .accounts
                .insert(address, Account { balance, nonce: 0 });
            state.touched.insert(StateKey::Account(address));
        }
        let set: Vec<Validator> = if genesis.consensus.validators.is_empty() {
            vec![Validator {
                address: genesis.consensus.validator,
                power: 1,
            }]
        } else {
            genesis
                .consensus
                .validators
                .iter()
                .map(|&address| Validator { address, power: 1 })
                .collect()
        };
        state.put(validators_key(), &set);
        crate::modules::init(&mut state, &genesis.modules);
        // Born committed: a block refused right after genesis must roll back to this, not to
        // an empty tree. The store persists it from `entries()`.
        state.commit();
        Ok(state)
    }

    /// Rebuilds the state from the entries of its key-value view and checks them against the
    /// committed app hash; `last_block_hash` is the hash of the last stored header.
    pub fn restore(
        entries: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
        committed: Hash,
        last_block_hash: Hash,
    ) -> Result<State, RestoreError> {
        let mut params = None;
        let mut meta = None;
        let mut accounts = BTreeMap::new();
        let mut kv = BTreeMap::new();
        let mut tree = StateTree::new();
        for (key, value) in entries {
            tree.set(&key, Some(&value));
            if key.first().is_some_and(|&t| t > table::ACCOUNT) {
                kv.insert(KeyBytes::from(key), value);
                continue;
            }
            match StateKey::from_bytes(&key)? {
                StateKey::Params => params = Some(Params::from_bytes(&value)?),
                StateKey::Meta => meta = Some(Meta::from_bytes(&value)?),
                StateKey::Account(a) => {
                    accounts.insert(a, Account::from_bytes(&value)?);
                }
            }
        }
        let computed = tree.root();
        if computed != committed {
            return Err(RestoreError::RootMismatch {
                computed,
                committed,
            });
        }
        Ok(State {
            params: params.ok_or(RestoreError::Missing("params"))?,
            meta: meta.ok_or(RestoreError::Missing("meta"))?,
            accounts,
            last_block_hash,
            tree,
            touched: BTreeSet::new(),
            staged: Vec::new(),
            undo_accounts: BTreeMap::new(),
            undo_meta: None,
            undo_params: None,
            kv,
            undo_kv: Vec::new(),
            unstaged_from: 0,
            written: KeyFilter::with_capacity(WRITTEN_FILTER_KEYS),
            writer: table::LEDGER,
        })
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    pub fn height(&self) -> u64 {
        self.meta.height
    }

    /// Hash of the last header: the `parent` of the next block.
    /// The network this state belongs to: what transactions must be signed for.
    pub fn network(&self) -> crate::tx::Network {
        crate::tx::Network {
            chain_id: self.params.chain_id.clone(),
            genesis_hash: self.meta.genesis_hash,
        }
    }

    pub fn last_block_hash(&self) -> Hash {
        self.last_block_hash
    }

    pub(crate) fn set_last_block_hash(&mut self, hash: Hash) {
        self.last_block_hash = hash;
    }

    pub fn account(&self, address: &Address) -> Option<&Account> {
        self.accounts.get(address)
    }

    /// Number of accounts.
    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }

    /// Replaces an account (creating it if new); the old value is kept for rollback.
    pub(crate) fn put_account(&mut self, address: Address, account: Account) {
        let old = self.accounts.insert(address, account);
        self.undo_accounts.entry(address).or_insert(old);
        self.touched.insert(StateKey::Account(address));
    }

    /// Mutable access to the chain metadata; the old value is kept for rollback.
    pub(crate) fn meta_mut(&mut self) -> &mut Meta {
        if self.undo_meta.is_none() {
            self.undo_meta = Some(self.meta.clone());
        }
        self.touched.insert(StateKey::Meta);
        &mut self.meta
    }

    /// Replaces the parameters (a passed governance proposal, at an epoch boundary); the old
    /// value is kept for rollback.
    pub(crate) fn set_params(&mut self, params: Params) {
        if self.undo_params.is_none() {
            self.undo_params = Some(self.params.clone());
        }
        self.touched.insert(StateKey::Params);
        self.params = params;
    }

    /// Records the burn of `amount` already taken from a balance: the supply falls by it.
    pub(crate) fn burn_supply(&mut self, amount: Amount) {
        let meta = self.meta_mut();
        meta.burned = meta.burned.checked_add(amount).expect("burned <= supply");
        meta.total_supply = meta
            .total_supply
            .checked_sub(amount)
            .expect("a burn comes out of the supply");
    }

    /// Mints `amount` into `account`'s balance: the supply grows by it.
    pub(crate) fn mint_to(&mut self, account: &Address, amount: Amount) {
        let mut a = self.account(account).copied().unwrap_or_default();
        a.balance = a.balance.checked_add(amount).expect("supply fits u128");
        self.put_account(*account, a);
        let meta = self.meta_mut();
        meta.minted = meta.minted.checked_add(amount).expect("supply fits u128");
        meta.total_supply = meta.total_supply.checked_add(amount).expect("supply fits");
    }

    /// A module table entry.
    pub fn get_raw(&self, key: &[u8]) -> Option<&[u8]> {
        self.kv.get(&KeyBytes::new(key)).map(Vec::as_slice)
    }

    /// Module table entries with keys in `from..to`, in key order.
    pub fn range<'a>(
        &'a self,
        from: &[u8],
        to: &[u8],
    ) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        self.kv
            .range::<[u8], _>((
                std::ops::Bound::Included(from),
                std::ops::Bound::Excluded(to),
            ))
            .map(|(k, v)| (k.as_bytes(), v.as_slice()))
    }

    /// Module table entries whose key starts with `prefix`, in key order.
    pub fn prefixed<'a>(
        &'a self,
        prefix: &'a [u8],
    ) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        self.kv
            .range::<[u8], _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_bytes(), v.as_slice()))
    }

    /// Writes (`Some`) or deletes (`None`) a module table entry; the old value is kept for
    /// rollback.
    ///
    /// # Panics
    /// If the key is outside the prefix of the module running now: a module writing another
    /// module's entries is a bug, and a silent one would fork the state.
    pub(crate) fn put_raw(&mut self, key: impl AsRef<[u8]>, value: Option<Vec<u8>>) {
        let key = key.as_ref();
        assert!(
            key.first() == Some(&self.writer),
            "a write outside the running module's prefix: key {} while module {} runs",
            hex::encode(key),
            self.writer
        );
        let key = KeyBytes::new(key);
        let old = match value {
            // A key copy is a few words, no allocation: an existing entry keeps its key.
            Some(v) => self.kv.insert(key.clone(), v),
            None => self.kv.remove(&key),
        };
        self.note_kv_change(key, old);
    }

    /// Remembers that `key` changed (its value before was `old`), for rollback and for the
    /// next stage.
    fn note_kv_change(&mut self, key: KeyBytes, old: Option<Vec<u8>>) {
        self.written.insert(key_hash(&key));
        self.undo_kv.push((key, old));
    }

    /// Whether module table entry `key` certainly kept its value since the last commit: a
    /// value read before (by [`crate::module::Module::prepare`]) is still the value. `false`
    /// when a write of this block touched it, and for about one untouched key in a thousand
    /// after 40,000 writes (the answer comes from a filter of the written keys): either way the
    /// caller reads the entry again.
    pub fn unchanged_since_commit(&self, key: &[u8]) -> bool {
        !self.written.may_hold(key_hash(key))
    }

    /// Encodes and writes a module table entry.
    pub(crate) fn put<T: Encode>(&mut self, key: impl AsRef<[u8]>, value: &T) {
        self.put_raw(key, Some(value.to_bytes()));
    }

    /// Runs `f` with the state writable only under `prefix` (a module's id), restoring the
    /// previous scope afterwards. Services a module calls enter their own scope this way.
    pub fn with_writer<R>(&mut self, prefix: u8, f: impl FnOnce(&mut State) -> R) -> R {
        let previous = std::mem::replace(&mut self.writer, prefix);
        let out = f(self);
        self.writer = previous;
        out
    }

    /// Undoes every change since the last commit, staged or not.
    pub fn rollback(&mut self) {
        for (key, old) in std::mem::take(&mut self.undo_kv).into_iter().rev() {
            match old {
                Some(v) => self.kv.insert(key, v),
                None => self.kv.remove(&key),
            };
        }
        self.unstaged_from = 0;
        self.written.clear();
        for (address, old) in std::mem::take(&mut self.undo_accounts) {
            match old {
                Some(a) => self.accounts.insert(address, a),
                None => self.accounts.remove(&address),
            };
        }
        if let Some(meta) = self.undo_meta.take() {
            self.meta = meta;
        }
        if let Some(params) = self.undo_params.take() {
            self.params = params;
        }
        self.touched.clear();
        for (key, _) in std::mem::take(&mut self.staged) {
            let restored = self.current_value(&key);
            self.tree.set(&key, restored.as_deref());
        }
    }

    /// Folds every change since the last commit into the Merkle tree and returns the root the
    /// state would have; [`commit`](Self::commit) keeps it, [`rollback`](Self::rollback) undoes it.
    pub fn stage(&mut self) -> Hash {
        let first = self.staged.len();
        for key in std::mem::take(&mut self.touched) {
            let value = self.value_of(key);
            self.staged.push((key.to_bytes(), value));
        }
        // Each key written since the last stage, once, in key order.
        let mut changed: Vec<&KeyBytes> = self.undo_kv[self.unstaged_from..]
            .iter()
            .map(|(key, _)| key)
            .collect();
        self.unstaged_from = self.undo_kv.len();
        changed.par_sort_unstable();
        changed.dedup();
        // The changed entries are read, and their leaves hashed and placed, on all cores.
        let kv = &self.kv;
        let entries: Vec<(Vec<u8>, Option<Vec<u8>>)> = changed
            .par_iter()
            .with_min_len(256)
            .map(|key| (key.to_vec(), kv.get(*key).cloned()))
            .collect();
        self.staged.extend(entries);
        self.tree.set_many(&self.staged[first..]);
        self.tree.root()
    }

    /// The entries folded into the tree since the last commit (after [`State::stage`]): what a
    /// pending block would write.
    pub fn staged_writes(&self) -> WriteSet {
        self.staged.clone()
    }

    /// How many entries are staged (a pending block's writes start after its parents').
    pub(crate) fn staged_count(&self) -> usize {
        self.staged.len()
    }

    /// Replays a block's write set (from a pending block) onto the state, through the undo log:
    /// [`State::rollback`] undoes it, [`State::commit`] keeps it.
    pub(crate) fn apply_writes(&mut self, writes: &WriteSet) {
        for (key, value) in writes {
            if key.first().is_some_and(|&t| t > table::ACCOUNT) {
                let key = KeyBytes::new(key);
                let old = match value {
                    Some(v) => self.kv.insert(key.clone(), v.clone()),
                    None => self.kv.remove(&key),
                };
                self.note_kv_change(key, old);
                continue;
            }
            match StateKey::from_bytes(key).unwrap_or_else(|_| corrupt("key")) {
                StateKey::Params => {
                    // Governance changes them at epoch boundaries.
                    let params =
                        Params::from_bytes(value.as_deref().unwrap_or_else(|| corrupt("params")))
                            .unwrap_or_else(|_| corrupt("params"));
                    if params != self.params {
                        self.set_params(params);
                    }
                }
                StateKey::Meta => {
                    let meta =
                        Meta::from_bytes(value.as_deref().unwrap_or_else(|| corrupt("meta")))
                            .unwrap_or_else(|_| corrupt("meta"));
                    *self.meta_mut() = meta;
                }
                StateKey::Account(a) => match value {
                    Some(v) => {
                        let account = Account::from_bytes(v).unwrap_or_else(|_| corrupt("account"));
                        self.put_account(a, account);
                    }
                    None => {
                        let old = self.accounts.remove(&a);
                        self.undo_accounts.entry(a).or_insert(old);
                        self.touched.insert(StateKey::Account(a));
                    }
                },
            }
        }
    }

    /// Makes every change since the last commit permanent; returns the new app hash with the
    /// entries to persist.
    pub fn commit(&mut self) -> (Hash, WriteSet) {
        let root = self.stage();
        self.undo_accounts.clear();
        self.undo_meta = None;
        self.undo_params = None;
        self.undo_kv.clear();
        self.unstaged_from = 0;
        self.written.clear();
        (root, std::mem::take(&mut self.staged))
    }

    fn current_value(&self, key: &[u8]) -> Option<Vec<u8>> {
        if key.first().is_some_and(|&t| t > table::ACCOUNT) {
            return self.kv.get(&KeyBytes::new(key)).cloned();
        }
        self.value_of(StateKey::from_bytes(key).expect("the ledger encoded this key"))
    }

    fn value_of(&self, key: StateKey) -> Option<Vec<u8>> {
        match key {
            StateKey::Params => Some(self.params.to_bytes()),
            StateKey::Meta => Some(self.meta.to_bytes()),
            StateKey::Account(a) => self.accounts.get(&a).map(Encode::to_bytes),
        }
    }

    /// The commitment to the whole state as of the last commit.
    pub fn app_hash(&mut self) -> Hash {
        debug_assert!(
            self.touched.is_empty() && self.undo_kv.is_empty() && self.staged.is_empty(),
            "app_hash asked with uncommitted changes"
        );
        self.tree.root()
    }

    /// Sum of all balances; equal to `meta.total_supply` whenever the ledger is consistent.
    pub fn sum_of_balances(&self) -> Amount {
        Amount(self.accounts.values().map(|a| a.balance.0).sum())
    }

    /// Every entry of the key-value view, in key order (for snapshots and tests).
    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = vec![
            (StateKey::Params.to_bytes(), self.params.to_bytes()),
            (StateKey::Meta.to_bytes(), self.meta.to_bytes()),
        ];
        out.extend(
            self.accounts
                .iter()
                .map(|(a, acc)| (StateKey::Account(*a).to_bytes(), acc.to_bytes())),
        );
        out.extend(self.kv.iter().map(|(k, v)| (k.to_vec(), v.clone())));
        out
    }
}

/// A write set the ledger made does not decode: the state is corrupt, and going on would fork.
fn corrupt(what: &str) -> ! {
    panic!("a pending block's {what} entry was written by the ledger and must decode")
}

crate::codec::struct_codec!(Validator {
    address: Address,
    power: u64,
});

impl Encode for Account {
    fn encode(&self, out: &mut Vec<u8>) {
        self.balance.encode(out);
        self.nonce.encode(out);
    }
}

impl Decode for Account {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Account {
            balance: Amount::decode(r)?,
            nonce: u64::decode(r)?,
        })
    }
}

impl Encode for Meta {
    fn encode(&self, out: &mut Vec<u8>) {
        self.height.encode(out);
        self.last_block_time_ms.encode(out);
        self.total_supply.encode(out);
        self.genesis_supply.encode(out);
        self.minted.encode(out);
        self.burned.encode(out);
        self.genesis_hash.encode(out);
        self.base_fee.encode(out);
    }
}

impl Decode for Meta {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Meta {
            height: u64::decode(r)?,
            last_block_time_ms: u64::decode(r)?,
            total_supply: Amount::decode(r)?,
            genesis_supply: Amount::decode(r)?,
            minted: Amount::decode(r)?,
            burned: Amount::decode(r)?,
            genesis_hash: Hash::decode(r)?,
            base_fee: u64::decode(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids of two registered modules (the device registry and coverage).
    const DEVICES: u8 = 8;
    const PROOF_MODULE: u8 = 16;

    fn state() -> State {
        State::genesis(&crate::genesis::test_genesis()).expect("a valid genesis")
    }

    #[test]
    fn a_module_writes_and_deletes_under_its_own_prefix() {
        let mut s = state();
        s.with_writer(PROOF_MODULE, |s| {
            s.put_raw(vec![PROOF_MODULE, 0, 1], Some(vec![7]))
        });
        assert_eq!(s.get_raw(&[PROOF_MODULE, 0, 1]), Some(&[7u8][..]));
        s.with_writer(PROOF_MODULE, |s| s.put_raw(vec![PROOF_MODULE, 0, 1], None));
        assert_eq!(s.get_raw(&[PROOF_MODULE, 0, 1]), None);
        // The ledger writes its own records outside any module's scope.
        s.put_raw(vec![table::LEDGER, 0], Some(vec![1]));
        assert_eq!(s.get_raw(&[table::LEDGER, 0]), Some(&[1u8][..]));
    }

    #[test]
    fn a_service_a_module_calls_writes_in_its_own_scope_and_the_module_s_returns() {
        let mut s = state();
        s.with_writer(PROOF_MODULE, |s| {
            s.with_writer(DEVICES, |s| s.put_raw(vec![DEVICES, 0, 1], Some(vec![1])));
            s.put_raw(vec![PROOF_MODULE, 0, 1], Some(vec![2]));
        });
        assert_eq!(s.get_raw(&[DEVICES, 0, 1]), Some(&[1u8][..]));
        assert_eq!(s.get_raw(&[PROOF_MODULE, 0, 1]), Some(&[2u8][..]));
    }

    #[test]
    #[should_panic(expected = "outside the running module's prefix")]
    fn a_write_outside_the_running_module_s_prefix_panics() {
        let mut s = state();
        s.with_writer(PROOF_MODULE, |s| {
            s.put_raw(vec![DEVICES, 0, 1], Some(vec![7]))
        });
    }

    #[test]
    #[should_panic(expected = "outside the running module's prefix")]
    fn a_delete_outside_the_running_module_s_prefix_panics() {
        let mut s = state();
        s.with_writer(DEVICES, |s| s.put_raw(vec![DEVICES, 0, 1], Some(vec![7])));
        s.with_writer(PROOF_MODULE, |s| s.put_raw(vec![DEVICES, 0, 1], None));
    }

    #[test]
    #[should_panic(expected = "outside the running module's prefix")]
    fn the_ledger_cannot_write_a_module_s_entries() {
        let mut s = state();
        s.put_raw(vec![PROOF_MODULE, 0, 1], Some(vec![7]));
    }

    #[test]
    #[should_panic(expected = "outside the running module's prefix")]
    fn the_scope_ends_with_the_module_s_run() {
        let mut s = state();
        s.with_writer(DEVICES, |s| {
            s.with_writer(PROOF_MODULE, |_| ());
            s.put_raw(vec![PROOF_MODULE, 0, 1], Some(vec![7]));
        });
    }

    #[test]
    #[should_panic(expected = "outside the running module's prefix")]
    fn an_empty_key_is_outside_every_prefix() {
        let mut s = state();
        s.with_writer(PROOF_MODULE, |s| s.put_raw(Vec::new(), Some(vec![7])));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// The module entries read, scan, stage, commit and roll back exactly as one ordered
        /// map would, through writes, deletes and rolled-back blocks.
        #[test]
        fn module_entries_behave_as_one_ordered_map(
            blocks in proptest::collection::vec(
                (
                    proptest::collection::vec(
                        (0u8..24, proptest::option::of(proptest::prelude::any::<u8>())),
                        0..40,
                    ),
                    proptest::prelude::any::<bool>(),
                ),
                1..8,
            ),
        ) {
            let mut s = state();
            let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for (writes, keep) in blocks {
                let mut next = model.clone();
                s.with_writer(PROOF_MODULE, |s| {
                    for &(k, v) in &writes {
                        // Three tables, so a range scan has something to skip.
                        let key = vec![PROOF_MODULE, k % 3, k];
                        let value = v.map(|v| vec![v; usize::from(k % 4)]);
                        s.put_raw(key.clone(), value.clone());
                        match value {
                            Some(v) => next.insert(key, v),
                            None => next.remove(&key),
                        };
                    }
                });
                s.stage();
                if keep {
                    s.commit();
                    model = next;
                } else {
                    s.rollback();
                }
                let scanned: Vec<(Vec<u8>, Vec<u8>)> = s
                    .prefixed(&[PROOF_MODULE])
                    .map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .collect();
                let expected: Vec<(Vec<u8>, Vec<u8>)> = model.clone().into_iter().collect();
                proptest::prop_assert_eq!(&scanned, &expected);
                let from = [PROOF_MODULE, 1];
                let to = [PROOF_MODULE, 2];
                let ranged: Vec<Vec<u8>> = s.range(&from, &to).map(|(k, _)| k.to_vec()).collect();
                let expected_range: Vec<Vec<u8>> = model
                    .range::<[u8], _>((
                        std::ops::Bound::Included(&from[..]),
                        std::ops::Bound::Excluded(&to[..]),
                    ))
                    .map(|(k, _)| k.clone())
                    .collect();
                proptest::prop_assert_eq!(ranged, expected_range);
                for k in 0u8..24 {
                    let key = [PROOF_MODULE, k % 3, k];
                    proptest::prop_assert_eq!(s.get_raw(&key), model.get(&key[..]).map(Vec::as_slice));
                }
                // The root is the root of a state built from these entries afresh.
                let root = s.app_hash();
                let rebuilt = State::restore(s.entries(), root, s.last_block_hash());
                proptest::prop_assert!(rebuilt.is_ok());
            }
        }
    }
}
