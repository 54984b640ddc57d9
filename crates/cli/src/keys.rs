//! `depin keys ...`: signing keys in the home directory, and naming accounts by key name.

use anyhow::{Context, Result};
use clap::Subcommand;
use depin_core::{Address, Keypair};
use depin_node::Home;
use serde_json::{Value, json};

/// Subcommands of `depin keys`.
#[derive(Subcommand)]
pub enum KeysCmd {
    /// Generate a key and store it as <home>/keys/NAME.key (mode 0600).
    New { name: String },
    /// List keys with their addresses.
    List,
    /// Show a key's address (the secret is never printed).
    Show { name: String },
}

/// Runs `depin keys ...`.
pub fn run(home: &Home, cmd: &KeysCmd, json_out: bool) -> Result<()> {
    let print = |name: &str, address: &Address| {
        if json_out {
            println!("{}", json!({"name": name, "address": address}));
        } else {
            println!("{name:<12} {address}");
        }
    };
    match cmd {
        KeysCmd::New { name } => {
            let key = Keypair::generate();
            home.save_key(name, &key)?;
            print(name, &key.address());
        }
        KeysCmd::Show { name } => print(name, &home.load_key(name)?.address()),
        KeysCmd::List => {
            let keys = home.list_keys()?;
            if json_out {
                let list: Vec<Value> = keys
                    .iter()
                    .map(|(n, a)| json!({"name": n, "address": a}))
                    .collect();
                println!("{}", Value::Array(list));
            } else if keys.is_empty() {
                println!(
                    "no keys in {}; create one with `depin keys new NAME`",
                    home.keys_dir().display()
                );
            } else {
                for (n, a) in &keys {
                    print(n, a);
                }
            }
        }
    }
    Ok(())
}

/// An address, or the name of a key in the home directory. A text that starts like an address
/// but is not a whole one (a shortened `depin1abc…xyz`, a typo) is refused with what to do.
pub fn resolve(home: &Home, who: &str) -> Result<Address> {
    let looks_like_address = who.starts_with(&format!("{}1", depin_core::crypto::ADDRESS_PREFIX));
    if looks_like_address && !home.keys_dir().join(format!("{who}.key")).exists() {
        return who.parse().map_err(|_| incomplete_address(who));
    }
    Ok(home
        .load_key(who)
        .with_context(|| format!("'{who}' is neither an address nor a key name"))?
        .address())
}

fn incomplete_address(who: &str) -> anyhow::Error {
    let prefix = depin_core::crypto::ADDRESS_PREFIX;
    let data = who.len().saturating_sub(prefix.len() + 1);
    if who.contains('…') || who.contains("...") || data < 58 {
        anyhow::anyhow!(
            "'{who}' is an incomplete address: an address is '{prefix}1' and 58 more characters (this has {data}); copy it whole (`depin device list`, the explorer), or give a device's first characters to a query command"
        )
    } else {
        anyhow::anyhow!(
            "'{who}' is not a valid address: its checksum does not match (check for a typo) or it has the wrong length"
        )
    }
}

/// Like [`resolve`], but a device may also be named by the first characters of its address
/// (what the devnet prints shortened as `depin1abc…`), looked up on the node; an ambiguous or
/// unknown prefix is refused with the matches.
pub fn resolve_device(
    home: &Home,
    client: &depin_agent::client::Client,
    who: &str,
) -> Result<Address> {
    match resolve(home, who) {
        Ok(a) => Ok(a),
        Err(e) => {
            let prefix = who.split(['…', '.']).next().unwrap_or(who);
            let looks_like_address =
                prefix.starts_with(&format!("{}1", depin_core::crypto::ADDRESS_PREFIX));
            if !looks_like_address || prefix.len() < 10 {
                return Err(e);
            }
            let found = client.get(&format!("/v1/explorer/search?q={prefix}"))?;
            match found["kind"].as_str() {
                Some("device") | Some("account") => Ok(found["address"]
                    .as_str()
                    .unwrap_or_default()
                    .parse()
                    .context("the node answered a malformed address")?),
                Some("devices") => {
                    let list: Vec<&str> = found["addresses"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    anyhow::bail!(
                        "'{prefix}' starts the address of {}{} devices: type more characters. They are:\n  {}",
                        list.len(),
                        if found["truncated"] == true { "+" } else { "" },
                        list.join("\n  ")
                    )
                }
                _ => Err(e.context(format!(
                    "no device on {} has an address starting with '{prefix}'",
                    client.base()
                ))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shortened_or_mistyped_address_is_called_incomplete_not_a_missing_key() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().to_path_buf());
        let e = resolve(&home, "depin14kaz59…gt5eqe")
            .unwrap_err()
            .to_string();
        assert!(e.contains("incomplete address"), "{e}");
        let full = Keypair::from_seed([1; 32]).address().to_string();
        let mut typo = full.clone();
        typo.replace_range(20..21, if &full[20..21] == "q" { "p" } else { "q" });
        let e = resolve(&home, &typo).unwrap_err().to_string();
        assert!(e.contains("checksum"), "{e}");
        assert_eq!(resolve(&home, &full).unwrap().to_string(), full);
        let e = resolve(&home, "nobody").unwrap_err().to_string();
        assert!(e.contains("neither an address nor a key name"), "{e}");
    }
}
