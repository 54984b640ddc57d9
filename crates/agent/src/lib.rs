//! depin-agent: reference device agents (simulated hotspots, IoT fleets, a price oracle) and the
//! client library a device maker links to talk to a depin node.
//!
//! - [`client`]: the node's HTTP API, with binary batch submission;
//! - [`blocks`]: committed blocks with each transaction's outcome, and waiting for outcomes;
//! - [`market`]: the demand parameters, the ledger's oracle quote and an account's credits;
//! - [`radio`]: the simulated radio (log-distance path loss, shadowing, sensitivity);
//! - [`hotspot`]: a fleet of simulated hotspots, honest or cheating, following the chain;
//! - [`dashcam`]: simulated dashcams on a street grid, honest or cheating, and what each earns;
//! - [`oracle_feed`]: a price oracle submitting a seeded, mean-reverting random walk;
//! - [`storage`]: a storage provider keeping shards and proving them, and cheaters measured;
//! - [`fleet`]: IoT sensors whose operator buys credits and pays hotspots for their packets;
//! - [`gpu`]: compute providers rendering frames (honest or cheating) and the frame renderer;
//! - [`devnet`]: the agents the devnet starts, and its per-epoch summary.

pub mod attack;
pub mod blocks;
pub mod client;
pub mod dashcam;
pub mod devnet;
pub mod epoch_summary;
pub mod fleet;
pub mod gpu;
pub mod hotspot;
pub mod market;
pub mod oracle_feed;
pub mod radio;
pub mod storage;
