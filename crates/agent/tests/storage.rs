//! The storage provider agent on one real node: a client opens a deal for a shard the provider
//! keeps as a file, the agent follows the node and proves it in each proving window from the
//! file, and the deal ends with every period paid.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{start_network, test_genesis};
use depin_agent::client::Client;
use depin_agent::storage::provider::{ProviderArgs, run};
use depin_agent::storage::retrieval::DEFAULT_MAX_PENDING_BYTES;
use depin_agent::storage::{HeldShard, generated};
use depin_core::economics::TokenPrice;
use depin_core::modules::storage::actions::{
    AddCollateral, DealTerms, OpenDeal, RegisterProvider, SetEndpoint, sign_onboarding,
};
use depin_core::modules::storage::params::{GIB, preset};
use depin_core::services::demand::actions::{BuyCredits, SubmitPrice};
use depin_core::{Action, Amount, Hash, Keypair};
use depin_node::Home;

const CHAIN_ID: &str = "depin-storage";

/// Signs `action` with `key`, submits it and waits for its block.
fn send(client: &Client, key: &Keypair, action: Action) {
    send_all(client, key, vec![action]);
}

/// Signs `actions` with `key` at consecutive nonces, submits them together and waits for their
/// block(s); each must be admitted.
fn send_all(client: &Client, key: &Keypair, actions: Vec<Action>) {
    let first = client.nonce(&key.address()).unwrap().unwrap_or(0);
    let signer = depin_agent::client::Signer::fetch(client).unwrap();
    let n = actions.len() as u64;
    let txs: Vec<_> = actions
        .into_iter()
        .zip(first..)
        .map(|(action, nonce)| signer.sign(key, nonce, action))
        .collect();
    for verdict in client.submit(&txs).unwrap() {
        assert!(verdict.is_ok(), "{verdict:?}");
    }
    wait_for("the transactions were not committed", 20, || {
        let nonce = client.nonce(&key.address()).unwrap().unwrap_or(0);
        (nonce >= first + n)
            .then_some(())
            .ok_or(format!("nonce {nonce}"))
    });
}

