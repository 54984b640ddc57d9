//! Every check of the storage module, and the state change each action makes once it passes.
//!
//! Each handler checks everything before it writes anything, so a refused action leaves the
//! state as it was (apart from the signer's nonce, which the executor has already used up).

use std::sync::Arc;

use crate::amount::Amount;
use crate::crypto::{self, Address};
use crate::module::{BlockContext, Module};
use crate::rejection::Rejection;
use crate::services::demand::hold;
use crate::services::devices::{self, DeviceRejection, DevicesView};
use crate::services::fees::{self, FeeKind};
use crate::state::{State, StateRead};

use super::Storage;
use super::actions::{
    AddCollateral, DeclareFaults, DeclareRecovery, OpenDeal, RegisterProvider, SetEndpoint,
    SubmitStorageProof, TerminateDeal, WithdrawCollateral, endpoint_problem,
};
use super::params::{MAX_DECLARED_DEALS, StorageParams};
use super::proof::{
    OpeningFault, challenge_seed, challenged_chunks, uniform_below, verify_opening,
};
use super::records::{
    Answered, Deal, DealStatus, Provider, ProviderView, StorageMeta, StorageView,
    allowance_used_key, answered_key, client_deal_key, deadline_key, deal_key, endpoint_key,
    escrow_account, meta_key, provider_deal_key, provider_key, shard_key,
};
use super::reject::{OPENING_LENGTH, OPENING_PATH, OPENING_ROOT, StorageRejection as R};
use super::settle;

pub(crate) fn params(state: &State) -> Result<Arc<StorageParams>, Rejection> {
    state
        .params()
        .modules
        .storage
        .clone()
        .ok_or(Rejection::ModuleDisabled {
            module: Storage::ID,
        })
}

/// A registered device of another module is unknown to storage.
fn not_storage(device: &Address) -> Rejection {
    DeviceRejection::WrongModule {
        device: *device,
        module: Storage::NAME.into(),
    }
    .into()
}

/// A storage provider `owner` owns.
fn owned_provider(
    state: &State,
    owner: &Address,
    device: &Address,
) -> Result<ProviderView, Rejection> {
    devices::owned(state, owner, device)?;
    state.provider(device).ok_or_else(|| not_storage(device))
}

/// Moves tokens between accounts (the supply does not change).
pub(crate) fn move_tokens(state: &mut State, from: &Address, to: &Address, amount: Amount) {
    if amount.is_zero() {
        return;
    }
    let mut a = state.account(from).copied().unwrap_or_default();
    a.balance = a
        .balance
        .checked_sub(amount)
        .expect("checked by the caller");
    state.put_account(*from, a);
    let mut b = state.account(to).copied().unwrap_or_default();
    b.balance = b.balance.checked_add(amount).expect("<= supply");
    state.put_account(*to, b);
}

/// The provider's window in every period: uniform over the deadlines, from its address.
pub fn deadline_of(p: &StorageParams, device: &Address) -> u64 {
    let seed = crypto::Hash::tagged("depin/storage/deadline/v1", &[&device.0]);
    uniform_below(&seed, 0, p.deadlines)
}

/// Registers a storage provider to `owner`.
pub fn register(
    state: &mut State,
    owner: &Address,
    a: &RegisterProvider,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    devices::check_new(state, owner, &a.device, &a.device_signature)?;
    if a.capacity_bytes == 0 {
        return Err(R::ZeroCapacity {}.into());
    }
    let fee = fees::plan(state, owner, &[FeeKind::Onboard], p.onboard_fee, ctx)?;
    fees::pay(state, owner, fee, ctx)?;
    devices::register(state, owner, &a.device, Storage::ID, None, ctx);
    let provider = Provider {
        capacity_bytes: a.capacity_bytes,
        used_bytes: 0,
        collateral: Amount::ZERO,
        locked: Amount::ZERO,
        deadline: deadline_of(&p, &a.device),
        deals: 0,
    };
    state.put(provider_key(&a.device), &provider);
    Ok(())
}

/// The provider `owner` moves a nonzero `amount` of collateral for.
fn collateral_move(
    state: &State,
    owner: &Address,
    device: &Address,
    amount: Amount,
) -> Result<ProviderView, Rejection> {
    params(state)?;
    let view = owned_provider(state, owner, device)?;
    if amount.is_zero() {
        return Err(Rejection::ZeroAmount);
    }
    Ok(view)
}

