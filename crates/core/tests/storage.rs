//! The storage module end to end on a test chain: every reason code, the honest path (proofs
//! paid per period, shares per proven byte, the deal ending), declared and detected faults,
//! recovery, termination, retrieval paid as demand, the soundness of challenges, and the exact
//! conservation of escrow, collateral, payments and fees over random runs.

mod common;

use common::storage::*;
use common::*;
use depin_core::amount::Amount;
use depin_core::economics::EconomyView;
use depin_core::modules::storage::actions::{
    AddCollateral, DealTerms, DeclareFaults, DeclareRecovery, OpenDeal, Opening, SetEndpoint,
    SubmitStorageProof, TerminateDeal, WithdrawCollateral,
};
use depin_core::modules::storage::params::{GIB, VerifiedClient, preset};
use depin_core::modules::storage::proof::{challenge_seed, challenged_chunks};
use depin_core::modules::storage::records::{DealStatus, OutcomeKind, escrow_account};
use depin_core::modules::storage::{StorageRejection, StorageView};
use depin_core::services::demand::DemandView;
use depin_core::services::demand::actions::UsageReceipt;
use depin_core::services::devices::RetireDevice;
use depin_core::services::governance::GovernanceGenesis;
use depin_core::services::governance::actions::{Choice, LockStake, ProposalKind, Propose, Vote};
use depin_core::{Action, Genesis, Hash, Keypair, Receipt, Transaction};
use proptest::prelude::*;

/// A shard of 40 chunks: big enough for paths, small enough for fast tests.
const SHARD: usize = 40_000;

/// The storage test network; the test client holds a verified-data allowance of 1 GiB.
fn storage_genesis(edit: impl FnOnce(&mut Genesis)) -> Genesis {
    demand_genesis(1, |g| {
        with_storage(g);
        g.modules.storage.as_mut().unwrap().verified_clients = vec![VerifiedClient {
            client: client().address(),
            allowance_bytes: GIB,
        }];
        edit(g)
    })
}

fn client() -> Keypair {
    fleet()
}

/// A network with a price, credits for the client and the owner, and `providers` registered
/// providers with 100 tokens of collateral each.
fn network(providers: u8) -> Net {
    let mut net = Net::new(storage_genesis(|_| {}));
    let a = price_action(&net, HALF_DOLLAR);
    assert_eq!(net.send(&oracle(0), a), Receipt::Success);
    assert_eq!(
        net.send(&client(), buy(1_000 * TOKEN, &client())),
        Receipt::Success
    );
    for i in 0..providers {
        register(&mut net, &provider_key(i), GIB);
        let r = net.send(
            &owner(),
            Action::from(AddCollateral {
                device: provider_key(i).address(),
                amount: Amount(100 * TOKEN),
            }),
        );
        assert_eq!(r, Receipt::Success);
    }
    net
}

fn register(net: &mut Net, device: &Keypair, capacity: u64) {
    let r = net.send(&owner(), register_action(device, capacity));
    assert_eq!(r, Receipt::Success);
}

/// Opens a deal and returns its id.
fn open(net: &mut Net, provider: &Keypair, data: &[u8], periods: u32) -> u64 {
    let id = net.state.storage_meta().next_deal;
    let t = terms(net, &client(), provider, data, periods);
    assert_eq!(
        net.send(&client(), open_action(t, provider)),
        Receipt::Success
    );
    id
}

/// Produces blocks until `height` is the current height.
fn run_to(net: &mut Net, height: u64) {
    while net.state.height() < height {
        net.block(vec![]);
    }
}

/// Runs into the deal's window of `period` and proves it there.
fn prove(net: &mut Net, provider: &Keypair, deal: u64, period: u64, data: &[u8]) -> Receipt {
    let (first, _) = window(net, deal, period);
    run_to(net, first);
    let a = proof(net, provider, deal, period, data);
    net.send(provider, a)
}

/// Runs past the deal's window of `period` (it is settled).
fn pass_window(net: &mut Net, deal: u64, period: u64) {
    let (_, last) = window(net, deal, period);
    run_to(net, last);
}

/// A transaction of `key` with its nonce `extra` past the current one (several in one block).
fn tx_at(net: &Net, key: &Keypair, extra: u64, action: Action) -> Transaction {
    net.tx_at(key, net.nonce(key) + extra, action)
}

/// Transactions the owner already has in `txs` (owners never sign declarations).
fn extra_owner(txs: &[Transaction]) -> u64 {
    txs.iter().filter(|t| t.signer == owner().address()).count() as u64
}

fn storage_code(r: &Receipt) -> &'static str {
    code(r)
}

fn credits(net: &Net, who: &Keypair) -> u128 {
    net.state.credits(&who.address()).map_or(0, |c| c.own)
}

fn balance(net: &Net, who: &Address) -> u128 {
    net.state.account(who).map_or(0, |a| a.balance.0)
}

use depin_core::Address;

