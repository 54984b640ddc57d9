//! Sharing a validator's pay with the stakers that back it.
//!
//! A validator earns its part of the epoch's validator pool for the turns it produced
//! ([`crate::economics::validators`]). Of that pay it keeps its **commission** (basis points it
//! sets with `set_commission`; a validator that never set one keeps everything, as before this
//! rule existed, so running chains replay unchanged) and the rest is shared pro rata over its
//! **exposure**: the stake that backed it when the previous epoch closed, at most
//! [`MAX_PAID_BACKERS`] backers (the largest, then by address), each counted at the smaller of
//! its amount then and now, and only if it still backs the validator. So:
//!
//! - stake delegated in the last block of an epoch earns nothing for that epoch (it was not in
//!   the exposure), and stake that left before the close earns nothing for it either;
//! - the close's cost is bounded per validator (the exposure holds at most 256 backers), while
//!   taking the next exposure reads each validator's backers once;
//! - what the shares leave (rounding, backers that left or shrank, the validator's own weight)
//!   goes to the validator, so the validator's pay is minted exactly, as before;
//! - a commission cut applies from the epoch it is set in; a raise only from the epoch after
//!   next, so backers have a whole epoch to move their stake before it costs them.
//!
//! A validator newly in the set has no exposure for its first epoch, and keeps that epoch's pay.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::{Decode, DecodeError, Encode, Reader};
use crate::crypto::Address;
use crate::economics::payout::{ProRata, mul_div_floor};
use crate::module::{BlockContext, Module, module_key};
use crate::rejection::Rejection;
use crate::state::{State, StateRead};

use super::Governance;
use super::records::{GovernanceView, backed_prefix};
use super::reject::GovernanceRejection as R;
use super::stake::is_member;

/// Tables under governance's prefix (apart from `records.rs`'s, which count up from 0, and
/// `liveness.rs`'s 64 and 65).
const COMMISSION: u8 = 80;
const EXPOSURE: u8 = 81;
const SPLIT: u8 = 82;

/// Most backers of one validator paid from its pay (its largest, by stake).
pub const MAX_PAID_BACKERS: usize = 256;
/// A commission of the whole pay: what a validator that never set one keeps.
pub const FULL_COMMISSION_BPS: u32 = 10_000;
/// Epochs after the one it is set in before a commission raise applies.
pub const RAISE_NOTICE_EPOCHS: u64 = 2;

/// A commission change waiting for the epoch it applies from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledCommission {
    pub bps: u32,
    /// The first epoch whose pay it applies to.
    pub from_epoch: u64,
}
crate::codec::struct_codec!(ScheduledCommission {
    bps: u32,
    from_epoch: u64,
});

/// A validator's (or candidate's) commission.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commission {
    /// In force until `next` applies.
    pub bps: u32,
    pub next: Option<ScheduledCommission>,
}
crate::codec::struct_codec!(Commission {
    bps: u32,
    next: Option<ScheduledCommission>,
});

impl Commission {
    /// The commission that applies to the pay of `epoch`.
    pub fn at(&self, epoch: u64) -> u32 {
        match self.next {
            Some(n) if n.from_epoch <= epoch => n.bps,
            _ => self.bps,
        }
    }
}

/// One backer and an amount (of stake in an exposure, of tokens in a split).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backer {
    pub staker: Address,
    pub amount: Amount,
}
crate::codec::struct_codec!(Backer {
    staker: Address,
    amount: Amount,
});

fn encode_backers(list: &[Backer], out: &mut Vec<u8>) {
    (list.len() as u32).encode(out);
    for b in list {
        b.encode(out);
    }
}

fn decode_backers(r: &mut Reader<'_>) -> Result<Vec<Backer>, DecodeError> {
    let n = r.length("backers", MAX_PAID_BACKERS)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(Backer::decode(r)?);
    }
    Ok(out)
}