/// Locks more of the owner's tokens as the provider's collateral.
pub fn add_collateral(
    state: &mut State,
    owner: &Address,
    a: &AddCollateral,
) -> Result<(), Rejection> {
    let view = collateral_move(state, owner, &a.device, a.amount)?;
    let balance = state.account(owner).map(|x| x.balance).unwrap_or_default();
    if balance < a.amount {
        return Err(Rejection::InsufficientFunds {
            balance,
            needed: a.amount,
        });
    }
    let mut record = view.record;
    record.collateral = record.collateral.checked_add(a.amount).expect("<= supply");
    move_tokens(state, owner, &escrow_account(), a.amount);
    state.put(provider_key(&a.device), &record);
    Ok(())
}

/// Returns free collateral to the owner.
pub fn withdraw_collateral(
    state: &mut State,
    owner: &Address,
    a: &WithdrawCollateral,
) -> Result<(), Rejection> {
    let view = collateral_move(state, owner, &a.device, a.amount)?;
    let free = view.record.free_collateral();
    if free < a.amount {
        return Err(R::CollateralLocked {
            free,
            asked: a.amount,
        }
        .into());
    }
    let mut record = view.record;
    record.collateral = record.collateral.checked_sub(a.amount).expect("<= free");
    move_tokens(state, &escrow_account(), owner, a.amount);
    state.put(provider_key(&a.device), &record);
    Ok(())
}

/// Opens a deal: the client's credits for every period are held, the provider's collateral for
/// the shard is locked, and the deal is challenged from the next period on.
pub fn open_deal(
    state: &mut State,
    client: &Address,
    a: &OpenDeal,
    co_signed: bool,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    let t = &a.terms;
    if t.client != *client {
        return Err(R::WrongClient {}.into());
    }
    let entry = devices::usable(state, &t.provider)?;
    let view = state
        .provider(&t.provider)
        .ok_or_else(|| not_storage(&t.provider))?;
    if entry.owner == *client {
        return Err(R::SelfDeal {}.into());
    }
    if t.valid_until_height < ctx.height {
        return Err(R::OfferExpired {
            valid_until_height: t.valid_until_height,
        }
        .into());
    }
    if !co_signed
        && !crypto::verify(
            &t.provider,
            &t.message(&state.params().chain_id),
            &a.provider_signature,
        )
    {
        return Err(R::BadProviderSignature {}.into());
    }
    if t.size == 0 {
        return Err(R::EmptyShard {}.into());
    }
    if t.size > p.max_shard_bytes {
        return Err(R::ShardTooLarge {
            size: t.size,
            max: p.max_shard_bytes,
        }
        .into());
    }
    if t.periods < p.min_deal_periods || t.periods > p.max_deal_periods {
        return Err(R::BadDuration {
            periods: t.periods,
            min: p.min_deal_periods,
            max: p.max_deal_periods,
        }
        .into());
    }
    let floor = p.price_floor(t.size);
    if t.price_per_period < floor {
        return Err(R::PriceBelowFloor {
            price: t.price_per_period,
            floor,
        }
        .into());
    }
    if let Some(deal) = state.get::<u64>(&shard_key(&t.provider, &t.root)) {
        return Err(R::DuplicateShard { root: t.root, deal }.into());
    }
    let record = view.record;
    if record.free_bytes() < t.size {
        return Err(R::OverCapacity {
            free_bytes: record.free_bytes(),
            size: t.size,
        }
        .into());
    }
    let collateral = p.deal_collateral(t.size);
    if record.free_collateral() < collateral {
        return Err(R::InsufficientCollateral {
            free: record.free_collateral(),
            needed: collateral,
        }
        .into());
    }
    let total = t
        .price_per_period
        .checked_mul(u128::from(t.periods))
        .ok_or(R::AmountOverflow {})?;
    hold::check_hold(state, client, total)?;

    let escrow = hold::hold(state, client, total);
    let mut record = record;
    record.locked = record
        .locked
        .checked_add(collateral)
        .expect("<= collateral");
    record.used_bytes += t.size;
    record.deals += 1;
    state.put(provider_key(&t.provider), &record);
    let mut meta: StorageMeta = state.storage_meta();
    let id = meta.next_deal;
    meta.next_deal += 1;
    state.put(meta_key(), &meta);
    // A client with a verified-data allowance left for this shard uses it: the deal earns
    // bootstrap shares. Any other deal is paid and counts as demand only.
    let used = state.allowance_used(client);
    let verified = used
        .checked_add(t.size)
        .is_some_and(|after| after <= p.allowance(client));
    if verified {
        state.put(allowance_used_key(client), &(used + t.size));
    }
    let deal = Deal {
        client: *client,
        provider: t.provider,
        root: t.root,
        size: t.size,
        start_period: ctx.epoch(state.params().epoch_length_blocks) + 1,
        periods: t.periods,
        price_per_period: t.price_per_period,
        escrow,
        collateral,
        status: DealStatus::Active,
        deadline: record.deadline,
        faults: 0,
        proven_periods: 0,
        fault_periods: 0,
        paid_credits: 0,
        paid_to_client: Amount::ZERO,
        proven_period: None,
        declared_fault: None,
        recovery: None,
        opened_height: ctx.height,
        verified,
    };
    state.put(deal_key(id), &deal);
    state.put_raw(deadline_key(record.deadline, id), Some(Vec::new()));
    state.put_raw(provider_deal_key(&t.provider, id), Some(Vec::new()));
    state.put_raw(client_deal_key(client, id), Some(Vec::new()));
    state.put(shard_key(&t.provider, &t.root), &id);
    Ok(())
}

