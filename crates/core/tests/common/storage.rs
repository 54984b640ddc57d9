//! Storage helpers shared by the module tests: a storage section on the demand test network,
//! providers, deal offers, and honest proofs built from a shard's bytes.

use depin_core::modules::storage::StorageView;
use depin_core::modules::storage::actions::{
    DealTerms, OpenDeal, Opening, RegisterProvider, SubmitStorageProof, sign_onboarding,
};
use depin_core::modules::storage::params::preset;
use depin_core::modules::storage::proof::{ShardTree, challenge_seed, challenged_chunks};
use depin_core::{Action, Genesis, Hash, Keypair};

use super::{CHAIN_ID, EPOCH_BLOCKS, Net, owner};

/// Blocks per proving window (10 deadlines in a 50-block epoch).
pub const WINDOW: u64 = 5;

/// Adds a `[storage]` section (the network must run demand).
pub fn with_storage(g: &mut Genesis) {
    g.modules.storage = Some(preset(WINDOW));
}

pub fn provider_key(i: u8) -> Keypair {
    super::hotspot(60 + i)
}

/// Deterministic shard bytes.
pub fn shard(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 10) as u8)
        .collect()
}

/// The price floor of a shard of `size` bytes, credits per period.
pub fn floor(net: &Net, size: u64) -> u128 {
    net.state
        .params()
        .modules
        .storage
        .as_ref()
        .unwrap()
        .price_floor(size)
}

/// Registration of `device` to the test owner.
pub fn register_action(device: &Keypair, capacity: u64) -> Action {
    Action::from(RegisterProvider {
        device: device.address(),
        capacity_bytes: capacity,
        device_signature: sign_onboarding(CHAIN_ID, &owner().address(), device),
    })
}

/// Terms for `data` at ten times the floor, valid for ten blocks.
pub fn terms(
    net: &Net,
    client: &Keypair,
    provider: &Keypair,
    data: &[u8],
    periods: u32,
) -> DealTerms {
    DealTerms {
        client: client.address(),
        provider: provider.address(),
        root: Hash(*blake3::hash(data).as_bytes()),
        size: data.len() as u64,
        periods,
        price_per_period: floor(net, data.len() as u64) * 10,
        valid_until_height: net.state.height() + 10,
    }
}

/// The deal the provider signed.
pub fn open_action(t: DealTerms, provider: &Keypair) -> Action {
    let provider_signature = t.sign(CHAIN_ID, provider);
    Action::from(OpenDeal {
        terms: t,
        provider_signature,
    })
}

/// The window of a deal in `period` (first and last height).
pub fn window(net: &Net, deal: u64, period: u64) -> (u64, u64) {
    let d = net.state.deal(deal).unwrap();
    let p = net.state.params().modules.storage.clone().unwrap();
    p.window(EPOCH_BLOCKS, period, d.deadline)
}

/// The honest proof of `deal` for `period` (its window must be open), from the shard's bytes.
pub fn proof(net: &Net, provider: &Keypair, deal: u64, period: u64, data: &[u8]) -> Action {
    let d = net.state.deal(deal).unwrap();
    let k = net
        .state
        .params()
        .modules
        .storage
        .as_ref()
        .unwrap()
        .challenges_per_window;
    let entropy = net
        .state
        .window_entropy(period, d.deadline)
        .expect("window open");
    let seed = challenge_seed(&entropy, &provider.address(), deal, period);
    let tree = ShardTree::build(data);
    let openings = challenged_chunks(&seed, d.size, k)
        .into_iter()
        .map(|c| {
            let r = tree.group_range(c);
            let (chunk, path) = tree.open(c, &data[r.start as usize..r.end as usize]);
            Opening { chunk, path }
        })
        .collect();
    Action::from(SubmitStorageProof {
        deal,
        period,
        openings,
    })
}