#[test]
fn honest_provider_is_paid_per_period_earns_shares_and_gets_its_collateral_back() {
    let mut net = network(1);
    let p = provider_key(0);
    let data = shard(1, SHARD);
    let before = credits(&net, &client());
    let deal = open(&mut net, &p, &data, 2);
    let d = net.state.deal(deal).unwrap();
    let price = d.price_per_period;
    assert_eq!(
        credits(&net, &client()),
        before - 2 * price - net.last_fee,
        "both periods held, and the transaction's fee paid"
    );
    let locked = net.state.provider(&p.address()).unwrap().record.locked;
    assert_eq!(locked, d.collateral);
    assert!(!locked.is_zero());
    let owner_before = balance(&net, &owner().address());

    for period in [d.start_period, d.start_period + 1] {
        assert_eq!(prove(&mut net, &p, deal, period, &data), Receipt::Success);
        pass_window(&mut net, deal, period);
        let outcome = net.state.outcomes(deal, period, 1)[0].1;
        assert_eq!(outcome.kind, OutcomeKind::Proven);
        assert_eq!(outcome.paid_credits, price);
        assert_eq!(
            net.state
                .epoch_proof(period, &p.address())
                .unwrap()
                .bytes_proven,
            SHARD as u64
        );
        // The epoch closes: shares are the proven bytes, and the owner is paid.
        run_to(&mut net, (period + 1) * EPOCH_BLOCKS);
        let reward = net.state.reward(period, &p.address()).unwrap();
        assert_eq!(
            reward.shares, price,
            "shares are the credits paid for proven periods"
        );
        assert_eq!(
            reward.credits, price,
            "the period's price counts as the provider's paid service"
        );
        assert!(!reward.amount.is_zero());
        let s = net.state.epoch_summary(period).unwrap();
        assert_eq!(counter(&s, "storage", "bytes_proven"), SHARD as u64);
        epoch_is_conserved(&s);
    }
    assert!(balance(&net, &owner().address()) > owner_before);
    let d = net.state.deal(deal).unwrap();
    assert_eq!(d.status, DealStatus::Ended);
    assert_eq!((d.escrow.credits, d.paid_credits), (0, 2 * price));
    let record = net.state.provider(&p.address()).unwrap().record;
    assert_eq!(record.locked, Amount::ZERO);
    assert_eq!(
        record.collateral,
        Amount(100 * TOKEN),
        "nothing was charged"
    );
    assert_eq!((record.used_bytes, record.deals), (0, 0));
    // Its collateral can be withdrawn again.
    let w = Action::from(WithdrawCollateral {
        device: p.address(),
        amount: Amount(100 * TOKEN),
    });
    assert_eq!(net.send(&owner(), w), Receipt::Success);
    net.replays_identically();
}

#[test]
fn a_declared_fault_costs_less_than_a_detected_one_and_a_declared_recovery_restores_pay() {
    let mut net = network(1);
    let p = provider_key(0);
    let (a, b) = (shard(1, SHARD), shard(2, SHARD));
    let deal_a = open(&mut net, &p, &a, 4);
    let deal_b = open(&mut net, &p, &b, 4);
    let start = net.state.deal(deal_a).unwrap().start_period;
    let collateral = net.state.deal(deal_a).unwrap().collateral;
    let client_tokens = balance(&net, &client().address());

    // Deal a is declared faulty before the cutoff; deal b simply goes unproven.
    let r = net.send(
        &p,
        Action::from(DeclareFaults {
            deals: vec![deal_a],
        }),
    );
    assert_eq!(r, Receipt::Success);
    pass_window(&mut net, deal_a, start);
    let oa = net.state.outcomes(deal_a, start, 1)[0].1;
    let ob = net.state.outcomes(deal_b, start, 1)[0].1;
    assert_eq!(oa.kind, OutcomeKind::DeclaredFault);
    assert_eq!(ob.kind, OutcomeKind::DetectedFault);
    assert_eq!(oa.fee, Amount(collateral.0 / 100));
    assert_eq!(ob.fee, Amount(collateral.0 * 5 / 100));
    assert!(oa.fee < ob.fee, "declaring pays less than being caught");
    assert_eq!(
        balance(&net, &client().address()),
        client_tokens + oa.fee.0 + ob.fee.0,
        "fault fees pay the client"
    );
    assert_eq!(
        oa.refunded_credits,
        net.state.deal(deal_a).unwrap().price_per_period
    );
    assert_eq!(net.state.deal(deal_b).unwrap().status, DealStatus::Faulty);
    // Only the shard that missed is faulty; the provider keeps its other deals.
    assert_eq!(net.state.provider(&p.address()).unwrap().record.deals, 2);

    // A faulty shard cannot just prove: it declares the recovery first, then proves.
    let (first, _) = window(&net, deal_b, start + 1);
    run_to(&mut net, first);
    let early = proof(&net, &p, deal_b, start + 1, &b);
    let r = net.send(&p, early);
    assert_eq!(storage_code(&r), "recovery_not_declared");
    pass_window(&mut net, deal_b, start + 1);
    assert_eq!(
        net.state.outcomes(deal_b, start + 1, 1)[0].1.kind,
        OutcomeKind::ContinuedFault
    );
    let r = net.send(
        &p,
        Action::from(DeclareRecovery {
            deals: vec![deal_b],
        }),
    );
    assert_eq!(r, Receipt::Success);
    assert_eq!(prove(&mut net, &p, deal_b, start + 2, &b), Receipt::Success);
    pass_window(&mut net, deal_b, start + 2);
    let d = net.state.deal(deal_b).unwrap();
    assert_eq!(d.status, DealStatus::Active);
    assert_eq!((d.faults, d.fault_periods, d.proven_periods), (0, 2, 1));
    assert_eq!(
        net.state.outcomes(deal_b, start + 2, 1)[0].1.kind,
        OutcomeKind::Proven
    );
    // A declared recovery that is not proven costs the detected fee (deal a, faulty since the
    // first period, declares for its last).
    let r = net.send(
        &p,
        Action::from(DeclareRecovery {
            deals: vec![deal_a],
        }),
    );
    assert_eq!(r, Receipt::Success);
    assert_eq!(net.state.deal(deal_a).unwrap().recovery, Some(start + 3));
    pass_window(&mut net, deal_a, start + 3);
    let last = net.state.outcomes(deal_a, start + 3, 1)[0].1;
    assert_eq!(last.kind, OutcomeKind::RecoveryFailed);
    assert_eq!(
        net.state.deal(deal_a).unwrap().status,
        DealStatus::TerminatedFaults,
        "a fourth faulty period in a row passes the limit of three"
    );
    net.replays_identically();
}

