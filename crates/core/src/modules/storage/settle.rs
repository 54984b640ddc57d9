//! Settling deals: at the close of each proving window, every live deal of that deadline is paid
//! for the period (proven), or refunded and charged a fault fee (declared, continued, detected),
//! and terminated past the fault limit or ended after its last period. Every base unit of escrow
//! and collateral goes somewhere named: the provider, the client, or back to the provider's free
//! collateral.

use crate::amount::Amount;
use crate::crypto::Address;
use crate::module::BlockContext;
use crate::services::demand::hold;
use crate::state::{State, StateRead};

use super::params::StorageParams;
use super::records::{
    Deal, DealStatus, EpochProof, OutcomeKind, PeriodOutcome, Provider, StorageView, answered_key,
    deadline_key, deadline_prefix, deal_key, epoch_proof_key, escrow_account, outcome_key,
    provider_key, shard_key,
};
use super::verify::move_tokens;

/// Settles window `deadline` of `period` (its last block is `ctx.height`).
pub(crate) fn close_window(
    state: &mut State,
    p: &StorageParams,
    period: u64,
    deadline: u64,
    ctx: BlockContext,
) {
    let ids: Vec<u64> = state
        .scan_prefix(&deadline_prefix(deadline), usize::MAX)
        .into_iter()
        .map(|(k, _)| u64::from_be_bytes(k[k.len() - 8..].try_into().expect("8 bytes")))
        .collect();
    for id in ids {
        let deal = state.deal(id).expect("indexed deals exist");
        if period < deal.start_period {
            continue;
        }
        settle_period(state, p, id, deal, period, ctx);
    }
}

fn settle_period(
    state: &mut State,
    p: &StorageParams,
    id: u64,
    mut deal: Deal,
    period: u64,
    ctx: BlockContext,
) {
    // A proof left unfinished in this window counts for nothing.
    if state.contains(&answered_key(id)) {
        state.put_raw(answered_key(id), None);
    }
    let kind = if deal.proven_period == Some(period) {
        OutcomeKind::Proven
    } else {
        match deal.status {
            DealStatus::Active if deal.declared_fault == Some(period) => OutcomeKind::DeclaredFault,
            DealStatus::Active => OutcomeKind::DetectedFault,
            DealStatus::Faulty if deal.recovery == Some(period) => OutcomeKind::RecoveryFailed,
            _ => OutcomeKind::ContinuedFault,
        }
    };
    let mut work: EpochProof = state
        .epoch_proof(period, &deal.provider)
        .unwrap_or_default();
    let share = deal.escrow.take(deal.price_per_period);
    let mut outcome = PeriodOutcome {
        kind,
        paid_credits: 0,
        refunded_credits: 0,
        fee: Amount::ZERO,
        height: ctx.height,
    };
    if kind == OutcomeKind::Proven {
        hold::release(state, &deal.provider, share, ctx);
        outcome.paid_credits = share.credits;
        deal.paid_credits += share.credits;
        deal.proven_periods += 1;
        deal.faults = 0;
        deal.status = DealStatus::Active;
        work.deals_proven += 1;
        work.bytes_proven = work.bytes_proven.saturating_add(deal.size);
        work.credits_paid += share.credits;
        if deal.verified {
            work.credits_verified += share.credits;
        }
    } else {
        hold::refund(state, &deal.client, share);
        outcome.refunded_credits = share.credits;
        let detected = matches!(
            kind,
            OutcomeKind::DetectedFault | OutcomeKind::RecoveryFailed
        );
        let fee = p.fault_fee(deal.collateral, detected);
        pay_client_from_collateral(state, &mut deal, fee);
        outcome.fee = fee;
        deal.faults += 1;
        deal.fault_periods += 1;
        deal.status = DealStatus::Faulty;
        if detected {
            work.faults_detected += 1;
        } else {
            work.faults_declared += 1;
        }
        work.fees = work.fees.checked_add(fee).expect("<= supply");
    }
    state.put(epoch_proof_key(period, &deal.provider), &work);
    state.put(outcome_key(id, period), &outcome);
    if deal.faults > p.max_fault_periods {
        // Terminated for failed proofs: the provider's owner's stake is slashed by the
        // governance rule (nothing on a network without governance).
        if let Some(d) =
            crate::services::devices::DevicesView::device_entry(&*state, &deal.provider)
        {
            let evidence =
                crate::crypto::Hash::tagged("depin/storage/terminated/v1", &[&id.to_be_bytes()]);
            crate::services::governance::slash_account(
                state,
                &d.owner,
                crate::services::governance::SlashRule::StorageDeal,
                evidence,
                ctx.height,
            );
        }
        close_deal(state, id, deal, DealStatus::TerminatedFaults);
    } else if period >= deal.end_period() {
        close_deal(state, id, deal, DealStatus::Ended);
    } else {
        state.put(deal_key(id), &deal);
    }
}

