//! depin-agent: reference device agents (simulated hotspots) and the client library a device
//! maker links to talk to a depin node.
//!
//! - [`client`]: the node's HTTP API, with binary batch submission;
//! - [`radio`]: the simulated radio (log-distance path loss, shadowing, sensitivity);
//! - [`hotspot`]: a fleet of simulated hotspots, honest or cheating, following the chain;
//! - [`devnet`]: the fleet the devnet starts, and its per-epoch summary.

pub mod client;
pub mod devnet;
pub mod hotspot;
pub mod radio;