#[test]
fn a_shard_faulty_past_the_limit_is_terminated_and_its_collateral_pays_the_client() {
    let mut net = network(2);
    let (p, q) = (provider_key(0), provider_key(1));
    let data = shard(3, SHARD);
    let deal = open(&mut net, &p, &data, 10);
    let d = net.state.deal(deal).unwrap();
    let held = d.escrow.credits;
    let collateral = d.collateral;
    let client_credits = credits(&net, &client());
    let client_tokens = balance(&net, &client().address());
    assert!(d.verified);
    let size = d.size;
    assert_eq!(net.state.allowance_used(&client().address()), size);
    // Four missed periods: the limit is three in a row.
    for period in d.start_period..d.start_period + 4 {
        pass_window(&mut net, deal, period);
    }
    let d = net.state.deal(deal).unwrap();
    assert_eq!(d.status, DealStatus::TerminatedFaults);
    assert_eq!(d.paid_to_client, collateral, "all of the deal's collateral");
    assert_eq!(
        balance(&net, &client().address()),
        client_tokens + collateral.0
    );
    assert_eq!(
        credits(&net, &client()),
        client_credits + held,
        "every credit back"
    );
    assert_eq!(d.escrow.credits, 0);
    let record = net.state.provider(&p.address()).unwrap().record;
    assert_eq!(record.collateral, Amount(100 * TOKEN - collateral.0));
    assert_eq!(
        (record.locked, record.deals, record.used_bytes),
        (Amount::ZERO, 0, 0)
    );
    // A terminated deal takes no more proofs or declarations.
    let r = net.send(&p, Action::from(DeclareFaults { deals: vec![deal] }));
    assert_eq!(storage_code(&r), "deal_not_live");
    // The client was not served: the bytes return to its verified-data allowance.
    assert_eq!(net.state.allowance_used(&client().address()), 0);
    // Repair: the same shard goes to another provider, verified again.
    let repaired = open(&mut net, &q, &data, 2);
    assert!(net.state.deal(repaired).unwrap().verified);
    assert_eq!(net.state.allowance_used(&client().address()), size);
    let start = net.state.deal(repaired).unwrap().start_period;
    assert_eq!(
        prove(&mut net, &q, repaired, start, &data),
        Receipt::Success
    );
    net.replays_identically();
}

#[test]
fn a_provider_that_quits_a_deal_pays_the_client_its_collateral() {
    let mut net = network(1);
    let p = provider_key(0);
    let data = shard(4, SHARD);
    let deal = open(&mut net, &p, &data, 5);
    let d = net.state.deal(deal).unwrap();
    let tokens = balance(&net, &client().address());
    let r = net.send(&client(), Action::from(TerminateDeal { deal }));
    assert_eq!(
        storage_code(&r),
        "not_provider",
        "only the provider's owner quits"
    );
    assert_eq!(
        net.send(&owner(), Action::from(TerminateDeal { deal })),
        Receipt::Success
    );
    let after = net.state.deal(deal).unwrap();
    assert_eq!(after.status, DealStatus::TerminatedByProvider);
    assert_eq!(balance(&net, &client().address()), tokens + d.collateral.0);
    let r = net.send(&owner(), Action::from(TerminateDeal { deal }));
    assert_eq!(storage_code(&r), "deal_not_live");
}

#[test]
fn retrieval_is_paid_with_a_receipt_both_sign_and_counts_as_demand() {
    let mut net = network(1);
    let p = provider_key(0);
    let receipt = UsageReceipt::signed(
        CHAIN_ID,
        &client(),
        &p,
        net.time_ms - 5_000,
        net.time_ms - 1_000,
        1,
        1_000_000,
    );
    let before = credits(&net, &client());
    assert_eq!(net.send(&client(), Action::from(receipt)), Receipt::Success);
    let epoch = (net.state.height() - 1) / EPOCH_BLOCKS;
    let used = net.state.usage(epoch, &p.address()).unwrap();
    assert_eq!(used.bytes, 1_000_000);
    assert_eq!(
        before - credits(&net, &client()),
        used.credits + net.last_fee
    );
    run_to(&mut net, (epoch + 1) * EPOCH_BLOCKS);
    let reward = net.state.reward(epoch, &p.address()).unwrap();
    assert_eq!(reward.module, "storage");
    assert!(
        !reward.demand.is_zero(),
        "retrieval earns from the demand pool"
    );
}

#[test]
fn a_retired_provider_s_deals_are_terminated_in_the_clients_favour() {
    let mut net = network(1);
    let p = provider_key(0);
    let deal = open(&mut net, &p, &shard(5, SHARD), 5);
    let d = net.state.deal(deal).unwrap();
    let supply = net.state.meta().total_supply;
    let escrow_before = balance(&net, &escrow_account());
    let owner_before = balance(&net, &owner().address());
    let bond = depin_core::StateRead::get::<depin_core::Amount>(
        &net.state,
        &depin_core::services::devices::bond_key(&p.address()),
    )
    .map_or(0, |b| b.0);
    let r = net.send(
        &owner(),
        Action::from(RetireDevice {
            device: p.address(),
        }),
    );
    assert_eq!(r, Receipt::Success);
    assert_eq!(
        net.state.deal(deal).unwrap().status,
        DealStatus::TerminatedByProvider
    );
    assert_eq!(balance(&net, &escrow_account()), 0);
    let free = escrow_before - d.collateral.0;
    assert!(free > 0, "the provider had free collateral");
    // Only the retire transaction's fee (if paid in tokens) left the supply; the free
    // collateral and the device bond went back to the owner who retired it.
    let fee_tokens = supply.0 - net.state.meta().total_supply.0;
    assert_eq!(
        balance(&net, &owner().address()),
        owner_before - fee_tokens + free + bond,
        "the free collateral and the bond of a provider its owner retired go back to the owner"
    );

    // A provider removed for fraud (the emergency key forfeits its bond) has no owner to
    // return anything to: its free collateral is burned with the bond.
    let q = provider_key(1);
    register(&mut net, &q, GIB);
    let r = net.send(
        &owner(),
        Action::from(AddCollateral {
            device: q.address(),
            amount: Amount(100 * TOKEN),
        }),
    );
    assert_eq!(r, Receipt::Success);
    let burned = net.state.meta().burned.0;
    let owner_before = balance(&net, &owner().address());
    let governor_before = balance(&net, &governor().address());
    let forfeit = Action::from(depin_core::services::devices::ForfeitBond {
        device: q.address(),
    });
    assert_eq!(net.send(&governor(), forfeit), Receipt::Success);
    assert_eq!(
        balance(&net, &owner().address()),
        owner_before,
        "nothing goes back to the owner"
    );
    // The emergency key's fee (in tokens: it holds no credits) is burned beside them.
    let fee_tokens = governor_before - balance(&net, &governor().address());
    assert!(fee_tokens < TOKEN, "only a fee");
    assert_eq!(
        net.state.meta().burned.0 - burned,
        100 * TOKEN + bond + fee_tokens,
        "the free collateral and the bond are burned"
    );
}