/// The stake that backed a validator when an epoch closed: who shares its next epoch's pay.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exposure {
    /// Largest first, then by address; at most [`MAX_PAID_BACKERS`].
    pub backers: Vec<Backer>,
}

impl Encode for Exposure {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_backers(&self.backers, out);
    }
}

impl Decode for Exposure {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Exposure {
            backers: decode_backers(r)?,
        })
    }
}

/// How one validator's pay of one epoch was shared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// The validator's pay for the epoch (its turns' part of the pool).
    pub pay: Amount,
    pub commission_bps: u32,
    /// `floor(pay * commission_bps / 10000)`.
    pub commission: Amount,
    /// What each other backer got, in exposure order (those paid nothing are left out).
    pub backers: Vec<Backer>,
    /// Commission, the validator's own share, rounding and shares of backers that left:
    /// `pay - sum(backers)`.
    pub to_validator: Amount,
}

impl Encode for Split {
    fn encode(&self, out: &mut Vec<u8>) {
        self.pay.encode(out);
        self.commission_bps.encode(out);
        self.commission.encode(out);
        encode_backers(&self.backers, out);
        self.to_validator.encode(out);
    }
}

impl Decode for Split {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Split {
            pay: Decode::decode(r)?,
            commission_bps: Decode::decode(r)?,
            commission: Decode::decode(r)?,
            backers: decode_backers(r)?,
            to_validator: Decode::decode(r)?,
        })
    }
}

fn commission_key(validator: &Address) -> Vec<u8> {
    module_key(Governance::ID, COMMISSION, &[&validator.0])
}

fn exposure_key(validator: &Address) -> Vec<u8> {
    module_key(Governance::ID, EXPOSURE, &[&validator.0])
}

fn split_key(epoch: u64, validator: &Address) -> Vec<u8> {
    module_key(Governance::ID, SPLIT, &[&epoch.to_be_bytes(), &validator.0])
}

/// `validator`'s commission record (`None`: never set; it keeps its whole pay).
pub fn commission_record<S: StateRead>(state: &S, validator: &Address) -> Option<Commission> {
    state.get(&commission_key(validator))
}

/// The commission that applies to `validator`'s pay of `epoch`.
pub fn commission_at<S: StateRead>(state: &S, validator: &Address, epoch: u64) -> u32 {
    commission_record(state, validator).map_or(FULL_COMMISSION_BPS, |c| c.at(epoch))
}

/// The exposure `validator`'s next pay is shared over.
pub fn exposure_of<S: StateRead>(state: &S, validator: &Address) -> Exposure {
    state.get(&exposure_key(validator)).unwrap_or_default()
}

/// How `validator`'s pay of `epoch` was shared, if it was paid.
pub fn split_of<S: StateRead>(state: &S, epoch: u64, validator: &Address) -> Option<Split> {
    state.get(&split_key(epoch, validator))
}

/// A validator or candidate sets the commission it keeps of its pay (basis points). A cut
/// applies to the pay of the epoch it is set in; a raise from [`RAISE_NOTICE_EPOCHS`] epochs
/// later. A later call replaces a change still waiting.
pub fn set_commission(
    state: &mut State,
    who: &Address,
    bps: u32,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    if bps > FULL_COMMISSION_BPS {
        return Err(R::CommissionTooHigh { bps }.into());
    }
    if !is_member(&*state, who) && state.candidacy_of(who).is_none() {
        return Err(R::NotAValidatorOrCandidate {}.into());
    }
    let epoch = ctx.height / state.params().epoch_length_blocks.max(1);
    let now = commission_at(&*state, who, epoch);
    let record = if bps <= now {
        Commission { bps, next: None }
    } else {
        Commission {
            bps: now,
            next: Some(ScheduledCommission {
                bps,
                from_epoch: epoch + RAISE_NOTICE_EPOCHS,
            }),
        }
    };
    state.with_writer(Governance::ID, |s| s.put(commission_key(who), &record));
    Ok(())
}