/// A provider announces or withdraws its retrieval URL (signed by its device or its owner).
pub fn set_endpoint(state: &mut State, signer: &Address, a: &SetEndpoint) -> Result<(), Rejection> {
    params(state)?;
    if *signer == a.device {
        state
            .provider(&a.device)
            .ok_or_else(|| not_storage(&a.device))?;
    } else {
        owned_provider(state, signer, &a.device)?;
    }
    if let Some(why) = endpoint_problem(&a.url) {
        return Err(R::BadEndpoint { why }.into());
    }
    let key = endpoint_key(&a.device);
    if a.url.is_empty() {
        state.put_raw(key, None);
    } else {
        state.put(key, &a.url);
    }
    Ok(())
}

/// A live deal whose provider device is `signer`.
fn provider_deal(state: &State, signer: &Address, id: u64) -> Result<Deal, Rejection> {
    let deal = state.deal(id).ok_or(R::UnknownDeal { deal: id })?;
    if deal.provider != *signer {
        return Err(R::NotProvider { deal: id }.into());
    }
    if !deal.status.is_live() {
        return Err(R::DealNotLive {
            deal: id,
            status: deal.status.name().into(),
        }
        .into());
    }
    Ok(deal)
}

/// Checks a deal's openings for one period and records it proven.
pub fn submit_proof(
    state: &mut State,
    signer: &Address,
    a: &SubmitStorageProof,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    devices::usable(state, signer)?;
    let mut deal = provider_deal(state, signer, a.deal)?;
    if a.period < deal.start_period {
        return Err(R::NotStarted {
            deal: a.deal,
            start_period: deal.start_period,
        }
        .into());
    }
    let (first, last) = p.window(state.params().epoch_length_blocks, a.period, deal.deadline);
    if ctx.height < first {
        return Err(R::WindowNotOpen {
            period: a.period,
            opens_at: first,
        }
        .into());
    }
    if ctx.height > last {
        return Err(R::WindowClosed {
            period: a.period,
            closed_at: last,
        }
        .into());
    }
    if deal.proven_period == Some(a.period) {
        return Err(R::AlreadyProven {
            deal: a.deal,
            period: a.period,
        }
        .into());
    }
    if deal.status == DealStatus::Faulty && deal.recovery != Some(a.period) {
        return Err(R::RecoveryNotDeclared { deal: a.deal }.into());
    }
    // The challenges are answered in order, in one proof or several (a transaction holds only
    // a few openings of a large shard): this one answers the next `openings.len()`.
    let done = state
        .get::<Answered>(&answered_key(a.deal))
        .filter(|r| r.period == a.period)
        .map_or(0, |r| r.count);
    let remaining = p.challenges_per_window - done;
    if a.openings.is_empty() || a.openings.len() > remaining as usize {
        return Err(R::WrongChallengeCount {
            expected: remaining,
            got: a.openings.len() as u32,
        }
        .into());
    }
    let entropy = state
        .window_entropy(a.period, deal.deadline)
        .expect("an open window has its entropy");
    let seed = challenge_seed(&entropy, signer, a.deal, a.period);
    let chunks = challenged_chunks(&seed, deal.size, p.challenges_per_window);
    let answered = chunks.iter().enumerate().skip(done as usize);
    for ((i, chunk), opening) in answered.zip(&a.openings) {
        if let Err(fault) =
            verify_opening(&deal.root, deal.size, *chunk, &opening.chunk, &opening.path)
        {
            let part = match fault {
                OpeningFault::WrongLength { .. } => OPENING_LENGTH,
                OpeningFault::WrongPathLength { .. } => OPENING_PATH,
                OpeningFault::RootMismatch => OPENING_ROOT,
            };
            return Err(R::BadOpening {
                challenge: i as u32,
                chunk: *chunk,
                part,
            }
            .into());
        }
    }
    let count = done + a.openings.len() as u32;
    if count < p.challenges_per_window {
        state.put(
            answered_key(a.deal),
            &Answered {
                period: a.period,
                count,
            },
        );
        return Ok(());
    }
    if done > 0 {
        state.put_raw(answered_key(a.deal), None);
    }
    deal.proven_period = Some(a.period);
    state.put(deal_key(a.deal), &deal);
    Ok(())
}