fn staker(i: u8) -> Keypair {
    Keypair::from_seed([100 + i; 32])
}

/// Self-dealing: deals of a client without a verified-data allowance are paid and count as the
/// provider's demand, but earn no bootstrap shares (so a provider paying itself through a second
/// key gets back at most its demand share, never more than it burned); an allowance is used
/// once per shard byte, and governance grants one with the ordinary module-parameter proposal
/// (the `[storage]` section listing the client), after which that client's deals earn shares.
#[test]
fn only_deals_backed_by_a_verified_allowance_earn_bootstrap_shares() {
    let mut net = Net::new(storage_genesis(|g| {
        g.modules.storage.as_mut().unwrap().verified_clients[0].allowance_bytes = SHARD as u64;
        for i in 0..2 {
            g.allocations.push(depin_core::genesis::Allocation {
                address: staker(i).address(),
                amount: "1000".into(),
            });
        }
        let mut gov = GovernanceGenesis::devnet();
        gov.voting_period_blocks = 5;
        gov.min_proposal_stake = "50".into();
        g.modules.governance = Some(gov);
    }));
    let a = price_action(&net, HALF_DOLLAR);
    assert_eq!(net.send(&oracle(0), a), Receipt::Success);
    let stranger = router();
    for who in [client(), router()] {
        assert_eq!(net.send(&who, buy(TOKEN / 2, &who)), Receipt::Success);
    }
    let (p0, p1) = (provider_key(0), provider_key(1));
    for p in [&p0, &p1] {
        register(&mut net, p, GIB);
        let r = net.send(
            &owner(),
            Action::from(AddCollateral {
                device: p.address(),
                amount: Amount(10 * TOKEN),
            }),
        );
        assert_eq!(r, Receipt::Success);
    }
    let open_by = |net: &mut Net, who: &Keypair, p: &Keypair, data: &[u8]| {
        let id = net.state.storage_meta().next_deal;
        let t = terms(net, who, p, data, 3);
        assert_eq!(net.send(who, open_action(t, p)), Receipt::Success);
        id
    };
    let data: Vec<Vec<u8>> = (0..4).map(|i| shard(20 + i, SHARD)).collect();
    // The verified client's first shard uses its whole allowance; its second is unverified.
    let verified = open_by(&mut net, &client(), &p1, &data[0]);
    let over = open_by(&mut net, &client(), &p0, &data[1]);
    let unverified = open_by(&mut net, &stranger, &p0, &data[2]);
    let flags: Vec<bool> = [verified, over, unverified]
        .iter()
        .map(|&d| net.state.deal(d).unwrap().verified)
        .collect();
    assert_eq!(flags, [true, false, false]);
    assert_eq!(net.state.allowance_used(&client().address()), SHARD as u64);
    assert_eq!(net.state.allowance_used(&stranger.address()), 0);

    // Governance grants the stranger an allowance through a module-parameter proposal.
    let mut listed = vec![
        VerifiedClient {
            client: client().address(),
            allowance_bytes: SHARD as u64,
        },
        VerifiedClient {
            client: stranger.address(),
            allowance_bytes: GIB,
        },
    ];
    listed.sort_by_key(|v| v.client);
    let mut g = preset(WINDOW);
    g.verified_clients = listed;
    let change = ProposalKind::ModuleParams {
        module: "storage".into(),
        section: serde_json::to_string(&g).unwrap(),
    };
    for i in 0..2 {
        let lock = Action::from(LockStake {
            amount: Amount(200 * TOKEN),
        });
        assert_eq!(net.send(&staker(i), lock), Receipt::Success);
    }
    let id = 0;
    let propose = Action::from(Propose {
        title: "verified data: the stranger's archive".into(),
        change,
    });
    assert_eq!(net.send(&staker(0), propose), Receipt::Success);
    for i in 0..2 {
        let vote = Action::from(Vote {
            proposal: id,
            choice: Choice::Yes,
        });
        assert_eq!(net.send(&staker(i), vote), Receipt::Success);
    }
    let period = net.state.deal(verified).unwrap().start_period;
    run_to(&mut net, period * EPOCH_BLOCKS + 1);
    let section = net.state.params().modules.storage.clone().unwrap();
    assert_eq!(section.allowance(&stranger.address()), GIB, "granted");
    assert_eq!(section.allowance(&client().address()), SHARD as u64);

    // Proven in the period: every deal is paid, only the verified one earns shares.
    let mut windows: Vec<(u64, u64, &Keypair, &[u8])> = [
        (verified, &p1, &data[0][..]),
        (over, &p0, &data[1][..]),
        (unverified, &p0, &data[2][..]),
    ]
    .into_iter()
    .map(|(d, p, bytes)| (window(&net, d, period).0, d, p, bytes))
    .collect();
    windows.sort_by_key(|w| w.0);
    for (first, deal, p, bytes) in windows {
        run_to(&mut net, first);
        let a = proof(&net, p, deal, period, bytes);
        assert_eq!(net.send(p, a), Receipt::Success);
    }
    run_to(&mut net, (period + 1) * EPOCH_BLOCKS);
    let price = net.state.deal(verified).unwrap().price_per_period;
    let r1 = net.state.reward(period, &p1.address()).unwrap();
    assert_eq!((r1.shares, r1.credits), (price, price));
    assert!(!r1.bootstrap.is_zero());
    let r0 = net.state.reward(period, &p0.address()).unwrap();
    assert_eq!(
        (r0.shares, r0.credits),
        (0, 2 * price),
        "paid and counted as demand, but no bootstrap shares"
    );
    assert!(r0.bootstrap.is_zero());
    assert!(
        r0.demand <= r0.credits_value,
        "its demand share is at most what its clients burned"
    );
    let proof_of = net.state.epoch_proof(period, &p0.address()).unwrap();
    assert_eq!(
        (proof_of.credits_paid, proof_of.credits_verified),
        (2 * price, 0)
    );

    // After the grant the stranger's next deal is verified.
    let next = open_by(&mut net, &stranger, &p1, &data[3]);
    assert!(net.state.deal(next).unwrap().verified);
    assert_eq!(net.state.allowance_used(&stranger.address()), SHARD as u64);
    net.replays_identically();
}

