//! A proposal's change checked by the code that owns what it changes, and a parameter change
//! applied to a network's parameters: the one typed path for the ledger (a proposal when it is
//! made, and when it applies at an epoch boundary) and for tools that hold a network's
//! parameters without its state (the economic simulator's scheduled changes).

use crate::genesis::{EconomicsGenesis, EconomicsParams, GenesisInfo, Params};
use crate::rejection::Rejection;
use crate::state::State;

use super::actions::{MAX_VALIDATORS, ProposalKind};
use super::reject::GovernanceRejection as R;

fn bad(field: &str, why: impl Into<String>) -> Rejection {
    R::BadChange {
        field: field.into(),
        why: why.into(),
    }
    .into()
}

/// What a module's check may know of a network with `p` (with `enabling` among its modules).
fn network_info(p: &Params, enabling: Option<&str>) -> GenesisInfo {
    let mut modules = p.modules.enabled();
    if let Some(name) = enabling
        && let Some(n) = crate::modules::NAMES.iter().find(|n| **n == name)
        && !modules.contains(n)
    {
        modules.push(n);
    }
    GenesisInfo {
        decimals: p.decimals,
        epoch_length_blocks: p.epoch_length_blocks,
        has_economics: p.economics.is_some(),
        treasury_bps: p.economics.as_ref().map(|e| e.treasury_bps),
        modules,
    }
}

/// Checks a change against the module it changes on the ledger's current parameters; the
/// typed parameters, encoded, for parameter changes (empty for the other kinds).
pub fn check_change(state: &State, change: &ProposalKind) -> Result<Vec<u8>, Rejection> {
    check_change_on(state.params(), change)
}

/// [`check_change`] on a network whose parameters are `p`.
pub fn check_change_on(p: &Params, change: &ProposalKind) -> Result<Vec<u8>, Rejection> {
    match change {
        ProposalKind::ModuleParams { module, section } => {
            let info = network_info(p, Some(module));
            let (_, encoded) = crate::modules::check_section(module, section, &info)
                .map_err(|(field, why)| bad(field, why))?;
            Ok(encoded)
        }
        ProposalKind::Economics { section } => {
            let g: EconomicsGenesis = serde_json::from_str(section).map_err(|e| {
                bad(
                    "economics",
                    format!("is not a valid [economics] section: {e}"),
                )
            })?;
            let e = g
                .params(p.decimals)
                .map_err(|(field, why)| bad(field, why))?;
            if let Some(g) = &p.modules.governance
                && u64::from(e.treasury_bps) + u64::from(g.validator_reward_bps) > 10_000
            {
                return Err(bad(
                    "economics.treasury_bps",
                    format!(
                        "plus governance.validator_reward_bps ({}) is more than 10000 basis points of the emission; lower one of them",
                        g.validator_reward_bps
                    ),
                ));
            }
            let proof = p.modules.proof_modules();
            for (name, _) in &e.pool_weights {
                if !proof.contains(&name.as_str()) {
                    return Err(bad(
                        "economics.pool_weights",
                        format!("'{name}' is not a proof module this network runs"),
                    ));
                }
            }
            Ok(crate::codec::Encode::to_bytes(&e))
        }
        ProposalKind::OracleSet { .. } => {
            if p.modules.demand.is_none() {
                return Err(bad(
                    "oracle",
                    "needs a network that runs the demand service",
                ));
            }
            Ok(Vec::new())
        }
        ProposalKind::Denylist { .. } => Ok(Vec::new()),
        ProposalKind::PairDenylist { a, b, .. } => {
            if a == b {
                return Err(bad("b", "must be another device than a"));
            }
            Ok(Vec::new())
        }
        ProposalKind::TreasurySpend { amount, .. } => {
            if p.economics.is_none() {
                return Err(bad("to", "needs a network with an [economics] treasury"));
            }
            if amount.is_zero() {
                return Err(bad("amount", "must be more than 0"));
            }
            Ok(Vec::new())
        }
        ProposalKind::ValidatorSet { validators } => {
            if let Some(g) = &p.modules.governance
                && g.max_validators > 0
            {
                return Err(bad(
                    "validators",
                    format!(
                        "cannot be set by proposal: this network elects its validator set from stake at each epoch boundary (max_validators = {}); declare candidacy and back candidates with stake, or propose a governance change of max_validators or min_validator_bond",
                        g.max_validators
                    ),
                ));
            }
            if validators.is_empty() || validators.len() > MAX_VALIDATORS as usize {
                return Err(bad(
                    "validators",
                    format!("must name 1 to {MAX_VALIDATORS} keys"),
                ));
            }
            let distinct: std::collections::BTreeSet<_> = validators.iter().collect();
            if distinct.len() != validators.len() {
                return Err(bad("validators", "names a key twice; list each once"));
            }
            Ok(Vec::new())
        }
    }
}

/// `p` with a checked parameter change in force (`encoded` is what [`check_change`] returned
/// for it): the typed decode a passed `economics` or `module_params` proposal applies at an
/// epoch boundary. `Ok(None)` for the other kinds, which change the state, not parameters.
/// `Err` is a reason code and a sentence (the proposal is marked `failed` with them).
pub fn params_after(
    p: &Params,
    change: &ProposalKind,
    encoded: &[u8],
) -> Result<Option<Params>, (&'static str, String)> {
    match change {
        ProposalKind::ModuleParams { module, .. } => {
            crate::modules::with_module_params(p, module, encoded)
                .map(Some)
                .map_err(|why| ("bad_params", why))
        }
        ProposalKind::Economics { .. } => {
            let e = <EconomicsParams as crate::codec::Decode>::from_bytes(encoded)
                .map_err(|e| ("bad_params", e.to_string()))?;
            let mut next = p.clone();
            next.economics = Some(e);
            Ok(Some(next))
        }
        _ => Ok(None),
    }
}
