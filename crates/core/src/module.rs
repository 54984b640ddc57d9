//! The seam every proof module and shared service plugs into: one trait, implemented once per
//! module, and listed once in the registry ([`crate::modules`]).
//!
//! A module owns its genesis section and parameters, its actions and their encoding, its reason
//! codes, its state under its own key prefix (the first byte of every key it writes is its
//! [`Module::ID`]; the state refuses any other write while the module runs), its block hooks, and
//! at the close of an epoch the proven work of its devices. The ledger's one epoch close
//! ([`crate::economics::close`]) turns that work, and the service users paid each device for,
//! into exact payouts. Modules never import each other; they call the shared services in
//! [`crate::services`] (device registry, denylist, fees in credits, the emergency-key check, staking
//! and governance).

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::{Decode, Encode};
use crate::crypto::{Address, Signature};
use crate::genesis::GenesisInfo;
use crate::rejection::Rejection;
use crate::state::State;

/// A value an action keeps once [`Module::warm`] or [`Module::prepare`] computed it from the
/// action's own content. It is not part of the action: it is never encoded or serialized, and
/// any two compare equal. Whoever reads it checks that it still fits the action (an action's
/// fields are public and may change after the value was kept).
pub struct Kept<T>(OnceLock<Arc<T>>);

impl<T> Kept<T> {
    /// The value kept, if any.
    pub fn get(&self) -> Option<&Arc<T>> {
        self.0.get()
    }

    /// Keeps `value` unless a value is kept already (the first one stays).
    pub fn keep(&self, value: Arc<T>) {
        let _ = self.0.set(value);
    }
}

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Kept(OnceLock::new())
    }
}

impl<T> Clone for Kept<T> {
    fn clone(&self) -> Self {
        Kept(self.0.clone())
    }
}

impl<T> PartialEq for Kept<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> Eq for Kept<T> {}

impl<T> fmt::Debug for Kept<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Kept(..)"
        } else {
            "Kept(-)"
        })
    }
}

/// Where in the chain an action or hook runs.
#[derive(Clone, Copy, Debug)]
pub struct BlockContext {
    /// Height of the block being applied.
    pub height: u64,
    /// The block's time, milliseconds since the Unix epoch.
    pub time_ms: u64,
}

impl BlockContext {
    /// The epoch this block belongs to, given the epoch length (block `L` closes epoch 0).
    pub fn epoch(&self, epoch_length_blocks: u64) -> u64 {
        (self.height - 1) / epoch_length_blocks
    }
}

/// The transaction an action arrived in, as a module sees it.
#[derive(Clone, Copy, Debug)]
pub struct TxContext<'a> {
    /// The account that signed the transaction (its nonce is already used).
    pub signer: &'a Address,
    /// Whether the action's own signatures besides the signer's (see
    /// [`Module::co_signatures`]) all verified in the block's batch.
    pub co_signed: bool,
    pub block: BlockContext,
}

/// One device's proven work in an epoch, in the module's own shares (any unit: only ratios
/// between devices of one module matter).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceWork {
    pub device: Address,
    /// The account paid for it.
    pub owner: Address,
    pub shares: u128,
}

/// What a module reports when an epoch closes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EpochWork {
    /// Devices with proven work, in address order; devices with zero shares may be left out.
    pub devices: Vec<DeviceWork>,
    /// Counters that explain the epoch in the module's terms (`beacons`, `witnesses`, ...),
    /// shown in the epoch summary.
    pub counters: Vec<(String, u64)>,
}

/// A module's reason codes: stable codes, a sentence each, and a canonical encoding.
pub trait Reasons: Clone + fmt::Debug + fmt::Display + PartialEq + Eq + Encode + Decode {
    /// Stable code for scripts and dashboards.
    fn code(&self) -> &'static str;
    /// Every code, in tag order (for documentation and tests).
    fn codes() -> &'static [&'static str];
}

/// A proof module or shared service of the ledger.
///
/// Every function is part of the deterministic state machine: no clock, no randomness, no
/// floating point, no unordered iteration.
pub trait Module {
    /// Stable name: its genesis section, the `module` of its devices and its API paths.
    const NAME: &'static str;
    /// Wire tag of its actions and reason codes, and the first byte of its state keys.
    const ID: u8;
    /// Whether devices of this module earn from the epoch's supplier pools (a proof module);
    /// shared services do not.
    const PROOF: bool;

    /// Its section of the genesis file.
    type Genesis: Clone + fmt::Debug + PartialEq + Serialize + DeserializeOwned;
    /// Its parameters as the ledger keeps them (committed in the app hash).
    type Params: Clone
        + fmt::Debug
        + PartialEq
        + Eq
        + Encode
        + Decode
        + Serialize
        + DeserializeOwned
        + Send
        + Sync;
    /// Its transactions' actions; JSON form `{"type": "...", ...}` with types unique across
    /// modules.
    type Action: Clone
        + fmt::Debug
        + PartialEq
        + Eq
        + Encode
        + Decode
        + Serialize
        + DeserializeOwned;
    /// Why its actions are refused.
    type Rejection: Reasons;
    /// What [`Module::prepare`] makes of an action for [`Module::execute_prepared`] (`()` for a
    /// module that prepares nothing).
    type Prepared: Send;