// Every reason code.

#[test]
fn registration_and_collateral_refusals() {
    let mut net = network(1);
    let p = provider_key(0);
    let r = net.send(&owner(), register_action(&provider_key(5), 0));
    assert_eq!(storage_code(&r), "zero_capacity");
    let deal = open(&mut net, &p, &shard(1, SHARD), 3);
    let locked = net.state.deal(deal).unwrap().collateral;
    let w = Action::from(WithdrawCollateral {
        device: p.address(),
        amount: Amount(100 * TOKEN - locked.0 + 1),
    });
    let r = net.send(&owner(), w);
    assert_eq!(storage_code(&r), "collateral_locked");
    let r = net.send(
        &client(),
        Action::from(AddCollateral {
            device: p.address(),
            amount: Amount(1),
        }),
    );
    assert_eq!(storage_code(&r), "not_device_owner");
}

#[test]
fn deal_refusals() {
    let mut net = network(2);
    let (p, q) = (provider_key(0), provider_key(1));
    let data = shard(1, SHARD);
    let base = terms(&net, &client(), &p, &data, 3);
    let cases: Vec<(&str, DealTerms)> = vec![
        (
            "empty_shard",
            DealTerms {
                size: 0,
                ..base.clone()
            },
        ),
        (
            "shard_too_large",
            DealTerms {
                size: GIB + 1,
                ..base.clone()
            },
        ),
        (
            "bad_duration",
            DealTerms {
                periods: 0,
                ..base.clone()
            },
        ),
        (
            "bad_duration",
            DealTerms {
                periods: 1_001,
                ..base.clone()
            },
        ),
        (
            "price_below_floor",
            DealTerms {
                price_per_period: floor(&net, base.size) - 1,
                ..base.clone()
            },
        ),
        (
            "amount_overflow",
            DealTerms {
                price_per_period: u128::MAX / 2,
                ..base.clone()
            },
        ),
        (
            "offer_expired",
            DealTerms {
                valid_until_height: net.state.height(),
                ..base.clone()
            },
        ),
        (
            "wrong_client",
            DealTerms {
                client: owner().address(),
                ..base.clone()
            },
        ),
        (
            "insufficient_credits",
            DealTerms {
                price_per_period: credits(&net, &client()),
                ..base.clone()
            },
        ),
    ];
    for (expected, t) in cases {
        let r = net.send(&client(), open_action(t, &p));
        assert_eq!(storage_code(&r), expected);
    }
    // Signed by the wrong key, or for other terms.
    let a = Action::from(OpenDeal {
        terms: base.clone(),
        provider_signature: base.sign(CHAIN_ID, &q),
    });
    assert_eq!(
        storage_code(&net.send(&client(), a)),
        "bad_provider_signature"
    );
    // The provider's owner cannot be its client.
    let own = DealTerms {
        client: owner().address(),
        ..base.clone()
    };
    let r = net.send(&owner(), open_action(own, &p));
    assert_eq!(storage_code(&r), "self_deal");
    // Capacity and collateral.
    register(&mut net, &provider_key(2), 1_000);
    let small = terms(&net, &client(), &provider_key(2), &data, 3);
    let r = net.send(&client(), open_action(small, &provider_key(2)));
    assert_eq!(storage_code(&r), "over_capacity");
    register(&mut net, &provider_key(3), GIB);
    let poor = terms(&net, &client(), &provider_key(3), &data, 3);
    let r = net.send(&client(), open_action(poor, &provider_key(3)));
    assert_eq!(storage_code(&r), "insufficient_collateral");
    // One live deal per provider and shard.
    let deal = open(&mut net, &p, &data, 3);
    let again = terms(&net, &client(), &p, &data, 3);
    let r = net.send(&client(), open_action(again, &p));
    assert_eq!(storage_code(&r), "duplicate_shard");
    // A hotspot is not a storage provider.
    net.onboard(&hotspot(1), at(0.0, 0.0));
    let t = DealTerms {
        provider: hotspot(1).address(),
        ..terms(&net, &client(), &hotspot(1), &data, 3)
    };
    let r = net.send(&client(), open_action(t, &hotspot(1)));
    assert_eq!(storage_code(&r), "wrong_module");
    let _ = deal;
}

