//! Storage on the devnet: a few providers (each keeps its shards as files under the home's
//! `storage/provider-N/`, proves them in every window and serves retrievals on 127.0.0.1, like
//! `depin agent storage --serve`), and a client that stores a sample file across them as
//! `depin storage put` does, then reads it back each epoch as `depin storage get` does (paying
//! for the verified bytes and repairing any shard whose deal was terminated).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use depin_core::modules::storage::actions::{AddCollateral, RegisterProvider, sign_onboarding};
use depin_core::services::demand::actions::BuyCredits;
use depin_core::{Action, Amount, Hash, Keypair};

use super::client::{Manifest, PutArgs, Repair, announced, get_and_repair, put, quiet};
use super::erasure::{DEFAULT_DATA_SHARDS, DEFAULT_PARITY_SHARDS};
use super::provider::{ProviderArgs, run};
use super::shards::generated;
use crate::client::{self, Client, Signer};

/// The name and size of the file the devnet's client stores.
pub const SAMPLE_NAME: &str = "devnet-sample.bin";
const SAMPLE_BYTES: usize = 1 << 20;
/// Capacity each provider registers, and its collateral in whole tokens.
const CAPACITY_BYTES: u64 = 1 << 30;
const COLLATERAL_TOKENS: u128 = 1_000;
/// Whole tokens the client burns for credits when it holds few.
const CLIENT_CREDIT_TOKENS: u128 = 1_000;
/// How long the client waits for enough providers to announce their retrieval servers.
const PATIENCE: Duration = Duration::from_secs(120);
/// Periods (epochs) the sample's deals run; the client stores it again when they end.
const SAMPLE_PERIODS: u32 = 1_000;

/// The key of the devnet's `i`-th storage provider, derived from its owner's.
pub fn provider_key(owner: &Keypair, i: usize) -> Keypair {
    Keypair::from_seed(
        Hash::tagged(
            "depin/devnet/storage-provider",
            &[&owner.seed(), &(i as u64).to_le_bytes()],
        )
        .0,
    )
}

/// Signs `actions` with consecutive nonces of `key`, submits them together and waits for their
/// block; fails with the node's reason for the first refused one.
fn send_all(client: &Client, signer: &Signer, key: &Keypair, actions: Vec<Action>) -> Result<()> {
    if actions.is_empty() {
        return Ok(());
    }
    let first = client.nonce(&key.address())?.unwrap_or(0);
    let txs: Vec<_> = actions
        .into_iter()
        .enumerate()
        .map(|(i, a)| signer.sign(key, first + i as u64, a))
        .collect();
    crate::devnet::commit_all(client, &txs)
}

/// Registers the providers `devices` of `owner` that are not yet (capacity and collateral).
fn register(client: &Client, signer: &Signer, owner: &Keypair, devices: &[Keypair]) -> Result<()> {
    let decimals = client.get("/v1/status")?["token"]["decimals"]
        .as_u64()
        .unwrap_or(0) as u32;
    let mut actions = Vec::new();
    for device in devices {
        if client
            .get_opt(&format!("/v1/storage/providers/{}", device.address()))?
            .is_some()
        {
            continue;
        }
        actions.push(Action::from(RegisterProvider {
            device: device.address(),
            capacity_bytes: CAPACITY_BYTES,
            device_signature: sign_onboarding(&signer.network.chain_id, &owner.address(), device),
        }));
        actions.push(Action::from(AddCollateral {
            device: device.address(),
            amount: Amount(COLLATERAL_TOKENS * 10u128.pow(decimals)),
        }));
    }
    send_all(client, signer, owner, actions)
}

/// Runs provider `device` (its shards under `dir`, its retrieval server on a free port of
/// 127.0.0.1, announced on the ledger) on its own thread until the process ends.
fn spawn_provider(url: String, home: PathBuf, dir: PathBuf, device: Keypair) {
    std::thread::Builder::new()
        .name("devnet-storage-provider".into())
        .spawn(move || {
            let args = ProviderArgs {
                shards: Some(dir),
                poll_ms: None,
                keep_per_mille: 1000,
                quiet: true,
                polls: 0,
                serve: Some("127.0.0.1:0".parse().expect("an address")),
                announce: None,
                max_pending_bytes: super::retrieval::DEFAULT_MAX_PENDING_BYTES,
            };
            if let Err(e) = run(&args, &url, &home, &device, false)
                && !client::is_unreachable(&e)
            {
                println!(
                    "devnet storage provider {} stopped: {e:#}",
                    device.address()
                );
            }
        })
        .expect("spawning a storage provider thread");
}

