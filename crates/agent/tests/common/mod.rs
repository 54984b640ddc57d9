//! A real node for the agent tests: started on 127.0.0.1 in a background thread.

use std::sync::Arc;
use std::time::Duration;

use depin_node::{Home, MempoolLimits, RunConfig};

/// Starts a node in `home` on a background thread; returns its API URL and its store.
pub fn start_node(home: &Home) -> (String, Arc<depin_store::Store>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let home = home.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let config = RunConfig {
            api_addr: "127.0.0.1:0".parse().expect("address"),
            mempool: MempoolLimits::default(),
        };
        runtime
            .block_on(depin_node::run(&home, config, |url, node| {
                tx.send((url.to_string(), node.store.clone()))
                    .expect("test waits for the url");
            }))
            .expect("node runs");
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the node starts")
}
