//! The ledger's end of an epoch: it asks every proof module for its devices' proven work and the
//! demand service for what users paid each device for, runs the economy's one close
//! ([`crate::economics::close`]) over them, mints the payouts to owners, validators (for the
//! leader turns they produced) and the treasury, and records the summary, each device's reward
//! and each validator's.

use std::collections::BTreeMap;

use crate::amount::Amount;
use crate::crypto::Address;
use crate::economics::close::{ModuleTotals, plan_epoch};
use crate::economics::records::{
    EpochSummary, ModuleSummary, RewardRecord, epoch_key, reward_key, validator_reward_key,
};
use crate::economics::validators::pay_validators;
use crate::module::{BlockContext, EpochWork};
use crate::services::demand::epoch::{PaidService, take_epoch};
use crate::state::State;

/// Closes the epoch that the block `ctx` ends, if it ends one (block `L` closes epoch 0).
pub(crate) fn close_if_due(state: &mut State, ctx: BlockContext) {
    let length = state.params().epoch_length_blocks;
    if ctx.height.is_multiple_of(length) {
        close(state, ctx.height / length - 1, ctx);
    }
}

/// One device's part of the close, before it is recorded.
struct Payee {
    module: usize,
    owner: Address,
    record: RewardRecord,
}

fn close(state: &mut State, epoch: u64, ctx: BlockContext) {
    let economics = state.params().economics.clone();
    let emission = economics
        .as_ref()
        .map_or(Amount::ZERO, |e| e.emission.at(epoch));
    let treasury_bps = economics.as_ref().map_or(10_000, |e| e.treasury_bps);
    let validator_bps = state
        .params()
        .modules
        .governance
        .as_ref()
        .map_or(0, |g| g.validator_reward_bps);
    let work: Vec<(u8, &'static str, EpochWork)> = crate::modules::epoch_work(state, epoch, ctx);
    let paid: Option<PaidService> = take_epoch(state, epoch, ctx.time_ms);

    // Every device with work or paid service, by module (a device's module is the registry's).
    let mut payees: BTreeMap<Address, Payee> = BTreeMap::new();
    let blank = |module: usize, owner: Address, name: &str| Payee {
        module,
        owner,
        record: RewardRecord {
            owner,
            module: name.to_string(),
            shares: 0,
            bootstrap: Amount::ZERO,
            credits: 0,
            credits_value: Amount::ZERO,
            packets: 0,
            bytes: 0,
            demand: Amount::ZERO,
            amount: Amount::ZERO,
        },
    };
    let mut totals = vec![ModuleTotals::default(); work.len()];
    for (i, (_, name, w)) in work.iter().enumerate() {
        totals[i].weight = economics.as_ref().map_or(1, |e| e.weight_of(name));
        for d in &w.devices {
            totals[i].total_shares = totals[i]
                .total_shares
                .checked_add(d.shares)
                .expect("shares of one epoch fit 128 bits");
            payees
                .entry(d.device)
                .or_insert_with(|| blank(i, d.owner, name))
                .record
                .shares = d.shares;
        }
    }
    let mut void_credits = paid.as_ref().map_or(0, |p| p.void_credits);
    let mut credits_on_data = 0u128;
    if let Some(p) = &paid {
        for (device, entry, used, worth) in &p.usage {
            let Some(i) = work.iter().position(|(id, _, _)| *id == entry.module) else {
                // A device of a module the network no longer runs: nobody can be paid for it.
                void_credits += used.credits;
                continue;
            };
            credits_on_data += used.credits;
            totals[i].demand_value = totals[i]
                .demand_value
                .checked_add(*worth)
                .expect("<= supply");
            totals[i].total_demand_weight += worth.0;
            let r = &mut payees
                .entry(*device)
                .or_insert_with(|| blank(i, entry.owner, work[i].1))
                .record;
            r.credits = used.credits;
            r.credits_value = *worth;
            r.packets = used.packets;
            r.bytes = used.bytes;
        }
    }
    let tokens_burned = paid
        .as_ref()
        .map_or(Amount::ZERO, |p| p.tally.tokens_burned);
    let rules = paid.as_ref().map(|p| p.rules);
    // Without a fresh price paid service cannot be valued: no demand pools rather than a guess.
    let plan = plan_epoch(
        epoch,
        emission,
        tokens_burned,
        treasury_bps,
        validator_bps,
        rules.as_ref(),
        &totals,
    )
    .expect("pools of a valid genesis fit 128 bits");

    let mut module_paid = vec![(Amount::ZERO, Amount::ZERO); work.len()];
    let mut holders = vec![0u64; work.len()];
    let mut devices_paid = vec![0u64; work.len()];
    for payee in payees.values_mut() {
        let pools = &plan.modules[payee.module];
        let r = &mut payee.record;
        r.bootstrap = pools.bootstrap_share(r.shares);
        r.demand = pools.demand_share(r.credits_value.0);
        r.amount = r.bootstrap.checked_add(r.demand).expect("bounded");
        let sums = &mut module_paid[payee.module];
        sums.0 = sums.0.checked_add(r.bootstrap).expect("bounded");
        sums.1 = sums.1.checked_add(r.demand).expect("bounded");
        holders[payee.module] += 1;
    }
    let turns: Vec<(Address, u64, u64)> = crate::services::governance::liveness::take_turns(state)
        .into_iter()
        .map(|(v, t)| (v, t.produced, t.skipped))
        .collect();
    let validators = pay_validators(plan.validators, &turns);
    let settled = plan.settle(&module_paid, &holders, &validators);
    if !validators.pool.is_zero() {
        use crate::services::governance::rewards;
        for v in &validators.paid {
            if !v.amount.is_zero() {
                // Its commission and its own share to it, the rest to the stake backing it.
                rewards::pay_validator(state, epoch, &v.validator, v.amount);
            }
            state.put(validator_reward_key(epoch, &v.validator), v);
        }
        // Who shares the next epoch's pay: the stake backing each validator now.
        let set: Vec<Address> = crate::state::StateRead::validators(&*state)
            .iter()
            .map(|v| v.address)
            .collect();
        rewards::expose(state, &set);
    }

    for (device, payee) in &payees {
        let r = &payee.record;
        if !r.amount.is_zero() {
            state.mint_to(&payee.owner, r.amount);
            devices_paid[payee.module] += 1;
        }
        if r.shares > 0 {
            crate::modules::device_paid(state, work[payee.module].0, device, epoch);
        }
        state.put(reward_key(epoch, device), r);
    }
    if !settled.to_treasury.is_zero() {
        let treasury = economics
            .as_ref()
            .map(|e| e.treasury)
            .expect("a non-zero emission has economics");
        state.mint_to(&treasury, settled.to_treasury);
    }

    let modules: Vec<ModuleSummary> = work
        .into_iter()
        .zip(&plan.modules)
        .enumerate()
        .map(|(i, ((_, name, w), pools))| ModuleSummary {
            module: name.to_string(),
            weight: totals[i].weight,
            pool: pools.pool,
            bootstrap_pool: pools.bootstrap,
            demand_pool: pools.demand,
            bootstrap_bps: pools.bootstrap_bps,
            demand_cap: pools.demand_cap,
            rolled_over: pools.rolled_over,
            paid: module_paid[i].0,
            demand_paid: module_paid[i].1,
            unminted: settled.module_unminted[i]
                .0
                .checked_add(settled.module_unminted[i].1)
                .expect("bounded"),
            total_shares: totals[i].total_shares,
            devices_paid: devices_paid[i],
            counters: w.counters,
        })
        .collect();
    let sum = |f: fn(&ModuleSummary) -> Amount| {
        modules
            .iter()
            .fold(Amount::ZERO, |a, m| a.checked_add(f(m)).expect("bounded"))
    };
    let tally = paid.as_ref().map(|p| p.tally).unwrap_or_default();
    let summary = EpochSummary {
        epoch,
        height: ctx.height,
        emission,
        reminted: plan.reminted,
        treasury: plan.treasury,
        bootstrap_pool: sum(|m| m.bootstrap_pool),
        demand_pool: sum(|m| m.demand_pool),
        bootstrap_bps: modules.first().map_or(10_000, |m| m.bootstrap_bps),
        demand_cap: sum(|m| m.demand_cap),
        rolled_over: sum(|m| m.rolled_over),
        price: paid.as_ref().and_then(|p| p.price),
        tokens_burned: tally.tokens_burned,
        credits_bought: tally.credits_bought,
        credits_on_data,
        credits_void: void_credits,
        credits_on_fees: tally.credits_on_fees,
        receipts: tally.receipts,
        paid: sum(|m| m.paid),
        demand_paid: sum(|m| m.demand_paid),
        dust: settled.dust,
        unminted: settled.unminted,
        validator_pool: validators.pool,
        validator_paid: validators.total_paid,
        validator_forfeited: validators.forfeited,
        devices_paid: modules.iter().map(|m| m.devices_paid).sum(),
        total_shares: modules.iter().map(|m| m.total_shares).sum(),
        modules,
    };
    state.put(epoch_key(epoch), &summary);
}