/// The sample's manifest under `manifests`, stored first if there is none or its deals ended.
fn sample(client: &Client, key: &Keypair, manifests: &Path) -> Result<(Manifest, bool)> {
    if let Ok(m) = Manifest::load(manifests, SAMPLE_NAME) {
        let live = m.shards.iter().any(|e| {
            e.deal.is_some_and(|d| {
                client
                    .get(&format!("/v1/storage/deals/{d}"))
                    .is_ok_and(|d| d["status"] == "active" || d["status"] == "faulty")
            })
        });
        if live {
            return Ok((m, false));
        }
    }
    let args = PutArgs {
        data_shards: DEFAULT_DATA_SHARDS,
        parity_shards: DEFAULT_PARITY_SHARDS,
        periods: SAMPLE_PERIODS,
        price: None,
        providers: Vec::new(),
    };
    let data = generated(0, SAMPLE_BYTES);
    let m = put(client, key, SAMPLE_NAME, &data, &args)?;
    m.save(manifests)?;
    Ok((m, true))
}

/// Sets up the devnet's storage (`providers` providers of `owner`, a client `key` paying for the
/// sample file) and runs until the process ends.
pub fn run_devnet(
    url: &str,
    home: &Path,
    owner: &Keypair,
    key: &Keypair,
    providers: usize,
) -> Result<()> {
    let client = Client::new(url);
    let signer = Signer::fetch(&client)?;
    let chain_id = signer.network.chain_id.clone();
    let devices: Vec<Keypair> = (0..providers).map(|i| provider_key(owner, i)).collect();
    register(&client, &signer, owner, &devices)?;
    for (i, device) in devices.into_iter().enumerate() {
        let dir = home.join("storage").join(format!("provider-{i}"));
        spawn_provider(url.to_string(), home.to_path_buf(), dir, device);
    }
    let decimals = client.get("/v1/status")?["token"]["decimals"]
        .as_u64()
        .unwrap_or(0) as u32;
    let credits: u128 = client
        .get_opt(&format!("/v1/credits/{}", key.address()))?
        .and_then(|c| c["spendable_on_fees"].as_str().and_then(|b| b.parse().ok()))
        .unwrap_or(0);
    if credits == 0 {
        let buy = Action::from(BuyCredits {
            tokens: Amount(CLIENT_CREDIT_TOKENS * 10u128.pow(decimals)),
            min_credits: 0,
            to: key.address(),
        });
        send_all(&client, &signer, key, vec![buy])?;
    }
    let needed = DEFAULT_DATA_SHARDS + DEFAULT_PARITY_SHARDS;
    let started = Instant::now();
    while announced(&client)?.len() < needed {
        if started.elapsed() > PATIENCE {
            bail!(
                "fewer than {needed} storage providers announced a retrieval server in {} s",
                PATIENCE.as_secs()
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let manifests = home.join("manifests");
    let (mut manifest, stored) = sample(&client, key, &manifests)?;
    if stored {
        println!(
            "devnet storage: stored {SAMPLE_NAME} ({SAMPLE_BYTES} B) as {} + {} shards with {} providers; id {} (`depin storage get {SAMPLE_NAME} --client alice -o copy.bin`)",
            manifest.data_shards,
            manifest.parity_shards,
            manifest.shards.len(),
            manifest.root
        );
    }
    let args = PutArgs {
        data_shards: manifest.data_shards,
        parity_shards: manifest.parity_shards,
        periods: SAMPLE_PERIODS,
        price: None,
        providers: Vec::new(),
    };
    let mut last_epoch = client.get("/v1/status")?["epoch"].as_u64().unwrap_or(0);
    client::keep_running("devnet storage client", Duration::from_secs(5), || {
        let epoch = client.get("/v1/status")?["epoch"].as_u64().unwrap_or(0);
        if epoch == last_epoch {
            std::thread::sleep(Duration::from_secs(2));
            return Ok(());
        }
        last_epoch = epoch;
        let (data, reports, repair) =
            get_and_repair(&client, &chain_id, key, &manifest, &args, &quiet)?;
        let served: u64 = reports.iter().map(|r| r.paid).sum();
        let failed = reports.iter().filter(|r| r.failure.is_some()).count();
        let repaired = match repair {
            Repair::NotNeeded => String::new(),
            Repair::Done(m, fixed) => {
                m.save(&manifests)?;
                manifest = m;
                format!("; shards {fixed:?} moved to new providers")
            }
            Repair::Failed(lost, why) => format!("; shards {lost:?} lost, not moved yet: {why}"),
        };
        println!(
            "devnet storage: read back {SAMPLE_NAME} ({} B, verified) from {} shards, {served} B paid{}{repaired}",
            data.len(),
            reports.len() - failed,
            if failed > 0 {
                format!(", {failed} shards failed")
            } else {
                String::new()
            }
        );
        Ok(())
    });
    Ok(())
}

/// Starts [`run_devnet`] on a background thread; a failure is printed, not fatal to the node.
pub fn spawn(url: String, home: PathBuf, owner: Keypair, key: Keypair, providers: usize) {
    std::thread::Builder::new()
        .name("devnet-storage".into())
        .spawn(move || {
            if let Err(e) = run_devnet(&url, &home, &owner, &key, providers)
                && !client::is_unreachable(&e)
            {
                println!("devnet storage stopped: {e:#}");
            }
        })
        .expect("spawning the storage thread");
}
