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

/// An address, or the name of a key in the home directory.
pub fn resolve(home: &Home, who: &str) -> Result<Address> {
    if who.starts_with(depin_core::crypto::ADDRESS_PREFIX) && who.len() > 20 {
        return Ok(who.parse()?);
    }
    Ok(home
        .load_key(who)
        .with_context(|| format!("'{who}' is neither an address nor a key name"))?
        .address())
}
