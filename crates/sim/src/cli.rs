//! Command-line entry points for `depin sim` and `depin bench sim`.

use anyhow::{Result, bail};

/// Arguments of `depin sim`.
#[derive(clap::Args, Debug)]
pub struct SimArgs {}

/// Arguments of `depin bench sim`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {}

/// Run `depin sim`.
pub fn run(_args: &SimArgs, _json: bool) -> Result<()> {
    bail!("the simulator is being built")
}

/// Run `depin bench sim`.
pub fn bench(_args: &BenchArgs, _json: bool) -> Result<()> {
    bail!("the simulator is being built")
}