/// Polls `check` every 100 ms until it gives a value; past `secs` seconds, fails with `what`
/// and the last thing `check` said.
fn wait_for<T>(what: &str, secs: u64, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match check() {
            Ok(v) => return v,
            Err(last) => assert!(Instant::now() < deadline, "{what}: {last}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_provider_agent_proves_a_shard_it_keeps_on_disk_in_every_window() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = Home::new(dir.path());
    let owner = Keypair::from_seed([2; 32]);
    let oracle = Keypair::from_seed([4; 32]);
    let buyer = Keypair::from_seed([5; 32]);
    let device = Keypair::from_seed([6; 32]);
    let mut genesis = test_genesis(
        CHAIN_ID,
        &[
            (owner.address(), "100000"),
            (buyer.address(), "1000"),
            (oracle.address(), "10"),
        ],
    );
    let coverage = genesis.modules.coverage.as_mut().expect("coverage");
    coverage.onboard_fee = "0".into();
    coverage.location_fee = "0".into();
    genesis.modules.demand = Some(depin_core::services::demand::params::preset(
        vec![oracle.address()],
        100,
    ));
    genesis.modules.storage = Some(preset(5));
    let (url, _store) = start_network(&home, &genesis);
    let client = Client::new(&url);

    let now = depin_node::node::now_ms();
    send(
        &client,
        &oracle,
        Action::from(SubmitPrice {
            price: TokenPrice(50_000_000),
            observed_at_ms: now,
        }),
    );
    send(
        &client,
        &buyer,
        Action::from(BuyCredits {
            tokens: Amount(100_000_000),
            min_credits: 0,
            to: buyer.address(),
        }),
    );
    send(
        &client,
        &owner,
        Action::from(RegisterProvider {
            device: device.address(),
            capacity_bytes: GIB,
            device_signature: sign_onboarding(CHAIN_ID, &owner.address(), &device),
        }),
    );
    send(
        &client,
        &owner,
        Action::from(AddCollateral {
            device: device.address(),
            amount: Amount(100_000_000),
        }),
    );
    let shards = dir.path().join("shards");
    let data = generated(11, 150_000);
    let held = HeldShard::on_disk(&shards, &data).expect("shard file");
    let height = client.get("/v1/status").unwrap()["height"]
        .as_u64()
        .unwrap();
    let terms = DealTerms {
        client: buyer.address(),
        provider: device.address(),
        root: held.tree.root,
        size: data.len() as u64,
        periods: 2,
        price_per_period: 100,
        valid_until_height: height + 50,
    };
    let provider_signature = terms.sign(CHAIN_ID, &device);
    send(
        &client,
        &buyer,
        Action::from(OpenDeal {
            terms,
            provider_signature,
        }),
    );
    assert_eq!(
        client.get("/v1/storage/deals/0").unwrap()["status"],
        "active"
    );

    // The agent follows the node until the deal's last period is settled.
    let args = ProviderArgs {
        shards: Some(shards),
        poll_ms: Some(100),
        keep_per_mille: 1000,
        quiet: false,
        polls: 0,
        serve: None,
        // Announced on the ledger without serving here (a proxy in front, say).
        announce: Some("http://127.0.0.1:7999".into()),
        max_pending_bytes: DEFAULT_MAX_PENDING_BYTES,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let polled = ProviderArgs {
            polls: 10,
            ..args.clone()
        };
        run(&polled, &url, dir.path(), &device, false).expect("agent runs");
        let d = client.get("/v1/storage/deals/0").unwrap();
        if d["status"] == "ended" || Instant::now() > deadline {
            break;
        }
    }
    let d = client.get("/v1/storage/deals/0").unwrap();
    assert_eq!(d["status"], "ended", "{d}");
    assert_eq!(d["proven_periods"], 2, "{d}");
    let outcomes = d["outcomes"].as_array().unwrap();
    assert!(
        outcomes.iter().all(|o| o["outcome"] == "proven"),
        "{outcomes:?}"
    );
    assert_eq!(d["paid_credits"], "200");
    let p = client
        .get(&format!("/v1/storage/providers/{}", device.address()))
        .unwrap();
    assert_eq!(p["endpoint"], "http://127.0.0.1:7999", "{p}");
}

fn credits_spent_on_data(client: &Client, who: &Keypair) -> u128 {
    let v = client
        .get(&format!("/v1/credits/{}", who.address()))
        .unwrap();
    v["spent_on_data"]
        .as_str()
        .map(|s| s.parse().unwrap())
        .or_else(|| v["spent_on_data"].as_u64().map(u128::from))
        .unwrap_or(0)
}

/// `put` erasure-codes a 3 MB file into 2 data + 2 parity shards with four provider agents (their
/// retrieval servers on 127.0.0.1), one deal a shard; `get` rebuilds the same bytes with one
/// provider gone and another serving a corrupted second segment, and the client pays exactly
/// for the bytes it verified: the whole shards of the two honest providers and the first
/// (verified) segment of the liar, nothing to the one that was gone.
/// A node with demand and storage (proving windows of `window_blocks` blocks of 200 ms; a deal
/// terminated after `max_fault_periods` faulty periods), its token priced, a client holding credits, and five
/// registered providers with collateral: four take a file's shards, the fifth is the spare a
/// repair moves one to.
struct StorageNet {
    dir: tempfile::TempDir,
    url: String,
    client: Client,
    _store: std::sync::Arc<depin_store::Store>,
    owner: Keypair,
    buyer: Keypair,
    devices: Vec<Keypair>,
    market: depin_core::services::demand::params::MarketParams,
}

fn storage_net(window_blocks: u64, max_fault_periods: u32) -> StorageNet {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = Home::new(dir.path());
    let owner = Keypair::from_seed([2; 32]);
    let oracle = Keypair::from_seed([4; 32]);
    let buyer = Keypair::from_seed([5; 32]);
    let devices: Vec<Keypair> = (0..5u8).map(|i| Keypair::from_seed([20 + i; 32])).collect();
    let mut genesis = test_genesis(
        CHAIN_ID,
        &[
            (owner.address(), "100000"),
            (buyer.address(), "1000"),
            (oracle.address(), "10"),
        ],
    );
    let coverage = genesis.modules.coverage.as_mut().expect("coverage");
    coverage.onboard_fee = "0".into();
    coverage.location_fee = "0".into();
    let demand = depin_core::services::demand::params::preset(vec![oracle.address()], 100);
    let market = demand.to_params().expect("valid demand section");
    genesis.modules.demand = Some(demand);
    let mut storage = preset(window_blocks);
    storage.max_fault_periods = max_fault_periods;
    genesis.modules.storage = Some(storage);
    let (url, store) = start_network(&home, &genesis);
    let client = Client::new(&url);
    send(
        &client,
        &oracle,
        Action::from(SubmitPrice {
            price: TokenPrice(50_000_000),
            observed_at_ms: depin_node::node::now_ms(),
        }),
    );
    send(
        &client,
        &buyer,
        Action::from(BuyCredits {
            tokens: Amount(100_000_000),
            min_credits: 0,
            to: buyer.address(),
        }),
    );
    for device in &devices {
        send(
            &client,
            &owner,
            Action::from(RegisterProvider {
                device: device.address(),
                capacity_bytes: GIB,
                device_signature: sign_onboarding(CHAIN_ID, &owner.address(), device),
            }),
        );
        send(
            &client,
            &owner,
            Action::from(AddCollateral {
                device: device.address(),
                amount: Amount(100_000_000),
            }),
        );
    }
    StorageNet {
        dir,
        url,
        client,
        _store: store,
        owner,
        buyer,
        devices,
        market,
    }
}

/// Runs the provider agent of `device` (until the node goes away with the test): it proves in
/// each window from `shards` and serves on 127.0.0.1, announcing its URL.
fn spawn_serving_agent(
    net: &StorageNet,
    device: &Keypair,
    shards: PathBuf,
    max_pending_bytes: u64,
) {
    let args = ProviderArgs {
        shards: Some(shards),
        poll_ms: Some(100),
        keep_per_mille: 1000,
        quiet: true,
        polls: 0,
        serve: Some("127.0.0.1:0".parse().unwrap()),
        announce: None,
        max_pending_bytes,
    };
    let (url, home) = (net.url.clone(), net.dir.path().to_path_buf());
    let device = Keypair::from_seed(device.seed());
    std::thread::spawn(move || run(&args, &url, &home, &device, false));
}

/// The retrieval URL `device` announced on the ledger, once it has.
fn announced_url(client: &Client, device: &Keypair) -> String {
    wait_for("the agent did not announce", 30, || {
        let listed = depin_agent::storage::client::announced(client).unwrap();
        let others = listed.len();
        listed
            .into_iter()
            .find(|(d, _)| *d == device.address())
            .map(|(_, url)| url)
            .ok_or(format!("{others} others announced"))
    })
}

#[test]
fn put_and_get_survive_a_dead_and_a_lying_provider_and_pay_exactly() {
    use depin_agent::storage::client::{
        Manifest, PutArgs, Repair, get, get_and_repair, lost_shards, put, repair,
    };
    use depin_agent::storage::retrieval::{
        MAX_SEGMENT_GROUPS, RetrievalServer, ServerConfig, shard_file,
    };
    use depin_core::modules::storage::actions::TerminateDeal;
    use depin_core::modules::storage::proof::GROUP_BYTES;
    use std::sync::Arc;

    // Nobody proves in this test: no deal may be terminated for faults before the repair.
    let net = storage_net(5, 1_000);
    let StorageNet {
        ref dir,
        ref url,
        ref client,
        ref owner,
        ref buyer,
        ref devices,
        ref market,
        ..
    } = net;
    let mut servers = Vec::new();
    for (i, device) in devices.iter().enumerate() {
        let server = RetrievalServer::start(
            ServerConfig {
                shards: dir.path().join(format!("provider-{i}")),
                device: Arc::new(Keypair::from_seed(device.seed())),
                node: url.clone(),
                max_pending_bytes: DEFAULT_MAX_PENDING_BYTES,
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .expect("retrieval server");
        // Announced on the ledger: `put` finds the providers there, without URLs.
        send(
            client,
            owner,
            Action::from(SetEndpoint {
                device: device.address(),
                url: server.url(),
            }),
        );
        servers.push(Some(server));
    }
    let urls: Vec<String> = servers.iter().flatten().map(|s| s.url()).collect();
    let announced = depin_agent::storage::client::announced(client).unwrap();
    assert_eq!(announced.len(), 5, "{announced:?}");

    let data = generated(21, 3_000_000);
    let args = PutArgs {
        data_shards: 2,
        parity_shards: 2,
        periods: 20,
        price: None,
        providers: Vec::new(),
    };
    let manifest = put(client, buyer, "file.bin", &data, &args).expect("put");
    assert_eq!(manifest.shards.len(), 4);
    let shard_len = manifest.shards[0].size;
    assert_eq!(shard_len, 1_500_032, "3 MB in two shards, 64-byte aligned");
    let providers: std::collections::BTreeSet<_> =
        manifest.shards.iter().map(|e| e.provider).collect();
    assert_eq!(providers.len(), 4, "each shard with a distinct provider");
    for e in &manifest.shards {
        let d = client
            .get(&format!("/v1/storage/deals/{}", e.deal.expect("deal id")))
            .unwrap();
        assert_eq!(d["status"], "active", "{d}");
        assert_eq!(d["root"].as_str().unwrap().parse::<Hash>().unwrap(), e.root);
    }
    let saved = manifest.save(&dir.path().join("manifests")).unwrap();
    assert_eq!(
        Manifest::load(&dir.path().join("manifests"), &manifest.root.to_hex()).unwrap(),
        manifest
    );
    assert!(saved.exists());
    assert_eq!(
        Manifest::load(&dir.path().join("manifests"), &manifest.name).unwrap(),
        manifest,
        "a stored file is found by the name it was stored under"
    );

    // Shard 0's provider goes offline; shard 1's provider's file is damaged in its second
    // segment (its first segment still verifies).
    let server_of = |url: &str| urls.iter().position(|u| u == url).unwrap();
    let gone = server_of(&manifest.shards[0].url);
    servers[gone].take().expect("running").stop();
    let liar = server_of(&manifest.shards[1].url);
    let liar_file = shard_file(
        &dir.path().join(format!("provider-{liar}")),
        &manifest.shards[1].root,
    );
    let mut bytes = std::fs::read(&liar_file).unwrap();
    let segment = (MAX_SEGMENT_GROUPS * GROUP_BYTES) as usize;
    bytes[segment + 100] ^= 0xff;
    std::fs::write(&liar_file, &bytes).unwrap();

    let spent_before = credits_spent_on_data(client, buyer);
    let (got, reports) = get(client, CHAIN_ID, buyer, &manifest).expect("get");
    assert!(got == data, "the rebuilt file is byte-identical");
    let paid: Vec<(usize, u64, bool)> = reports
        .iter()
        .map(|r| (r.index, r.paid, r.failure.is_none()))
        .collect();
    assert_eq!(
        paid,
        vec![
            (0, 0, false),
            (1, segment as u64, false),
            (2, shard_len, true),
            (3, shard_len, true)
        ],
        "{reports:?}"
    );

    // The three providers that served submit the receipts; the client pays exactly for the
    // verified bytes, at the market's price per kB (each receipt rounded up on its own).
    let cost = |bytes| market.receipt_cost(0, bytes).unwrap();
    let expected = cost(segment as u64) + 2 * cost(shard_len);
    let deadline = Instant::now() + Duration::from_secs(30);
    while credits_spent_on_data(client, buyer) < spent_before + expected
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        credits_spent_on_data(client, buyer) - spent_before,
        expected
    );

    // Shard 0's provider quits its deal: the next `get` rebuilds the file from the others, then
    // re-encodes shard 0 (same root) from the bytes in hand and places it with the one provider
    // the file did not use (`depin storage get` repairs by default).
    let quit = manifest.shards[0].deal.expect("deal id");
    send(client, owner, Action::from(TerminateDeal { deal: quit }));
    let spare = devices
        .iter()
        .map(Keypair::address)
        .find(|d| manifest.shards.iter().all(|e| e.provider != *d))
        .expect("one provider is unused");
    assert_eq!(lost_shards(client, &manifest).unwrap(), vec![0]);
    // Progress: bytes retrieved of the k shards needed, then bytes uploaded of the repair.
    let seen = std::cell::RefCell::new(Vec::new());
    let (rebuilt, _, outcome) =
        get_and_repair(client, CHAIN_ID, buyer, &manifest, &args, &|d, t| {
            seen.borrow_mut().push((d, t))
        })
        .expect("get and repair");
    let k = manifest.data_shards as u64;
    assert_eq!(
        seen.into_inner(),
        [
            (1..=k)
                .map(|i| (i * shard_len, k * shard_len))
                .collect::<Vec<_>>(),
            vec![(shard_len, shard_len)],
        ]
        .concat(),
        "each shard retrieved, then the one repaired"
    );
    assert!(
        rebuilt == data,
        "the file rebuilds while a deal is terminated"
    );
    let Repair::Done(repaired, fixed) = outcome else {
        panic!("the terminated shard was not repaired: {outcome:?}");
    };
    assert_eq!(fixed, vec![0]);
    assert_eq!(repaired.shards[0].provider, spare);
    assert_eq!(repaired.shards[0].root, manifest.shards[0].root);
    assert_eq!(repaired.shards[1..], manifest.shards[1..]);
    let d = client
        .get(&format!(
            "/v1/storage/deals/{}",
            repaired.shards[0].deal.expect("new deal")
        ))
        .unwrap();
    assert_eq!(d["status"], "active", "{d}");
    // Nothing more to repair; the repaired file is whole again from its live deals.
    let (_, none) = repair(client, CHAIN_ID, buyer, &repaired, &args).expect("repair");
    assert!(none.is_empty());
    let (again, _) = get(client, CHAIN_ID, buyer, &repaired).expect("get after repair");
    assert!(again == data, "the repaired file rebuilds");
}

/// The end-to-end run with real files: a 3 MB file put across 4 provider agents that
/// prove their shards from disk and serve retrievals; one provider's file is deleted, its deal
/// goes faulty and is terminated at the fault limit; `get` rebuilds the original bytes from the
/// others and moves the lost shard to the spare provider, whose agent then proves it.
#[test]
fn a_provider_that_loses_its_file_goes_faulty_is_terminated_and_get_repairs_the_shard() {
    use depin_agent::storage::client::{Manifest, PutArgs, Repair, get_and_repair, put};
    use depin_agent::storage::retrieval::shard_file;

    // One window per epoch (20 blocks, 4 s), and a shard terminated after 3 faulty periods in a
    // row, as on a real network: five debug-built agents on a loaded machine may miss a window
    // now and then, never every one of three (the lost file misses them all).
    let net = storage_net(20, 3);
    let StorageNet {
        ref dir,
        ref client,
        ref buyer,
        ref devices,
        ..
    } = net;
    // Every provider runs the agent: it proves in each window and serves (announcing its URL).
    for (i, device) in devices.iter().enumerate() {
        let shards = dir.path().join(format!("agent-{i}"));
        spawn_serving_agent(&net, device, shards, DEFAULT_MAX_PENDING_BYTES);
    }
    for device in devices {
        announced_url(client, device);
    }
    let data = generated(31, 3_000_000);
    let args = PutArgs {
        data_shards: 2,
        parity_shards: 2,
        periods: 50,
        price: None,
        providers: Vec::new(),
    };
    let manifest: Manifest = put(client, buyer, "file.bin", &data, &args).expect("put");
    let lost = &manifest.shards[1];
    let deal = lost.deal.expect("deal id");
    let index = devices
        .iter()
        .position(|d| d.address() == lost.provider)
        .expect("a test provider");
    let file = shard_file(&dir.path().join(format!("agent-{index}")), &lost.root);
    assert!(
        file.exists(),
        "the agent keeps the uploaded shard as a file"
    );
    std::fs::remove_file(&file).unwrap();

    // Faulty in the next window it cannot prove, terminated past the limit.
    let mut statuses = Vec::new();
    wait_for("the deal was not terminated", 120, || {
        let d = client.get(&format!("/v1/storage/deals/{deal}")).unwrap();
        let status = d["status"].as_str().unwrap().to_string();
        if statuses.last() != Some(&status) {
            statuses.push(status.clone());
        }
        status
            .starts_with("terminated")
            .then_some(())
            .ok_or(format!("{statuses:?}"))
    });
    assert!(
        statuses.iter().any(|s| s == "faulty"),
        "the deal went faulty before it was terminated: {statuses:?}"
    );
    for e in &manifest.shards {
        if e.index != 1 {
            let d = client
                .get(&format!("/v1/storage/deals/{}", e.deal.unwrap()))
                .unwrap();
            assert!(
                !d["status"].as_str().unwrap().starts_with("terminated"),
                "the other shards are proven: {d}"
            );
        }
    }

    let (rebuilt, reports, outcome) =
        get_and_repair(client, CHAIN_ID, buyer, &manifest, &args, &|_, _| {}).expect("get");
    assert!(rebuilt == data, "the original bytes come back");
    assert!(reports.iter().all(|r| r.index != 1 || r.failure.is_some()));
    let Repair::Done(repaired, fixed) = outcome else {
        panic!("the lost shard was not repaired: {outcome:?}");
    };
    assert_eq!(fixed, vec![1]);
    let spare = repaired.shards[1].provider;
    assert!(manifest.shards.iter().all(|e| e.provider != spare));
    // The spare's agent proves the repaired shard in its window.
    let new_deal = repaired.shards[1].deal.expect("a new deal");
    wait_for("the repaired shard was never proven", 60, || {
        let d = client
            .get(&format!("/v1/storage/deals/{new_deal}"))
            .unwrap();
        d["outcomes"]
            .as_array()
            .is_some_and(|o| o.iter().any(|o| o["outcome"] == "proven"))
            .then_some(())
            .ok_or(d.to_string())
    });
}

/// Nobody can park bytes on a provider's disk: the agent's server keeps an upload only while the
/// offer it signed for it lasts (at most `MAX_OFFER_BLOCKS`, whatever the uploader asks), the
/// agent deletes an upload whose deal never opened once its offer expired and keeps the one
/// whose deal opened, and uploads still waiting for deals are bounded: one past the bound is
/// refused (507) with what to do, and accepted once the earlier one expired.
#[test]
fn uploads_whose_deals_never_open_are_deleted_when_their_offers_expire_and_are_bounded() {
    use depin_agent::storage::retrieval::{
        MAX_OFFER_BLOCKS, pending_file, pending_uploads, shard_file, upload_shard,
    };

    let net = storage_net(5, 1_000);
    let StorageNet {
        ref dir,
        ref client,
        ref buyer,
        ref devices,
        ..
    } = net;
    let shards = dir.path().join("agent-pending");
    spawn_serving_agent(&net, &devices[0], shards.clone(), 150_000);
    let server = announced_url(client, &devices[0]);
    let height = || {
        client.get("/v1/status").unwrap()["height"]
            .as_u64()
            .unwrap()
    };
    let me = buyer.address();

    // Abandoned: its offer lasts 3 blocks and no deal opens on it.
    let abandoned = generated(41, 100_000);
    let at = height();
    let (terms, _) = upload_shard(&server, &abandoned, &me, 5, 100, at + 3).expect("upload");
    let abandoned_root = terms.root;
    assert!(shard_file(&shards, &abandoned_root).exists());
    assert!(pending_file(&shards, &abandoned_root).exists());

    // Past the bound: 100,000 + 100,000 bytes waiting > 150,000.
    let refused = generated(42, 100_000);
    let e = format!(
        "{:#}",
        upload_shard(&server, &refused, &me, 5, 100, height() + 3).unwrap_err()
    );
    assert!(
        e.contains("507") && e.contains("have not opened") && e.contains("150000"),
        "{e}"
    );

    // Asked for a million blocks, signed for at most MAX_OFFER_BLOCKS; its deal opens.
    let kept = generated(43, 40_000);
    let asked_at = height();
    let (terms, provider_signature) =
        upload_shard(&server, &kept, &me, 2, 100, asked_at + 1_000_000).expect("upload");
    assert!(
        terms.valid_until_height <= height() + MAX_OFFER_BLOCKS
            && terms.valid_until_height >= asked_at + MAX_OFFER_BLOCKS,
        "{terms:?}"
    );
    let kept_root = terms.root;
    send(
        client,
        buyer,
        Action::from(OpenDeal {
            terms,
            provider_signature,
        }),
    );

    // The agent's looks settle both: the abandoned upload is deleted once its offer expired,
    // the opened deal's shard stays and is no longer waiting.
    wait_for("uploads still waiting", 30, || {
        let waiting = pending_uploads(&shards).unwrap();
        waiting
            .is_empty()
            .then_some(())
            .ok_or(format!("{waiting:?} at height {}", height()))
    });
    assert!(height() > at + 3, "deleted only after the offer expired");
    assert!(!shard_file(&shards, &abandoned_root).exists());
    assert!(shard_file(&shards, &kept_root).exists());

    // With nothing waiting, the refused upload fits.
    upload_shard(&server, &refused, &me, 5, 100, height() + 3).expect("accepted now");
}

/// The agent reads all of a provider's deals, page after page: before, it read the API's first
/// page (100) and never proved a deal past it.
#[test]
fn the_provider_agent_reads_every_page_of_its_deals() {
    use depin_agent::storage::provider::read_provider_in_pages;

    let net = storage_net(5, 1_000);
    let device = &net.devices[0];
    let height = net.client.get("/v1/status").unwrap()["height"]
        .as_u64()
        .unwrap();
    let deals = (0..12u64)
        .map(|i| {
            let data = generated(100 + i, 2_000);
            let terms = DealTerms {
                client: net.buyer.address(),
                provider: device.address(),
                root: HeldShard::in_memory(data.clone()).tree.root,
                size: data.len() as u64,
                periods: 2,
                price_per_period: 100,
                valid_until_height: height + 100,
            };
            let provider_signature = terms.sign(CHAIN_ID, device);
            Action::from(OpenDeal {
                terms,
                provider_signature,
            })
        })
        .collect();
    send_all(&net.client, &net.buyer, deals);
    let p = read_provider_in_pages(&net.client, &device.address(), 5).unwrap();
    let ids: Vec<u64> = p["deals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (0..12).collect::<Vec<u64>>(), "{p}");
}