    /// Checks the genesis section and turns it into parameters; errors name the field.
    fn params(genesis: &Self::Genesis, network: &GenesisInfo) -> Result<Self::Params, FieldError>;

    /// The section a network gets when its genesis has none: `Some` for services every network
    /// runs, `None` (the module is off) for the rest.
    fn default_genesis() -> Option<Self::Genesis> {
        None
    }

    /// Writes the module's initial state (runs with the module's write scope).
    fn init(_state: &mut State, _genesis: &Self::Genesis) {}

    /// Runs one action; the signer's nonce is already used. Check everything before writing
    /// anything, so a refused action changes nothing.
    fn execute(
        state: &mut State,
        tx: TxContext<'_>,
        action: &Self::Action,
    ) -> Result<(), Rejection>;

    /// Work on an action that needs only the state as its block found it, done for every
    /// transaction of a block on all cores before the block executes them in order: pure
    /// computation on the action (cell indexes) and reads of records it will look at. Earlier
    /// transactions of the block run between this and the action's turn, so a prepared read is
    /// a cache: [`Module::execute_prepared`] may use one only while
    /// [`State::unchanged_since_commit`] says nothing wrote its key, and reads the state
    /// otherwise. `None`: nothing to prepare. Must not panic on any action (it runs before the
    /// action's checks).
    fn prepare(_state: &State, _action: &Self::Action) -> Option<Self::Prepared> {
        None
    }

    /// The part of [`Module::prepare`] that needs the action alone (no state), computed when a
    /// node admits the transaction and kept in the action (a [`Kept`] field), so the block's
    /// preparation finds it done. Admission runs on cores the block thread leaves idle while it
    /// executes transactions in order; a block whose actions were never warmed (a block from
    /// another validator, a replay) computes the same thing in [`Module::prepare`]. It must
    /// give the same result whenever it is computed, and must not panic on any action.
    fn warm(_action: &Self::Action) {}

    /// [`Module::execute`] given what [`Module::prepare`] made of the action, if anything: the
    /// same outcome, sooner.
    fn execute_prepared(
        state: &mut State,
        tx: TxContext<'_>,
        action: &Self::Action,
        _prepared: Option<Self::Prepared>,
    ) -> Result<(), Rejection> {
        Self::execute(state, tx, action)
    }

    /// Signatures an action carries besides the transaction signer's (address, message,
    /// signature), checked in one batch per block; [`TxContext::co_signed`] gives the verdict.
    fn co_signatures(
        _chain_id: &str,
        _action: &Self::Action,
        _out: &mut Vec<(Address, Vec<u8>, Signature)>,
    ) {
    }

    /// [`Module::co_signatures`] with the whole network: a module whose co-signed messages bind
    /// the genesis hash (as transaction signatures do) overrides this one instead, and
    /// [`Module::co_signature_count`] with it.
    fn network_co_signatures(
        network: &crate::tx::Network,
        action: &Self::Action,
        out: &mut Vec<(Address, Vec<u8>, Signature)>,
    ) {
        Self::co_signatures(&network.chain_id, action, out);
    }

    /// How many signatures [`Module::co_signatures`] would add for this action (for the
    /// transaction's weight; the default builds them and counts).
    fn co_signature_count(action: &Self::Action) -> u64 {
        let mut out = Vec::new();
        Self::co_signatures("", action, &mut out);
        out.len() as u64
    }

    /// Weight an action costs beyond its bytes and signature checks, for actions whose execution
    /// does heavy work (hashing a proof, scanning records): about one unit per byte hashed or
    /// stored. Part of the fee; see docs/PROTOCOL.md, "Fees".
    fn extra_weight(_action: &Self::Action) -> u64 {
        0
    }

    /// Checks that need no state (field bounds, sizes, well-formed values), run at the mempool's
    /// door so junk is refused before it reaches a block, and again at execution.
    fn check_stateless(_action: &Self::Action) -> Result<(), Rejection> {
        Ok(())
    }

    /// Whether an action is a device's report, indexed per device by the store.
    fn is_report(_action: &Self::Action) -> bool {
        false
    }

    /// Before a block's transactions.
    fn begin_block(_state: &mut State, _ctx: BlockContext) {}

    /// After a block's transactions, before the epoch close if the block closes one.
    fn end_block(_state: &mut State, _ctx: BlockContext) {}

    /// At the first block of `epoch` (from epoch 1), before any module's `begin_block`: where
    /// changes decided during the last epoch take effect, so an epoch is paid under one set of
    /// rules (governance applies passed proposals here).
    fn epoch_start(_state: &mut State, _epoch: u64, _ctx: BlockContext) {}