#[test]
fn proof_refusals() {
    let mut net = network(2);
    let (p, q) = (provider_key(0), provider_key(1));
    let data = shard(1, SHARD);
    let deal = open(&mut net, &p, &data, 3);
    let start = net.state.deal(deal).unwrap().start_period;
    let (first, last) = window(&net, deal, start);

    let unknown = Action::from(SubmitStorageProof {
        deal: 99,
        period: start,
        openings: vec![],
    });
    assert_eq!(storage_code(&net.send(&p, unknown)), "unknown_deal");
    let early = Action::from(SubmitStorageProof {
        deal,
        period: start - 1,
        openings: vec![],
    });
    assert_eq!(storage_code(&net.send(&p, early)), "not_started");
    let ahead = Action::from(SubmitStorageProof {
        deal,
        period: start,
        openings: vec![],
    });
    assert_eq!(storage_code(&net.send(&p, ahead)), "window_not_open");
    run_to(&mut net, first);
    let good = proof(&net, &p, deal, start, &data);
    let mut long = good.clone();
    let mut wrong_path = good.clone();
    let mut wrong_len = good.clone();
    let mut wrong_byte = good.clone();
    if let Action::Module(depin_core::modules::ModuleAction::Storage(
        depin_core::modules::storage::actions::StorageAction::SubmitStorageProof(s),
    )) = &mut long
    {
        s.openings.push(s.openings[0].clone());
    }
    let edit = |a: &mut Action, f: &dyn Fn(&mut Opening)| {
        if let Action::Module(depin_core::modules::ModuleAction::Storage(
            depin_core::modules::storage::actions::StorageAction::SubmitStorageProof(s),
        )) = a
        {
            f(&mut s.openings[1]);
        }
    };
    edit(&mut wrong_path, &|o| {
        o.path.pop();
    });
    edit(&mut wrong_len, &|o| {
        o.chunk.pop();
    });
    edit(&mut wrong_byte, &|o| o.chunk[7] ^= 0x40);
    // Another shard's bytes do not open this one.
    let forged = proof(&net, &p, deal, start, &shard(9, SHARD));
    // All in one block: the window is five blocks long.
    let txs = vec![
        tx_at(&net, &q, 0, good.clone()),
        tx_at(&net, &p, 0, long),
        tx_at(&net, &p, 1, wrong_path),
        tx_at(&net, &p, 2, wrong_len),
        tx_at(&net, &p, 3, wrong_byte),
        tx_at(&net, &p, 4, forged),
    ];
    let receipts = net.block(txs);
    let codes: Vec<&str> = receipts.iter().map(storage_code).collect();
    assert_eq!(
        codes,
        [
            "not_provider",
            "wrong_challenge_count",
            "bad_opening",
            "bad_opening",
            "bad_opening",
            "bad_opening"
        ]
    );
    for r in &receipts[2..5] {
        if let Receipt::Rejected(rejection) = r {
            assert!(rejection.to_string().contains("challenge 1"), "{rejection}");
        }
    }
    assert_eq!(net.send(&p, good.clone()), Receipt::Success);
    assert_eq!(storage_code(&net.send(&p, good.clone())), "already_proven");
    run_to(&mut net, last);
    // Declarations.
    let none = Action::from(DeclareFaults { deals: vec![] });
    assert_eq!(storage_code(&net.send(&p, none)), "too_many_deals");
    let r = net.send(&p, Action::from(DeclareRecovery { deals: vec![deal] }));
    assert_eq!(storage_code(&r), "not_faulty");
    let twice = Action::from(DeclareFaults {
        deals: vec![deal, deal],
    });
    assert_eq!(storage_code(&net.send(&p, twice)), "already_declared");
    // The next window closes unproven: the late proof is refused.
    let (_, next_last) = window(&net, deal, start + 1);
    run_to(&mut net, next_last + 1);
    let late = Action::from(SubmitStorageProof {
        deal,
        period: start + 1,
        openings: vec![],
    });
    assert_eq!(storage_code(&net.send(&p, late)), "window_closed");
    net.replays_identically();
}

fn openings_of(a: Action) -> Vec<Opening> {
    match a {
        Action::Module(depin_core::modules::ModuleAction::Storage(
            depin_core::modules::storage::actions::StorageAction::SubmitStorageProof(s),
        )) => s.openings,
        _ => panic!("not a proof"),
    }
}

/// A window's challenges may be answered over several proof transactions (a transaction holds
/// only a few openings of a large shard), in challenge order; the deal is proven when the last
/// is answered, and a proof left unfinished when the window settles counts for nothing.
#[test]
fn a_proof_may_be_split_over_several_transactions_answered_in_order() {
    let mut net = network(1);
    let p = provider_key(0);
    let data = shard(1, SHARD);
    let deal = open(&mut net, &p, &data, 2);
    let start = net.state.deal(deal).unwrap().start_period;
    let (first, _) = window(&net, deal, start);
    run_to(&mut net, first);
    let whole = openings_of(proof(&net, &p, deal, start, &data));
    assert_eq!(whole.len(), 2);
    let part = |period: u64, openings: Vec<Opening>| {
        Action::from(SubmitStorageProof {
            deal,
            period,
            openings,
        })
    };
    // The window is five blocks long: two blocks of parts, in order within each block.
    // First: the second opening out of order (it does not answer the first challenge), then
    // the first.
    let receipts = net.block(vec![
        tx_at(&net, &p, 0, part(start, vec![whole[1].clone()])),
        tx_at(&net, &p, 1, part(start, vec![whole[0].clone()])),
    ]);
    let same_chunk = whole[0] == whole[1];
    if !same_chunk {
        assert_eq!(storage_code(&receipts[0]), "bad_opening");
        assert_eq!(receipts[1], Receipt::Success);
        assert_eq!(
            net.state.deal(deal).unwrap().proven_period,
            None,
            "one of two answered"
        );
        // Then: two openings when one is left, the first again, and the second.
        let receipts = net.block(vec![
            tx_at(
                &net,
                &p,
                0,
                part(start, vec![whole[1].clone(), whole[1].clone()]),
            ),
            tx_at(&net, &p, 1, part(start, vec![whole[0].clone()])),
            tx_at(&net, &p, 2, part(start, vec![whole[1].clone()])),
        ]);
        let codes: Vec<&str> = receipts[..2].iter().map(storage_code).collect();
        assert_eq!(codes, ["wrong_challenge_count", "bad_opening"]);
        assert_eq!(receipts[2], Receipt::Success);
    }
    assert_eq!(net.state.deal(deal).unwrap().proven_period, Some(start));
    pass_window(&mut net, deal, start);
    assert_eq!(
        net.state.outcomes(deal, start, 1)[0].1.kind,
        OutcomeKind::Proven
    );

    // Next period: only the first half arrives; the window settles it as a detected fault and
    // the half-answered record is gone.
    let next = start + 1;
    let (first, _) = window(&net, deal, next);
    run_to(&mut net, first);
    let whole = openings_of(proof(&net, &p, deal, next, &data));
    assert_eq!(
        net.send(&p, part(next, vec![whole[0].clone()])),
        Receipt::Success
    );
    let key = depin_core::modules::storage::records::answered_key(deal);
    assert!(net.state.get_raw(&key).is_some());
    pass_window(&mut net, deal, next);
    assert_eq!(
        net.state.outcomes(deal, next, 1)[0].1.kind,
        OutcomeKind::DetectedFault
    );
    assert!(net.state.get_raw(&key).is_none());
    net.replays_identically();
}