/// Shares `validator`'s `pay` of `epoch` between it and its exposure, mints it, and records
/// the split. Every base unit of `pay` is minted: to backers or to the validator.
pub fn pay_validator(state: &mut State, epoch: u64, validator: &Address, pay: Amount) -> Split {
    let commission_bps = commission_at(&*state, validator, epoch);
    let commission = Amount(mul_div_floor(
        pay.0,
        u128::from(commission_bps),
        u128::from(FULL_COMMISSION_BPS),
    ));
    let rest = pay.checked_sub(commission).expect("commission <= pay");
    // Shares are of the whole exposure; each backer is counted at the smaller of its exposed
    // stake and its stake now, if it still backs the validator (what a backer that left or
    // shrank would have had stays with the validator).
    let exposure = exposure_of(&*state, validator);
    let total: u128 = exposure.backers.iter().map(|b| b.amount.0).sum();
    let weights: Vec<(Address, u128)> = exposure
        .backers
        .iter()
        .map(|b| {
            let now = state.stake_of(&b.staker);
            let w = if now.backs(&b.staker) == *validator {
                now.amount.min(b.amount).0
            } else {
                0
            };
            (b.staker, w)
        })
        .collect();
    let mut backers = Vec::new();
    if total > 0 && !rest.is_zero() {
        let payer = ProRata::new(rest, total);
        for (staker, w) in &weights {
            if staker == validator || *w == 0 {
                continue;
            }
            let amount = payer.share(*w);
            if !amount.is_zero() {
                state.mint_to(staker, amount);
                backers.push(Backer {
                    staker: *staker,
                    amount,
                });
            }
        }
    }
    let shared = backers.iter().fold(Amount::ZERO, |a, b| {
        a.checked_add(b.amount).expect("<= pay")
    });
    let to_validator = pay.checked_sub(shared).expect("shares <= rest <= pay");
    if !to_validator.is_zero() {
        state.mint_to(validator, to_validator);
    }
    let split = Split {
        pay,
        commission_bps,
        commission,
        backers,
        to_validator,
    };
    state.with_writer(Governance::ID, |s| {
        s.put(split_key(epoch, validator), &split)
    });
    split
}

/// Takes the exposure of each of `validators` (the set the next epoch is paid over) and drops
/// those of validators no longer in it.
pub fn expose(state: &mut State, validators: &[Address]) {
    let prefix = module_key(Governance::ID, EXPOSURE, &[]);
    let current: std::collections::BTreeSet<Vec<u8>> =
        validators.iter().map(exposure_key).collect();
    let stale: Vec<Vec<u8>> = state
        .scan_prefix(&prefix, usize::MAX)
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| !current.contains(k))
        .collect();
    let exposures: Vec<(Address, Exposure)> = validators
        .iter()
        .map(|v| (*v, take_exposure(&*state, v)))
        .collect();
    state.with_writer(Governance::ID, |s| {
        for k in stale {
            s.put_raw(k, None);
        }
        for (v, e) in &exposures {
            if e.backers.is_empty() {
                s.put_raw(exposure_key(v), None);
            } else {
                s.put(exposure_key(v), e);
            }
        }
    });
}

fn take_exposure<S: StateRead>(state: &S, validator: &Address) -> Exposure {
    let prefix = backed_prefix(validator);
    let mut backers: Vec<Backer> = state
        .scan_prefix(&prefix, usize::MAX)
        .into_iter()
        .filter_map(|(k, _)| {
            let staker = Address(k.get(prefix.len()..)?.try_into().ok()?);
            let stake = state.stake_of(&staker);
            (stake.backs(&staker) == *validator && !stake.amount.is_zero()).then_some(Backer {
                staker,
                amount: stake.amount,
            })
        })
        .collect();
    backers.sort_by(|a, b| b.amount.cmp(&a.amount).then(a.staker.cmp(&b.staker)));
    backers.truncate(MAX_PAID_BACKERS);
    Exposure { backers }
}