    /// At the close of `epoch`: the proven work of the module's devices (proof modules only).
    /// The module may write its own explanations of the scores under its prefix.
    fn epoch_work(_state: &mut State, _epoch: u64, _ctx: BlockContext) -> EpochWork {
        EpochWork::default()
    }

    /// A device of this module was marked active (paid shares) when an epoch closed.
    fn device_paid(_state: &mut State, _device: &Address, _epoch: u64) {}

    /// A device of this module leaves the registry: drop what the module keeps for it. Retired by
    /// its owner, the registry entry (with the owner) is still readable here; removed for fraud
    /// (a forfeited bond), it is already gone.
    fn device_retired(_state: &mut State, _device: &Address) {}
}

/// A genesis field that is wrong, and why: `("coverage.rules.x", "must be ...")`.
pub type FieldError = (&'static str, String);

/// A key in `module`'s part of the state: its id, the table, then the parts (big-endian numbers,
/// addresses), so that entries sharing leading parts are adjacent and range scans find them.
pub fn module_key(module: u8, table: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + parts.iter().map(|p| p.len()).sum::<usize>());
    k.push(module);
    k.push(table);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

/// The trailing 32 bytes of a key as an address (the device in index keys).
pub fn address_suffix(key: &[u8]) -> Address {
    let mut a = [0; 32];
    a.copy_from_slice(&key[key.len() - 32..]);
    Address(a)
}

/// Declares a module's action enum: one variant per action struct, its JSON form
/// (`{"type": "<snake_case variant>", ...}`), its canonical encoding (one tag byte, then the
/// struct), and `From` each struct into the enum and into a transaction's
/// [`crate::tx::Action`].
macro_rules! actions {
    (
        $(#[$doc:meta])*
        $enum:ident, $what:literal;
        $($tag:literal => $variant:ident($inner:ty),)*
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
        pub enum $enum {
            $($variant($inner),)*
        }

        impl $crate::codec::Encode for $enum {
            fn encode(&self, out: &mut Vec<u8>) {
                match self {
                    $($enum::$variant(a) => {
                        out.push($tag);
                        a.encode(out);
                    })*
                }
            }
        }

        impl $crate::codec::Decode for $enum {
            fn decode(
                r: &mut $crate::codec::Reader<'_>,
            ) -> Result<Self, $crate::codec::DecodeError> {
                match <u8 as $crate::codec::Decode>::decode(r)? {
                    $($tag => Ok($enum::$variant($crate::codec::Decode::decode(r)?)),)*
                    tag => Err($crate::codec::DecodeError::InvalidTag { what: $what, tag }),
                }
            }
        }

        $(
            impl From<$inner> for $enum {
                fn from(a: $inner) -> Self {
                    $enum::$variant(a)
                }
            }

            impl From<$inner> for $crate::tx::Action {
                fn from(a: $inner) -> Self {
                    $crate::tx::Action::from($enum::$variant(a))
                }
            }
        )*
    };
}
pub(crate) use actions;

/// Declares a module's refusal reasons: an enum with one variant per check, its stable codes,
/// and its canonical encoding (one tag byte, then the fields).
macro_rules! reasons {
    (
        $(#[$doc:meta])*
        $enum:ident, $what:literal;
        $($tag:literal => $name:ident { $($f:ident: $ft:ty),* } = $code:literal,)*
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum $enum {
            $($name { $($f: $ft),* },)*
        }

        impl $enum {
            /// Stable code for scripts and dashboards.
            pub fn code(&self) -> &'static str {
                match self {
                    $($enum::$name { .. } => $code,)*
                }
            }

            /// Every code, in tag order (for documentation and tests).
            pub const CODES: &[&str] = &[$($code),*];
        }

        impl $crate::module::Reasons for $enum {
            fn code(&self) -> &'static str {
                $enum::code(self)
            }

            fn codes() -> &'static [&'static str] {
                Self::CODES
            }
        }

        impl $crate::codec::Encode for $enum {
            #[allow(unused_variables)]
            fn encode(&self, out: &mut Vec<u8>) {
                match self {
                    $($enum::$name { $($f),* } => {
                        out.push($tag);
                        $($crate::codec::Encode::encode($f, out);)*
                    })*
                }
            }
        }

        impl $crate::codec::Decode for $enum {
            fn decode(
                r: &mut $crate::codec::Reader<'_>,
            ) -> Result<Self, $crate::codec::DecodeError> {
                match <u8 as $crate::codec::Decode>::decode(r)? {
                    $($tag => Ok($enum::$name { $($f: <$ft as $crate::codec::Decode>::decode(r)?),* }),)*
                    tag => Err($crate::codec::DecodeError::InvalidTag { what: $what, tag }),
                }
            }
        }
    };
}
pub(crate) use reasons;
