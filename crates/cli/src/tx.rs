//! `depin tx ...`: sign and submit token transfers.

use anyhow::Result;
use clap::Subcommand;
use depin_agent::client::Client;
use depin_core::{Action, Amount};
use depin_node::Home;

use crate::keys::resolve;
use crate::submit::{chain_info, send_action};

/// Subcommands of `depin tx`.
#[derive(Subcommand)]
pub enum TxCmd {
    /// Send tokens.
    Transfer {
        /// Name of the sending key in --home.
        #[arg(long)]
        from: String,
        /// Receiving address, or the name of a key in --home.
        #[arg(long)]
        to: String,
        /// Whole tokens, e.g. 12.5.
        #[arg(long)]
        amount: String,
        /// Nonce to use [default: the account's next nonce].
        #[arg(long)]
        nonce: Option<u64>,
        /// Return once the node accepts it, without waiting for a block.
        #[arg(long)]
        no_wait: bool,
    },
}

/// Runs `depin tx ...`.
pub fn run(home: &Home, client: &Client, cmd: &TxCmd, json_out: bool) -> Result<()> {
    let TxCmd::Transfer {
        from,
        to,
        amount,
        nonce,
        no_wait,
    } = cmd;
    let key = home.load_key(from)?;
    let to_label = to;
    let to = resolve(home, to)?;
    let info = chain_info(client)?;
    let amount = Amount::parse(amount, info.decimals)?;
    let sent = send_action(
        client,
        &info,
        &key,
        from,
        Action::Transfer { to, amount },
        *nonce,
        *no_wait,
        json_out,
    )?;
    if let Some(status) = sent
        && !json_out
    {
        println!(
            "sent {} {} from {from} to {to_label} in block {} (tx {}, {})",
            amount.display(info.decimals),
            info.symbol,
            status["height"],
            status["hash"].as_str().unwrap_or("?"),
            info.fee_of(&status)
        );
    }
    Ok(())
}
