//! A BFT network on this machine: `depin init --validators N` writes a home per validator and
//! their peer list; `depin node` on such a home runs a simplex validator; `depin devnet` on it
//! starts the other validators as child processes beside validator 0.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};
use depin_bft::run::{Peer, write_peers};
use depin_core::{Genesis, Keypair};
use depin_node::Home;

/// First p2p port of a local BFT network (validator i listens on this + i).
pub const DEFAULT_P2P_PORT: u16 = 26600;

/// The homes of validators 1..N under `home` (validator 0's home is `home` itself).
pub fn validator_homes(home: &Home) -> Vec<Home> {
    let dir = home.root().join("validators");
    let mut homes: Vec<(u32, PathBuf)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let i: u32 = name.strip_prefix('v')?.parse().ok()?;
            Some((i, e.path()))
        })
        .collect();
    homes.sort();
    homes.into_iter().map(|(_, p)| Home::new(p)).collect()
}

/// Writes the peer list into `home` (validator 0) and a home per other validator: the same
/// genesis, its key as `validator`, the same peer list.
pub fn write_homes(
    home: &Home,
    genesis: &Genesis,
    first: &Keypair,
    others: &[Keypair],
    p2p_port: u16,
) -> Result<()> {
    let keys: Vec<&Keypair> = std::iter::once(first).chain(others).collect();
    let mut peers = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let port = u16::try_from(i)
            .ok()
            .and_then(|i| p2p_port.checked_add(i))
            .context("--p2p-port plus the number of validators is above 65535; choose a lower --p2p-port")?;
        peers.push(Peer {
            address: key.address(),
            p2p: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        });
    }
    write_peers(home, &peers).context("writing the peer list")?;
    for (i, key) in others.iter().enumerate() {
        let other = Home::new(home.root().join("validators").join(format!("v{}", i + 1)));
        std::fs::create_dir_all(other.root())
            .with_context(|| format!("creating {}", other.root().display()))?;
        other.write_genesis(genesis)?;
        other.save_key("validator", key)?;
        write_peers(&other, &peers).context("writing the peer list")?;
    }
    Ok(())
}

/// Prints where the validators' homes are and how to start them.
pub fn print_homes(home: &Home, genesis: &Genesis) {
    println!(
        "  {} validators (BFT, commonware simplex); validator 0 is this home, the others:",
        genesis.consensus.validators.len()
    );
    for other in validator_homes(home) {
        println!("    {}", other.root().display());
    }
    println!(
        "Start them all with: depin devnet --home {}   (or `depin node --home <each home> --api 127.0.0.1:0`)",
        home.root().display()
    );
}

/// Whether the node in `home` runs the BFT driver (its genesis lists validators, or it has a peer list).
pub fn is_bft(home: &Home) -> Result<bool> {
    // A solo genesis with a peer list runs on the BFT driver too (one validator at first), so
    // governance can grow its set at an epoch boundary.
    Ok(!home.genesis()?.consensus.validators.is_empty()
        || home.root().join(depin_bft::run::PEERS_FILE).is_file())
}

/// The other validators of a local BFT network, started as child processes of this binary;
/// stopped (SIGKILL) when dropped.
pub struct Others(Vec<Child>);

impl Drop for Others {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts `depin node` for every other validator home under `home`, logging to its home.
pub fn start_others(home: &Home) -> Result<Others> {
    let exe = std::env::current_exe().context("finding this binary to start the validators")?;
    let mut children = Vec::new();
    for other in validator_homes(home) {
        let log = std::fs::File::create(other.root().join("node.log"))
            .with_context(|| format!("creating {}/node.log", other.root().display()))?;
        let child = Command::new(&exe)
            .arg("--home")
            .arg(other.root())
            .args(["node", "--api", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting the validator in {}", other.root().display()))?;
        children.push(child);
    }
    Ok(Others(children))
}