/// The period of the provider's next window whose declaration cutoff has not passed at `height`,
/// and not before the deal starts.
fn next_declarable_period(p: &StorageParams, length: u64, deal: &Deal, height: u64) -> u64 {
    let mut period = ((height - 1) / length).max(deal.start_period);
    loop {
        let (first, _) = p.window(length, period, deal.deadline);
        // The entropy block is `first - 1`; declarations must land `fault_cutoff_blocks` before.
        if height + p.fault_cutoff_blocks < first {
            return period;
        }
        period += 1;
    }
}

fn check_declared_list(deals: &[u64]) -> Result<(), Rejection> {
    if deals.is_empty() || deals.len() > MAX_DECLARED_DEALS {
        return Err(R::TooManyDeals {
            max: MAX_DECLARED_DEALS as u32,
        }
        .into());
    }
    Ok(())
}

/// A fault or recovery declaration: each named deal of `signer` has the field `mark` picks set
/// to the period of its next window past the cutoff, after `check`; all the deals or none.
fn declare(
    state: &mut State,
    signer: &Address,
    deals: &[u64],
    ctx: BlockContext,
    check: impl Fn(u64, &Deal, u64) -> Result<(), Rejection>,
    mark: impl Fn(&mut Deal) -> &mut Option<u64>,
) -> Result<(), Rejection> {
    let p = params(state)?;
    check_declared_list(deals)?;
    let length = state.params().epoch_length_blocks;
    let mut updated: Vec<(u64, Deal)> = Vec::with_capacity(deals.len());
    for &id in deals {
        let mut deal = provider_deal(state, signer, id)?;
        let period = next_declarable_period(&p, length, &deal, ctx.height);
        check(id, &deal, period)?;
        let field = mark(&mut deal);
        if *field == Some(period) || updated.iter().any(|(d, _)| *d == id) {
            return Err(R::AlreadyDeclared { deal: id, period }.into());
        }
        *field = Some(period);
        updated.push((id, deal));
    }
    for (id, deal) in updated {
        state.put(deal_key(id), &deal);
    }
    Ok(())
}

/// Declares deals faulty for the provider's next window past the cutoff.
pub fn declare_faults(
    state: &mut State,
    signer: &Address,
    a: &DeclareFaults,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let live_then = |id: u64, deal: &Deal, period: u64| {
        if period > deal.end_period() {
            return Err(R::DealNotLive {
                deal: id,
                status: "ending before its next window".into(),
            }
            .into());
        }
        Ok(())
    };
    declare(state, signer, &a.deals, ctx, live_then, |d| {
        &mut d.declared_fault
    })
}

/// Declares faulty deals to be proven again in the provider's next window past the cutoff.
pub fn declare_recovery(
    state: &mut State,
    signer: &Address,
    a: &DeclareRecovery,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let faulty = |id: u64, deal: &Deal, _period: u64| {
        if deal.status != DealStatus::Faulty {
            return Err(R::NotFaulty { deal: id }.into());
        }
        Ok(())
    };
    declare(state, signer, &a.deals, ctx, faulty, |d| &mut d.recovery)
}

/// The provider's owner ends a live deal: the deal's collateral pays the client, the unspent
/// escrow is refunded.
pub fn terminate(state: &mut State, owner: &Address, a: &TerminateDeal) -> Result<(), Rejection> {
    params(state)?;
    let deal = state.deal(a.deal).ok_or(R::UnknownDeal { deal: a.deal })?;
    let entry = state
        .device_entry(&deal.provider)
        .ok_or(R::NotProvider { deal: a.deal })?;
    if entry.owner != *owner {
        return Err(R::NotProvider { deal: a.deal }.into());
    }
    if !deal.status.is_live() {
        return Err(R::DealNotLive {
            deal: a.deal,
            status: deal.status.name().into(),
        }
        .into());
    }
    settle::close_deal(state, a.deal, deal, DealStatus::TerminatedByProvider);
    Ok(())
}
