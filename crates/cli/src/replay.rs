//! `depin replay`: re-execute every stored block from genesis and check the result.

use anyhow::{Context, Result};
use depin_node::Home;
use serde_json::json;

/// Runs `depin replay` on the store in `home` (the node must be stopped).
pub fn run(home: &Home, json_out: bool) -> Result<()> {
    let genesis = home.genesis()?;
    let store = depin_store::Store::open(&home.db_path()).with_context(|| {
        format!(
            "opening {} (stop the node first: the store allows one process at a time)",
            home.db_path().display()
        )
    })?;
    let report = depin_store::replay_from_genesis(&store, &genesis)?;
    if json_out {
        println!(
            "{}",
            json!({"blocks": report.blocks, "txs": report.txs, "app_hash": report.app_hash})
        );
    } else {
        println!(
            "replayed {} blocks ({} transactions) from genesis: app hash {} matches the store",
            report.blocks, report.txs, report.app_hash
        );
    }
    Ok(())
}