#[test]
fn a_network_without_storage_refuses_its_actions() {
    let mut net = Net::new(demand_genesis(1, |_| {}));
    let r = net.send(&owner(), register_action(&provider_key(0), GIB));
    assert_eq!(storage_code(&r), "storage_disabled");
}

#[test]
fn storage_needs_the_demand_service() {
    let mut g = storage_genesis(|_| {});
    g.modules.demand = None;
    let c = g.modules.coverage.as_mut().unwrap();
    c.onboard_fee = "1".into();
    let Err(err) = depin_core::State::genesis(&g) else {
        panic!("a storage section without demand must be refused");
    };
    let err = err.to_string();
    assert!(err.contains("storage"), "{err}");
}

/// A provider announces its retrieval URL on the ledger (device or owner), clients list the
/// providers that have one, a bad URL is refused with the reason, an empty one withdraws it,
/// and a retired provider's is removed.
#[test]
fn providers_announce_their_retrieval_endpoints() {
    let mut net = network(2);
    let (p0, p1) = (provider_key(0), provider_key(1));
    let set = |device: &Keypair, url: &str| {
        Action::from(SetEndpoint {
            device: device.address(),
            url: url.into(),
        })
    };
    assert_eq!(
        net.send(&p0, set(&p0, "http://127.0.0.1:7100")),
        Receipt::Success
    );
    assert_eq!(
        net.send(&owner(), set(&p1, "https://p1.example:443")),
        Receipt::Success
    );
    assert_eq!(
        net.state.endpoint(&p0.address()).as_deref(),
        Some("http://127.0.0.1:7100")
    );
    let mut listed = net.state.endpoints(None, 10);
    listed.sort();
    let mut expected = vec![
        (p0.address(), "http://127.0.0.1:7100".to_string()),
        (p1.address(), "https://p1.example:443".to_string()),
    ];
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(net.state.endpoints(Some(&expected[0].0), 10), expected[1..]);
    for bad in [
        "ftp://x",
        "http://",
        "http://a b",
        &format!("http://{}", "a".repeat(200)),
    ] {
        let r = net.send(&p0, set(&p0, bad));
        assert_eq!(storage_code(&r), "bad_endpoint", "{bad}");
    }
    // Someone else's provider, and a device of no storage provider.
    assert_eq!(
        code(&net.send(&p1, set(&p0, "http://x"))),
        "not_device_owner"
    );
    assert_eq!(
        code(&net.send(&client(), set(&client(), "http://x"))),
        "wrong_module"
    );
    assert_eq!(net.send(&p0, set(&p0, "")), Receipt::Success);
    assert_eq!(net.state.endpoint(&p0.address()), None);
    let r = net.send(
        &owner(),
        Action::from(RetireDevice {
            device: p1.address(),
        }),
    );
    assert_eq!(r, Receipt::Success);
    assert!(net.state.endpoints(None, 10).is_empty());
    net.replays_identically();
}

#[test]
fn verified_clients_are_listed_once_each_in_address_order() {
    let entry = |k: &Keypair| VerifiedClient {
        client: k.address(),
        allowance_bytes: GIB,
    };
    let mut listed = vec![entry(&client()), entry(&router())];
    listed.sort_by_key(|v| v.client);
    for bad in [
        vec![listed[1].clone(), listed[0].clone()],
        vec![listed[0].clone(), listed[0].clone()],
    ] {
        let g = storage_genesis(|g| g.modules.storage.as_mut().unwrap().verified_clients = bad);
        let Err(err) = depin_core::State::genesis(&g) else {
            panic!("an unsorted or repeated allowance list must be refused");
        };
        assert!(
            err.to_string().contains("storage.verified_clients"),
            "{err}"
        );
    }
    let g = storage_genesis(|g| g.modules.storage.as_mut().unwrap().verified_clients = listed);
    assert!(depin_core::State::genesis(&g).is_ok());
}

/// A shard missing a fraction `f` of its chunks passes `k` challenges with probability
/// `(1 - f)^k`: measured over 20,000 windows of fixed seeds, within 1.5 percentage points.
#[test]
fn a_shard_missing_a_fraction_passes_with_probability_one_minus_f_to_the_k() {
    let size = 1_000 * 1024u64;
    for (missing_per_mille, k) in [(250u64, 2u32), (500, 2), (100, 8)] {
        let trials = 20_000u64;
        let mut passed = 0u64;
        for t in 0..trials {
            let seed = challenge_seed(
                &Hash::tagged("trial", &[&t.to_le_bytes()]),
                &Address([1; 32]),
                0,
                t,
            );
            // The provider kept chunks whose index modulo 1000 is at or above the missing share.
            if challenged_chunks(&seed, size, k)
                .iter()
                .all(|c| c % 1_000 >= missing_per_mille)
            {
                passed += 1;
            }
        }
        let expected = (1.0 - missing_per_mille as f64 / 1_000.0).powi(k as i32);
        let measured = passed as f64 / trials as f64;
        assert!(
            (measured - expected).abs() < 0.015,
            "f={missing_per_mille}/1000 k={k}: measured {measured}, expected {expected}"
        );
    }
}

/// A codes list to keep this file honest: every storage code is exercised above.
#[test]
fn every_code_is_tested_here() {
    let source = include_str!("storage.rs");
    for code in StorageRejection::CODES {
        assert!(
            source.contains(&format!("\"{code}\"")),
            "reason {code} has no test"
        );
    }
}