/// Pays `fee` of the deal's locked collateral to its client.
fn pay_client_from_collateral(state: &mut State, deal: &mut Deal, fee: Amount) {
    if fee.is_zero() {
        return;
    }
    let mut provider: Provider = state
        .get(&provider_key(&deal.provider))
        .expect("a deal's provider has a record until its deals close");
    deal.collateral = deal.collateral.checked_sub(fee).expect("a share of it");
    deal.paid_to_client = deal.paid_to_client.checked_add(fee).expect("<= supply");
    provider.locked = provider.locked.checked_sub(fee).expect("the deal's part");
    provider.collateral = provider.collateral.checked_sub(fee).expect("<= locked");
    state.put(provider_key(&deal.provider), &provider);
    move_tokens(state, &escrow_account(), &deal.client, fee);
}

/// Takes a live deal out of the proving schedule with its final status: ended, its collateral
/// is freed for the provider; terminated, its collateral pays the client. Either way unspent
/// escrow is refunded to the client.
pub(crate) fn close_deal(state: &mut State, id: u64, mut deal: Deal, status: DealStatus) {
    if status != DealStatus::Ended {
        let rest = deal.collateral;
        pay_client_from_collateral(state, &mut deal, rest);
    }
    let mut provider: Provider = state
        .get(&provider_key(&deal.provider))
        .expect("a deal's provider has a record until its deals close");
    provider.locked = provider
        .locked
        .checked_sub(deal.collateral)
        .expect("the deal's part");
    provider.used_bytes -= deal.size;
    provider.deals -= 1;
    state.put(provider_key(&deal.provider), &provider);
    deal.collateral = Amount::ZERO;
    if deal.verified && status != DealStatus::Ended {
        // Terminated early, the client was not served: the bytes return to its verified-data
        // allowance, so repairing the shard onto another provider is verified again.
        let used = state.allowance_used(&deal.client);
        state.put(
            super::records::allowance_used_key(&deal.client),
            &used.saturating_sub(deal.size),
        );
    }
    let rest = deal.escrow.take(deal.escrow.credits);
    hold::refund(state, &deal.client, rest);
    deal.status = status;
    state.put_raw(deadline_key(deal.deadline, id), None);
    state.put_raw(shard_key(&deal.provider, &deal.root), None);
    state.put(deal_key(id), &deal);
}

/// A retired provider's live deals are terminated (their collateral pays the clients); its free
/// collateral goes back to its owner when the owner retired it, and is burned when it was
/// removed for fraud (the registry then names no owner).
pub(crate) fn retire_provider(state: &mut State, device: &Address) {
    let owner =
        crate::services::devices::DevicesView::device_entry(&*state, device).map(|d| d.owner);
    let Some(provider) = state.get::<Provider>(&provider_key(device)) else {
        return;
    };
    state.put_raw(super::records::endpoint_key(device), None);
    let ids = state.provider_deals(device, 0, usize::MAX);
    for id in ids {
        let deal = state.deal(id).expect("indexed deals exist");
        if deal.status.is_live() {
            close_deal(state, id, deal, DealStatus::TerminatedByProvider);
        }
    }
    let provider: Provider = state.get(&provider_key(device)).unwrap_or(provider);
    let free = provider.free_collateral();
    if !free.is_zero() {
        let mut a = state
            .account(&escrow_account())
            .copied()
            .expect("holds the collateral");
        a.balance = a.balance.checked_sub(free).expect("holds it");
        state.put_account(escrow_account(), a);
        match owner {
            Some(owner) => {
                let mut o = state.account(&owner).copied().unwrap_or_default();
                o.balance = o.balance.checked_add(free).expect("below the total supply");
                state.put_account(owner, o);
            }
            None => state.burn_supply(free),
        }
    }
    state.put_raw(provider_key(device), None);
}
