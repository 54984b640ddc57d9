//! The registry: every module and shared service this ledger can run, one line each.
//!
//! Proof modules (`coverage`, and `storage`, `mapping`, `compute` to come) are the kinds of
//! physical work the ledger pays for; each is a folder here with its actions, state, checks
//! (each with a reason code) and scoring. Shared services (`devices`, `demand`) live in
//! [`crate::services`] and are registered the same way, since they too have actions, state and
//! reason codes. A genesis names the ones its network runs; the macro below generates the
//! action, rejection, genesis and parameter types that carry any of them, and the dispatch the
//! ledger calls, so the ledger's own files name no module.
//!
//! Adding a module: its folder, one `impl Module`, and one line in `registry!` below (see
//! `docs/ARCHITECTURE.md`).

pub mod compute;
pub mod coverage;
pub mod mapping;
mod registry;
pub mod storage;

pub use registry::{
    ModuleAction, ModuleParams, ModuleRejection, ModulesGenesis, NAMES, check_section,
    disabled_code, name_of, with_module_params,
};
pub(crate) use registry::{
    Prepared, apply_params, begin_block, device_paid, device_retired, end_block, epoch_work,
    execute, init, prepare, warm,
};

/// Re-exported for modules written before the seam moved to [`crate::module`].
pub use crate::module::BlockContext;
