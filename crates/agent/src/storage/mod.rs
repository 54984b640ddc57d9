//! A storage provider agent: it keeps shards (on disk under its home, or in memory), follows
//! the chain, and answers each proving window's challenges with BLAKE3 inclusion proofs read
//! from the challenged chunk groups only; cheaters hold less and gamble.
//!
//! - `shards.rs`: what a provider holds of a shard, and answering challenges from it;
//! - `provider.rs`: the live provider following a node (`depin agent storage`);
//! - `erasure.rs`: Reed-Solomon coding of a file into shards (`depin storage put` / `get`);
//! - `retrieval.rs`: the provider's HTTP server (uploads, paid verified retrieval) and its client;
//! - `client.rs`: `put` and `get` (distinct providers, one deal a shard, a manifest);
//! - `devnet.rs`: the devnet's client and provider (deals for generated shards, then proofs);
//! - `measure.rs`: honest and cheating providers on the real state machine, in process, and
//!   what each earns (`depin agent storage --measure`).

pub mod client;
pub mod devnet;
pub mod erasure;
pub mod measure;
pub mod provider;
pub mod retrieval;
pub mod shards;

pub use measure::{Behaviour, MeasureArgs, Row, measure, table};
pub use provider::{ProviderArgs, actions_now, load_shards};
pub use shards::{Bytes, HeldShard, generated};
