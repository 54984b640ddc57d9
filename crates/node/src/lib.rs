//! The depin node: mempool, solo block driver, HTTP API and metrics around the protocol in
//! `depin-core` and the store in `depin-store`.
//!
//! Data flow: `POST /v1/tx` -> [`mempool`] (batch signature check, nonce order, limits) ->
//! [`node::spawn_solo_driver`] reaps a block every interval -> [`chain::Producer`] applies it and
//! commits it durably -> the API, `/v1/stream` and `/metrics` report it.

pub mod api;
pub mod batch;
pub mod chain;
pub mod compute_api;
pub mod coverage_api;
pub mod demand_api;
pub mod economy_api;
pub mod explorer_api;
pub mod governance_api;
pub mod home;
pub mod limits;
pub mod mapping_api;
pub mod mempool;
pub mod metrics;
pub mod modules;
pub mod node;
pub mod reply;
pub mod server;
pub mod storage_api;

use std::net::SocketAddr;
use std::sync::Arc;

pub use home::{Home, HomeError};
pub use limits::ApiLimits;
pub use mempool::MempoolLimits;
pub use node::Node;

/// How to run a node.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Address for the HTTP API; port 0 picks a free one (written to `<home>/api.url`).
    pub api_addr: SocketAddr,
    pub mempool: MempoolLimits,
    /// Timeouts and connection and request limits of the API.
    pub api: ApiLimits,
}

/// Errors that stop a node from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Home(#[from] HomeError),
    #[error(transparent)]
    Store(#[from] depin_store::StoreError),
    // `error` is not a `source`: the sentence says it once, and a caller printing the chain
    // of causes does not repeat it.
    #[error(
        "cannot listen on {addr}: {error}; is another node running? choose another port with --api"
    )]
    Bind {
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error(
        "another depin node is running on {home} (its store is locked{}); stop it (Ctrl-C in its terminal), talk to it with the CLI as it is, or use another --home",
        api.as_ref().map(|u| format!("; its API is at {u}")).unwrap_or_default()
    )]
    AlreadyRunning { home: String, api: Option<String> },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the block driver stopped: {0}")]
    Driver(String),
    #[error(
        "keys/validator.key holds {key}, but genesis.toml names {genesis} as the validator: blocks signed with this key would be invalid. Restore the original validator key, or start a new network with `depin init --force`"
    )]
    NotValidator { key: String, genesis: String },
}

/// Runs a node from a home directory until SIGINT/SIGTERM: opens the store, starts the solo
/// driver and the API, and on a signal stops both after the block in progress is committed.
/// `on_ready` is called with the API URL once it listens, and the node (a test stops it with
/// [`Node::request_shutdown`]).
pub async fn run(
    home: &Home,
    config: RunConfig,
    on_ready: impl FnOnce(&str, &Arc<Node>),
) -> Result<(), RunError> {
    let genesis = home.genesis()?;
    let validator = home.load_key("validator")?;
    if validator.address() != genesis.consensus.validator {
        return Err(RunError::NotValidator {
            key: validator.address().to_string(),
            genesis: genesis.consensus.validator.to_string(),
        });
    }
    let store = match depin_store::Store::open(&home.prepare_db()?) {
        Ok(store) => Arc::new(store),
        Err(e) if e.is_locked() => {
            return Err(RunError::AlreadyRunning {
                home: home.root().display().to_string(),
                api: home.api_url(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let (node, producer) = Node::open(genesis, store, validator, config.mempool)?;
    let listener = tokio::net::TcpListener::bind(config.api_addr)
        .await
        .map_err(|error| RunError::Bind {
            addr: config.api_addr,
            error,
        })?;
    let url = format!("http://{}", listener.local_addr()?);
    std::fs::write(home.api_url_path(), format!("{url}\n"))?;
    let driver = node::spawn_solo_driver(node.clone(), producer);
    on_ready(&url, &node);
    let app = api::router_with_limits(node.clone(), &config.api);
    let stopping = node.clone();
    server::serve(listener, app, &config.api, async move {
        tokio::select! {
            () = node::shutdown_signal() => {},
            () = stopping.stopped() => {},
        }
        stopping.request_shutdown();
    })
    .await?;
    node.request_shutdown();
    let _ = std::fs::remove_file(home.api_url_path());
    match tokio::task::spawn_blocking(move || driver.join()).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(RunError::Driver(e.to_string())),
        _ => Err(RunError::Driver("the driver thread panicked".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_validator_key_that_is_not_the_genesis_validator_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let named = depin_core::Keypair::from_seed([1; 32]);
        let genesis = depin_core::Genesis {
            chain_id: "wrong-key".into(),
            genesis_time_ms: 0,
            token: depin_core::genesis::TokenParams {
                symbol: "DPN".into(),
                decimals: 6,
            },
            consensus: depin_core::genesis::ConsensusParams {
                block_interval_ms: 100,
                epoch_length_blocks: 10,
                max_block_txs: 10,
                validator: named.address(),
                validators: Vec::new(),
            },
            allocations: vec![],
            economics: None,
            fees: None,
            modules: Default::default(),
        };
        home.write_genesis(&genesis).unwrap();
        home.save_key("validator", &depin_core::Keypair::from_seed([2; 32]))
            .unwrap();
        let config = RunConfig {
            api_addr: "127.0.0.1:0".parse().unwrap(),
            mempool: MempoolLimits::default(),
            api: ApiLimits::default(),
        };
        let err = run(&home, config, |_, _| panic!("must not start"))
            .await
            .unwrap_err();
        assert!(matches!(err, RunError::NotValidator { .. }), "{err}");
        assert!(
            !home.db_path().exists(),
            "nothing is written before the check"
        );
    }
}
