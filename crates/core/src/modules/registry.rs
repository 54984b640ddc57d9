//! The list of registered modules and the types and dispatch generated from it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::codec::{Decode, DecodeError, Encode, Reader};
use crate::crypto::{Address, Signature};
use crate::genesis::GenesisInfo;
use crate::module::{BlockContext, EpochWork, FieldError, Module, Reasons, TxContext};
use crate::rejection::Rejection;
use crate::state::State;

macro_rules! registry {
    ($($name:ident: $variant:ident = $module:ty,)*) => {
        /// Names of the registered modules, in registry order.
        pub const NAMES: &[&str] = &[$(<$module as Module>::NAME),*];

        /// The name of the module with wire id `id`.
        pub fn name_of(id: u8) -> Option<&'static str> {
            match id {
                $(<$module as Module>::ID => Some(<$module as Module>::NAME),)*
                _ => None,
            }
        }

        /// The reason code of an action of module `id` on a network that does not run it.
        pub fn disabled_code(id: u8) -> &'static str {
            match id {
                $(<$module as Module>::ID => concat!(stringify!($name), "_disabled"),)*
                _ => "module_disabled",
            }
        }

        /// An action of one registered module.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum ModuleAction {
            $($variant(<$module as Module>::Action),)*
        }

        impl ModuleAction {
            /// Wire id of the module the action belongs to.
            pub fn module_id(&self) -> u8 {
                match self {
                    $(ModuleAction::$variant(_) => <$module as Module>::ID,)*
                }
            }

            /// Whether the action is a device's report (indexed per device by the store).
            pub fn is_report(&self) -> bool {
                match self {
                    $(ModuleAction::$variant(a) => <$module as Module>::is_report(a),)*
                }
            }

            /// The signatures the action carries besides the signer's.
            pub fn co_signatures(&self, network: &crate::tx::Network, out: &mut Vec<(Address, Vec<u8>, Signature)>) {
                match self {
                    $(ModuleAction::$variant(a) => <$module as Module>::network_co_signatures(network, a, out),)*
                }
            }

            /// How many co-signatures the action carries.
            pub fn co_signature_count(&self) -> u64 {
                match self {
                    $(ModuleAction::$variant(a) => <$module as Module>::co_signature_count(a),)*
                }
            }

            /// Weight beyond bytes and signatures (see [`Module::extra_weight`]).
            pub fn extra_weight(&self) -> u64 {
                match self {
                    $(ModuleAction::$variant(a) => <$module as Module>::extra_weight(a),)*
                }
            }

            /// The module's checks that need no state.
            pub fn check_stateless(&self) -> Result<(), Rejection> {
                match self {
                    $(ModuleAction::$variant(a) => <$module as Module>::check_stateless(a),)*
                }
            }

            /// Reads the JSON form `{"type": ..., ...}`: the module whose actions know the type
            /// decodes it.
            pub fn from_json(value: serde_json::Value) -> Result<ModuleAction, String> {
                let kind = value.get("type").and_then(|t| t.as_str()).unwrap_or("").to_string();
                let mut known = Vec::new();
                $(
                    match serde_json::from_value::<<$module as Module>::Action>(value.clone()) {
                        Ok(a) => return Ok(ModuleAction::$variant(a)),
                        Err(e) if e.to_string().contains("unknown variant") => {
                            known.push(<$module as Module>::NAME);
                        }
                        Err(e) => return Err(e.to_string()),
                    }
                )*
                Err(format!(
                    "unknown action type '{kind}': not a transfer nor an action of the modules {}",
                    known.join(", ")
                ))
            }
        }

        $(
            impl From<<$module as Module>::Action> for ModuleAction {
                fn from(a: <$module as Module>::Action) -> Self {
                    ModuleAction::$variant(a)
                }
            }
            impl From<<$module as Module>::Action> for crate::tx::Action {
                fn from(a: <$module as Module>::Action) -> Self {
                    crate::tx::Action::Module(ModuleAction::$variant(a))
                }
            }
            impl From<<$module as Module>::Rejection> for Rejection {
                fn from(r: <$module as Module>::Rejection) -> Self {
                    Rejection::Module(ModuleRejection::$variant(r))
                }
            }
        )*

        impl Serialize for ModuleAction {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(ModuleAction::$variant(a) => a.serialize(s),)*
                }
            }
        }

        impl Encode for ModuleAction {
            fn encode(&self, out: &mut Vec<u8>) {
                out.push(self.module_id());
                match self {
                    $(ModuleAction::$variant(a) => a.encode(out),)*
                }
            }
        }

        impl Decode for ModuleAction {
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                match u8::decode(r)? {
                    $(<$module as Module>::ID => Ok(ModuleAction::$variant(Decode::decode(r)?)),)*
                    tag => Err(DecodeError::InvalidTag { what: "module", tag }),
                }
            }
        }

        /// A module's refusal of an action.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum ModuleRejection {
            $($variant(<$module as Module>::Rejection),)*
        }

        impl ModuleRejection {
            /// Stable code for scripts and dashboards.
            pub fn code(&self) -> &'static str {
                match self {
                    $(ModuleRejection::$variant(r) => r.code(),)*
                }
            }

            /// Every module's codes, with the module's name.
            pub fn all_codes() -> Vec<(&'static str, &'static [&'static str])> {
                vec![$((<$module as Module>::NAME, <<$module as Module>::Rejection as Reasons>::codes()),)*]
            }
        }

        impl std::fmt::Display for ModuleRejection {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self {
                    $(ModuleRejection::$variant(r) => r.fmt(f),)*
                }
            }
        }

        impl Encode for ModuleRejection {
            fn encode(&self, out: &mut Vec<u8>) {
                match self {
                    $(ModuleRejection::$variant(r) => {
                        out.push(<$module as Module>::ID);
                        r.encode(out);
                    })*
                }
            }
        }

        impl Decode for ModuleRejection {
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                match u8::decode(r)? {
                    $(<$module as Module>::ID => Ok(ModuleRejection::$variant(Decode::decode(r)?)),)*
                    tag => Err(DecodeError::InvalidTag { what: "module rejection", tag }),
                }
            }
        }

        /// The genesis sections of the modules a network runs (a missing section: the module
        /// is off, unless it is a service every network runs).
        #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub struct ModulesGenesis {
            $(
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $name: Option<<$module as Module>::Genesis>,
            )*
        }

        impl ModulesGenesis {
            /// Names of the modules this genesis has a section for, in registry order.
            pub fn present(&self) -> Vec<&'static str> {
                let mut out = Vec::new();
                $(if self.$name.is_some() { out.push(<$module as Module>::NAME); })*
                out
            }

            /// The genesis section of each module, `None` for those the network does not run
            /// (services that run everywhere get their defaults).
            fn effective(&self) -> ModulesGenesis {
                ModulesGenesis {
                    $($name: self.$name.clone().or_else(<$module as Module>::default_genesis),)*
                }
            }
        }

        /// The parameters of the modules a network runs, as the ledger keeps them. Shared
        /// handles: every action reads them, and cloning one costs no allocation.
        #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub struct ModuleParams {
            $(
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $name: Option<Arc<<$module as Module>::Params>>,
            )*
        }

        impl ModuleParams {
            /// Checks every section and converts it; the error names the field.
            pub fn from_genesis(g: &ModulesGenesis, network: &GenesisInfo) -> Result<ModuleParams, FieldError> {
                let g = g.effective();
                Ok(ModuleParams {
                    $($name: match &g.$name {
                        Some(section) => Some(Arc::new(<$module as Module>::params(section, network)?)),
                        None => None,
                    },)*
                })
            }

            /// Names of the modules the network runs, in registry order.
            pub fn enabled(&self) -> Vec<&'static str> {
                let mut out = Vec::new();
                $(if self.$name.is_some() { out.push(<$module as Module>::NAME); })*
                out
            }

            /// Names of the proof modules the network runs, in registry order.
            pub fn proof_modules(&self) -> Vec<&'static str> {
                let mut out = Vec::new();
                $(if self.$name.is_some() && <$module as Module>::PROOF { out.push(<$module as Module>::NAME); })*
                out
            }
        }

        /// Encoded as the list of the modules that run, each with its id: adding a module to the
        /// registry changes nothing in the state of networks that do not run it.
        impl Encode for ModuleParams {
            fn encode(&self, out: &mut Vec<u8>) {
                let count = 0u32 $(+ u32::from(self.$name.is_some()))*;
                count.encode(out);
                $(if let Some(p) = &self.$name {
                    out.push(<$module as Module>::ID);
                    p.encode(out);
                })*
            }
        }

        impl Decode for ModuleParams {
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                let mut params = ModuleParams::default();
                let count = u32::decode(r)?;
                for _ in 0..count {
                    match u8::decode(r)? {
                        $(<$module as Module>::ID => params.$name = Some(Arc::new(Decode::decode(r)?)),)*
                        tag => return Err(DecodeError::InvalidTag { what: "module params", tag }),
                    }
                }
                Ok(params)
            }
        }

        /// Writes every running module's initial state, each in its own write scope.
        pub(crate) fn init(state: &mut State, g: &ModulesGenesis) {
            let g = g.effective();
            $(if let Some(section) = &g.$name {
                state.with_writer(<$module as Module>::ID, |s| <$module as Module>::init(s, section));
            })*
        }

        /// What a module's [`Module::prepare`] made of one action.
        pub(crate) enum Prepared {
            $($variant(<$module as Module>::Prepared),)*
        }

        /// An action's preparation by its module (see [`Module::prepare`]), on the state as the
        /// block found it; `None` if the network does not run the module or it prepares nothing.
        pub(crate) fn prepare(state: &State, action: &ModuleAction) -> Option<Prepared> {
            match action {
                $(ModuleAction::$variant(a) => {
                    state.params().modules.$name.as_ref()?;
                    <$module as Module>::prepare(state, a).map(Prepared::$variant)
                })*
            }
        }

        /// The stateless part of an action's preparation, kept in the action (see
        /// [`Module::warm`]).
        pub fn warm(action: &ModuleAction) {
            match action {
                $(ModuleAction::$variant(a) => <$module as Module>::warm(a),)*
            }
        }

        /// Runs an action in its module's write scope, with its preparation if it has one;
        /// refused if the network does not run the module.
        pub(crate) fn execute(state: &mut State, tx: TxContext<'_>, action: &ModuleAction, prepared: Option<Prepared>) -> Result<(), Rejection> {
            match action {
                $(ModuleAction::$variant(a) => {
                    if state.params().modules.$name.is_none() {
                        return Err(Rejection::ModuleDisabled { module: <$module as Module>::ID });
                    }
                    let prepared = match prepared {
                        Some(Prepared::$variant(p)) => Some(p),
                        _ => None,
                    };
                    state.with_writer(<$module as Module>::ID, |s| <$module as Module>::execute_prepared(s, tx, a, prepared))
                })*
            }
        }

        /// Parses a proposal's genesis section (JSON) for module `name` and checks it with the
        /// module's own [`Module::params`]: the module's id and its parameters, encoded.
        pub fn check_section(name: &str, section: &str, network: &GenesisInfo) -> Result<(u8, Vec<u8>), FieldError> {
            $(if name == <$module as Module>::NAME {
                let g: <$module as Module>::Genesis = serde_json::from_str(section)
                    .map_err(|e| ("section", format!("is not a valid [{name}] section: {e}")))?;
                let p = <$module as Module>::params(&g, network)?;
                return Ok((<$module as Module>::ID, p.to_bytes()));
            })*
            Err(("module", format!("'{name}' is not a module of this build (it knows {})", NAMES.join(", "))))
        }

        /// Sets module `name`'s parameters from their encoding (a passed proposal, checked by
        /// [`check_section`]); a module the network did not run is switched on and its initial
        /// state written from `section`.
        pub(crate) fn apply_params(state: &mut State, name: &str, section: &str, encoded: &[u8]) -> Result<(), String> {
            let params = with_module_params(state.params(), name, encoded)?;
            $(if name == <$module as Module>::NAME {
                let g: Option<<$module as Module>::Genesis> = if state.params().modules.$name.is_some() {
                    None
                } else {
                    Some(serde_json::from_str(section).map_err(|e| e.to_string())?)
                };
                state.set_params(params);
                if let Some(g) = g {
                    state.with_writer(<$module as Module>::ID, |s| <$module as Module>::init(s, &g));
                }
                return Ok(());
            })*
            Err(format!("no module is named {name}"))
        }

        /// `params` with module `name`'s parameters decoded from `encoded` (what
        /// [`check_section`] returned): the typed change a passed proposal makes, without the
        /// state (the economic simulator applies its scheduled changes with it).
        pub fn with_module_params(params: &crate::genesis::Params, name: &str, encoded: &[u8]) -> Result<crate::genesis::Params, String> {
            $(if name == <$module as Module>::NAME {
                let p = <<$module as Module>::Params as Decode>::from_bytes(encoded).map_err(|e| e.to_string())?;
                let mut params = params.clone();
                params.modules.$name = Some(Arc::new(p));
                return Ok(params);
            })*
            Err(format!("no module is named {name}"))
        }

        /// Every running module's hook before a block's transactions (after every running
        /// module's `epoch_start` at an epoch's first block).
        pub(crate) fn begin_block(state: &mut State, ctx: BlockContext) {
            let length = state.params().epoch_length_blocks;
            if ctx.height > 1 && (ctx.height - 1).is_multiple_of(length) {
                let epoch = (ctx.height - 1) / length;
                $(if state.params().modules.$name.is_some() {
                    state.with_writer(<$module as Module>::ID, |s| <$module as Module>::epoch_start(s, epoch, ctx));
                })*
            }
            $(if state.params().modules.$name.is_some() {
                state.with_writer(<$module as Module>::ID, |s| <$module as Module>::begin_block(s, ctx));
            })*
        }

        /// Every running module's hook after a block's transactions.
        pub(crate) fn end_block(state: &mut State, ctx: BlockContext) {
            $(if state.params().modules.$name.is_some() {
                state.with_writer(<$module as Module>::ID, |s| <$module as Module>::end_block(s, ctx));
            })*
        }

        /// The proven work of every running proof module at the close of `epoch`, with each
        /// module's id and name.
        pub(crate) fn epoch_work(state: &mut State, epoch: u64, ctx: BlockContext) -> Vec<(u8, &'static str, EpochWork)> {
            let mut out = Vec::new();
            $(if <$module as Module>::PROOF && state.params().modules.$name.is_some() {
                let work = state.with_writer(<$module as Module>::ID, |s| <$module as Module>::epoch_work(s, epoch, ctx));
                out.push((<$module as Module>::ID, <$module as Module>::NAME, work));
            })*
            out
        }

        /// Tells module `module` that its device was paid shares when `epoch` closed.
        pub(crate) fn device_paid(state: &mut State, module: u8, device: &Address, epoch: u64) {
            match module {
                $(<$module as Module>::ID => state.with_writer(module, |s| <$module as Module>::device_paid(s, device, epoch)),)*
                _ => {}
            }
        }

        /// Tells module `module` that its device left the registry.
        pub(crate) fn device_retired(state: &mut State, module: u8, device: &Address) {
            match module {
                $(<$module as Module>::ID => state.with_writer(module, |s| <$module as Module>::device_retired(s, device)),)*
                _ => {}
            }
        }
    };
}

registry! {
    devices: Devices = crate::services::devices::Devices,
    demand: Demand = crate::services::demand::Demand,
    coverage: Coverage = crate::modules::coverage::Coverage,
    storage: Storage = crate::modules::storage::Storage,
    mapping: Mapping = crate::modules::mapping::Mapping,
    compute: Compute = crate::modules::compute::Compute,
    governance: Governance = crate::services::governance::Governance,
}