// Conservation over random runs.

/// What one deal does in one period of a random run.
#[derive(Clone, Copy, Debug)]
enum Move {
    Prove,
    Skip,
    Declare,
    Recover,
    Quit,
}

fn moves() -> impl Strategy<Value = Move> {
    prop_oneof![
        4 => Just(Move::Prove),
        2 => Just(Move::Skip),
        1 => Just(Move::Declare),
        2 => Just(Move::Recover),
        1 => Just(Move::Quit),
    ]
}

/// Credits: the client's, the deals' escrow and what was released to providers always add up
/// to what the client bought; tokens: the collateral escrow account holds exactly the providers'
/// collateral, the locked part is exactly the live deals', and the client received exactly the
/// fees and collateral the deals record (the test chain checks supply = sum of balances after
/// every block).
fn check_conservation(net: &Net, bought: u128, client_tokens: u128, deals: &[u64], providers: u8) {
    let escrow: u128 = deals
        .iter()
        .map(|&d| net.state.deal(d).unwrap().escrow.credits)
        .sum();
    let epochs = net.state.height() / EPOCH_BLOCKS + 1;
    let released: u128 = (0..epochs)
        .flat_map(|e| (0..providers).map(move |i| (e, i)))
        .map(|(e, i)| {
            net.state
                .epoch_proof(e, &provider_key(i).address())
                .map_or(0, |w| w.credits_paid)
        })
        .sum();
    let paid: u128 = deals
        .iter()
        .map(|&d| net.state.deal(d).unwrap().paid_credits)
        .sum();
    assert_eq!(released, paid);
    // What the client's transactions paid in fees left its credits too.
    let fees = net
        .state
        .credits(&client().address())
        .map_or(0, |c| c.spent_on_fees);
    assert_eq!(credits(net, &client()) + escrow + released + fees, bought);
    let mut collateral = 0u128;
    let mut locked = 0u128;
    for i in 0..providers {
        let r = net
            .state
            .provider(&provider_key(i).address())
            .unwrap()
            .record;
        collateral += r.collateral.0;
        locked += r.locked.0;
    }
    assert_eq!(balance(net, &escrow_account()), collateral);
    let live: u128 = deals
        .iter()
        .map(|&d| net.state.deal(d).unwrap())
        .filter(|d| d.status.is_live())
        .map(|d| d.collateral.0)
        .sum();
    assert_eq!(locked, live);
    let to_client: u128 = deals
        .iter()
        .map(|&d| net.state.deal(d).unwrap().paid_to_client.0)
        .sum();
    assert_eq!(balance(net, &client().address()), client_tokens + to_client);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn escrow_collateral_payments_and_fees_are_conserved(
        plan in prop::collection::vec(prop::collection::vec(moves(), 4), 3)
    ) {
        let mut net = network(2);
        // Everything the client held, counting what it already spent on fees.
        let bought = credits(&net, &client())
            + net
                .state
                .credits(&client().address())
                .map_or(0, |c| c.spent_on_fees);
        let client_tokens = balance(&net, &client().address());
        let shards: Vec<Vec<u8>> = (0..3).map(|i| shard(10 + i, 9_000 + 3_000 * i as usize)).collect();
        let owners = [0u8, 1, 0];
        let deals: Vec<u64> = shards
            .iter()
            .zip(owners)
            .map(|(s, i)| open(&mut net, &provider_key(i), s, 3))
            .collect();
        let start = net.state.deal(deals[0]).unwrap().start_period;
        for step in 0..4u64 {
            let period = start + step;
            // Declarations for the period, in one block before its first window's cutoff.
            let mut txs = Vec::new();
            let mut extra = [0u64; 2];
            for (i, &deal) in deals.iter().enumerate() {
                let d = net.state.deal(deal).unwrap();
                let who = owners[i] as usize;
                let action = match plan[i][step as usize] {
                    Move::Declare if d.status == DealStatus::Active => {
                        Action::from(DeclareFaults { deals: vec![deal] })
                    }
                    Move::Recover if d.status == DealStatus::Faulty => {
                        Action::from(DeclareRecovery { deals: vec![deal] })
                    }
                    Move::Quit if d.status.is_live() => {
                        txs.push(tx_at(&net, &owner(), extra_owner(&txs), Action::from(TerminateDeal { deal })));
                        continue;
                    }
                    _ => continue,
                };
                if d.status.is_live() {
                    txs.push(tx_at(&net, &provider_key(owners[i]), extra[who], action));
                    extra[who] += 1;
                }
            }
            net.block(txs);
            // Proofs in each deal's window, in height order.
            let mut order: Vec<(u64, usize)> = deals
                .iter()
                .enumerate()
                .map(|(i, &d)| (window(&net, d, period).0, i))
                .collect();
            order.sort();
            for (first, i) in order {
                let d = net.state.deal(deals[i]).unwrap();
                let wants = matches!(plan[i][step as usize], Move::Prove | Move::Recover);
                if !d.status.is_live() || !wants {
                    continue;
                }
                run_to(&mut net, first);
                let a = proof(&net, &provider_key(owners[i]), deals[i], period, &shards[i]);
                let r = net.send(&provider_key(owners[i]), a);
                let may = d.status == DealStatus::Active || d.recovery == Some(period);
                prop_assert_eq!(r == Receipt::Success, may, "{:?}", r);
            }
            run_to(&mut net, (period + 1) * EPOCH_BLOCKS - 3);
            check_conservation(&net, bought, client_tokens, &deals, 2);
            if period > start {
                epoch_is_conserved(&net.state.epoch_summary(period - 1).unwrap());
            }
        }
        run_to(&mut net, (start + 4) * EPOCH_BLOCKS);
        check_conservation(&net, bought, client_tokens, &deals, 2);
        // Every deal is over by now: nothing is held or locked.
        for &deal in &deals {
            let d = net.state.deal(deal).unwrap();
            prop_assert!(!d.status.is_live());
            prop_assert_eq!(d.escrow.credits, 0);
        }
    }
}
