//! Compute providers and the requester's side of the compute market: the deterministic frame
//! renderer a job's tasks run (`render.rs`), the frame store and its HTTP server (`outputs.rs`),
//! the provider fleet, honest or cheating (`provider.rs`), and the devnet's market (`devnet.rs`).

pub mod devnet;
pub mod outputs;
pub mod provider;
pub mod render;

pub use provider::{Behaviour, ComputeArgs, Fleet, run};
pub use render::{SceneSpec, frame_hash, render};
