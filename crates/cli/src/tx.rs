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
        /// Whole tokens, e.g. 12.5 (up to the token's decimals).
        #[arg(long, allow_hyphen_values = true)]
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
    let amount = parse_amount(amount, info.decimals, &info.symbol)?;
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

/// A positive amount of whole tokens, with an error that says what to type instead.
fn parse_amount(text: &str, decimals: u8, symbol: &str) -> Result<Amount> {
    if text.trim_start().starts_with('-') {
        anyhow::bail!(
            "--amount {text} is negative: give how many {symbol} to send as a positive number, e.g. --amount 12.5"
        );
    }
    let amount = Amount::parse(text, decimals).map_err(|e| {
        anyhow::anyhow!(
            "--amount {text} is not an amount of {symbol}: {e} (give whole tokens with at most {decimals} decimals, e.g. --amount 12.5)"
        )
    })?;
    if amount.is_zero() {
        anyhow::bail!(
            "--amount {text} is zero: give how many {symbol} to send, e.g. --amount 12.5"
        );
    }
    Ok(amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_that_are_negative_zero_or_too_precise_are_refused_with_what_to_type() {
        let e = parse_amount("-5", 6, "DPN").unwrap_err().to_string();
        assert!(e.contains("negative") && e.contains("--amount 12.5"), "{e}");
        let e = parse_amount("0", 6, "DPN").unwrap_err().to_string();
        assert!(e.contains("zero"), "{e}");
        let e = parse_amount("1.1234567", 6, "DPN").unwrap_err().to_string();
        assert!(e.contains("at most 6 decimals"), "{e}");
        assert_eq!(parse_amount("12.5", 6, "DPN").unwrap(), Amount(12_500_000));
    }
}
