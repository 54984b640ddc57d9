//! Runs one validator of a BFT network on a real machine: commonware's tokio runtime,
//! authenticated and encrypted p2p to the other validators at known addresses, the engine's
//! journal under the home directory, and the node's HTTP API.

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use commonware_cryptography::ChaCha20Poly1305;
use commonware_p2p::authenticated::lookup;
use commonware_p2p::{Address as PeerAddress, AddressableManager};
use commonware_runtime::{Quota, Runner, Supervisor};
use commonware_stream::cups::{self, Cups};
use commonware_stream::sake::{self, Sake};
use commonware_utils::ordered::Map;
use depin_core::{Address, Keypair};
use depin_node::node::Node;
use depin_node::{Home, RunConfig, api, node, server};

use crate::engine::{self, Channels, Timeouts};
use crate::peers::Directory;
use crate::{NAMESPACE, PublicKey, consensus_key, public_key, wire};

/// One validator of the network and where its p2p listens.
#[derive(Clone, Debug)]
pub struct Peer {
    pub address: Address,
    pub p2p: SocketAddr,
}

/// Why a validator could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Home(#[from] depin_node::home::HomeError),
    #[error(transparent)]
    Store(#[from] depin_store::StoreError),
    #[error(transparent)]
    Start(#[from] engine::StartError),
    #[error("peer {0} is listed twice in the peer list; list each validator once")]
    DuplicatePeer(Address),
    #[error("validator {0} has no p2p address in the peer list; add it to peers.toml")]
    NoAddress(Address),
    #[error("binding the API to {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Runs the validator whose key is the home's `validator` key until SIGINT/SIGTERM.
/// `on_ready` gets the API URL and the node once the API listens.
pub fn run_validator(
    home: &Home,
    peers: &[Peer],
    config: RunConfig,
    on_ready: impl FnOnce(&str, &Arc<Node>),
) -> Result<(), RunError> {
    let genesis = home.genesis()?;
    let key = home.load_key("validator")?;
    let me = peers
        .iter()
        .find(|p| p.address == key.address())
        .ok_or(RunError::NoAddress(key.address()))?
        .p2p;
    let mut directory = Vec::new();
    for peer in peers {
        let pk =
            public_key(&peer.address).ok_or(engine::StartError::BadValidatorKey(peer.address))?;
        directory.push((pk, PeerAddress::from(peer.p2p)));
    }
    let directory: Map<PublicKey, PeerAddress> = directory
        .try_into()
        .map_err(|_| RunError::DuplicatePeer(key.address()))?;
    let store = Arc::new(depin_store::Store::open(&home.prepare_db()?)?);
    let (node, producer) = Node::open(
        genesis,
        store,
        Keypair::from_seed(key.seed()),
        config.mempool.clone(),
    )?;
    let journal = home.root().join("consensus");
    let url_path = home.api_url_path();
    let runtime = commonware_runtime::tokio::Runner::new(
        commonware_runtime::tokio::Config::new().with_storage_directory(journal),
    );
    // peers.toml, every participant of the largest set the ledger allows, and this validator.
    let peer_limit = crate::peers::max_peers_per_set(peers.len());
    let peer_count = NonZeroUsize::new(peer_limit).expect("nonzero");
    let me_key =
        public_key(&key.address()).ok_or(engine::StartError::BadValidatorKey(key.address()))?;
    runtime.start(move |context| async move {
        let p2p = lookup::Config::local(
            Cups::<_, ChaCha20Poly1305>::new(
                Sake {
                    signer: consensus_key(&key),
                    synchrony_bound: Duration::from_secs(5),
                    max_handshake_age: Duration::from_secs(10),
                    version: sake::Version::V1,
                },
                cups::Version::V1,
            ),
            NAMESPACE,
            me,
            peer_count,
            wire::MAX_MESSAGE_BYTES as u32,
            NonZeroUsize::new(wire::P2P_MAILBOX).expect("nonzero"),
        );
        let (mut network, mut oracle) = lookup::Network::new(context.child("p2p"), p2p);
        // Set 0 is peers.toml (what a validator can reach before it knows any epoch); each
        // epoch's set (peers.toml plus the endpoints its participants registered on chain)
        // is tracked as its engine starts (`peers::Directory`).
        let _ = oracle.track(0, directory.clone());
        let peer_book = Directory::new(oracle.clone(), directory, me_key, peer_limit);
        let quota = Quota::per_second(NonZeroU32::new(wire::CHANNEL_RATE_PER_S).expect("nonzero"));
        let channels = Channels {
            votes: network.register(engine::VOTES, quota),
            certificates: network.register(engine::CERTIFICATES, quota),
            resolver: network.register(engine::RESOLVER, quota),
            blocks: network.register(engine::BLOCKS, quota),
            txs: network.register(engine::TXS, quota),
        };
        network.start();
        let running = engine::start_with_peers(
            context.child("validator"),
            node.clone(),
            producer,
            &key,
            "depin",
            Timeouts::default(),
            oracle,
            peer_book,
            channels,
        )?;
        let listener = tokio::net::TcpListener::bind(config.api_addr)
            .await
            .map_err(|source| RunError::Bind {
                addr: config.api_addr,
                source,
            })?;
        let url = format!("http://{}", listener.local_addr()?);
        std::fs::write(&url_path, format!("{url}\n"))?;
        on_ready(&url, &node);
        let app = api::router_with_limits(node.clone(), &config.api);
        let stopping = node.clone();
        let served = server::serve(listener, app, &config.api, async move {
            tokio::select! {
                () = node::shutdown_signal() => {},
                () = stopping.stopped() => {},
            }
            stopping.request_shutdown();
        })
        .await;
        node.request_shutdown();
        running.engine.abort();
        running.application.abort();
        let _ = std::fs::remove_file(&url_path);
        served.map_err(RunError::Io)
    })
}

/// The file in a validator's home listing every validator and its p2p address.
pub const PEERS_FILE: &str = "peers.toml";

#[derive(serde::Serialize, serde::Deserialize)]
struct PeersFile {
    peer: Vec<PeerEntry>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct PeerEntry {
    address: Address,
    p2p: SocketAddr,
}

/// Reads `peers.toml` from a home.
pub fn load_peers(home: &Home) -> Result<Vec<Peer>, PeersError> {
    let path = home.root().join(PEERS_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| PeersError::Read {
        path: path.clone(),
        source,
    })?;
    let file: PeersFile = toml::from_str(&text).map_err(|e| PeersError::Parse {
        path,
        message: e.to_string(),
    })?;
    Ok(file
        .peer
        .into_iter()
        .map(|p| Peer {
            address: p.address,
            p2p: p.p2p,
        })
        .collect())
}

/// Writes `peers.toml` into a home.
pub fn write_peers(home: &Home, peers: &[Peer]) -> std::io::Result<()> {
    let file = PeersFile {
        peer: peers
            .iter()
            .map(|p| PeerEntry {
                address: p.address,
                p2p: p.p2p,
            })
            .collect(),
    };
    let text = toml::to_string_pretty(&file).expect("a peer list always serializes");
    std::fs::write(home.root().join(PEERS_FILE), text)
}

/// Why the peer list could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PeersError {
    #[error(
        "reading {path}: {source}; a BFT validator's home needs it (`depin init --validators N` writes it)"
    )]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a valid peer list ([[peer]] address = \"...\", p2p = \"IP:PORT\"): {message}"
    )]
    Parse {
        path: std::path::PathBuf,
        message: String,
    },
}
