//! `depin`: the command line for running a depin network and talking to it.
//!
//! This file holds the command tree and its dispatch; each command group lives in its own module,
//! and what several share is in [`connection`] (home directory and node) and [`submit`] (signing
//! and submitting transactions).

use std::path::PathBuf;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use connection::{client_of, home_of};

/// mimalloc instead of the system allocator: the ledger's hot path allocates many small keys and
/// records, and glibc's malloc/free took about a fifth of a block's time (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: its number in the `mi_option_t` of the mimalloc v3 header
/// that `libmimalloc-sys` 0.1.49 (pinned in Cargo.lock) builds. The test
/// `the_purge_delay_option_is_the_one_we_mean` checks it still names an option whose default is
/// mimalloc's purge delay.
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

unsafe extern "C" {
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    #[cfg(test)]
    fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
}

/// Keeps freed memory for reuse instead of returning it to the OS a second after it is freed
/// (mimalloc's default). Each block allocates and frees its write set, receipts and index
/// buffers (megabytes at a time); memory given back is faulted in and zeroed again by the kernel
/// on the next block, which took about a twentieth of a mapping block's time (BENCHMARKS.md).
/// The node's memory then stays at its peak, as a ledger's state mostly grows.
fn keep_freed_memory() {
    // SAFETY: sets an integer option of the allocator this binary links; any value is valid.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

/// Backs the process's memory with 4 KiB pages instead of transparent huge pages. mimalloc asks
/// the kernel for huge pages on its arenas, and the kernel then zeroes 2 MiB at the first touch
/// of any byte of one: the mapping bench faulted in 2.7 GB for a peak of 1.5 GB, and zeroing it
/// took about a sixth of the node's CPU while blocks ran. With small pages the faults come to
/// the peak and the bench is about 1.2x faster (BENCHMARKS.md, session 30). The flag is the
/// kernel's, checked at each fault, so it also covers memory mapped before `main`.
fn no_transparent_huge_pages() {
    // SAFETY: `prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)` only sets a flag of this process. It can
    // fail on a kernel without the option; huge pages then stay, which is slower, not wrong.
    #[cfg(target_os = "linux")]
    let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

mod agent;
mod bench;
mod compute;
mod connection;
mod credits;
mod device;
mod gov;
mod gov_devnet;
mod init;
mod keys;
mod mapping;
mod oracle;
mod query;
mod replay;
mod serve;
mod storage;
mod submit;
mod testnet;
mod tx;

#[derive(Parser)]
#[command(
    name = "depin",
    version,
    about = "Run and use a depin network: a ledger that pays hardware for proven service."
)]
struct Cli {
    /// Node home directory (genesis, keys, data) [default: ~/.depin].
    #[arg(long, global = true, env = "DEPIN_HOME")]
    home: Option<PathBuf>,
    /// URL of the node's API [default: the one a node in --home wrote, else http://127.0.0.1:8645].
    #[arg(long, global = true, env = "DEPIN_NODE")]
    node: Option<String>,
    /// Print JSON for scripts instead of human-readable text.
    #[arg(long, global = true)]
    json: bool,
    /// Most a transaction may pay, in fee units (credits on a network with demand, token base
    /// units otherwise) [default: twice what it costs at the current base fee; see `depin query fees`].
    #[arg(long, global = true, env = "DEPIN_MAX_FEE")]
    max_fee: Option<u64>,
    /// Fee units a transaction pays above the base fee for priority when blocks are full
    /// (burned like the rest).
    #[arg(long, global = true, default_value_t = 0)]
    tip: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new network in --home: genesis file, validator key and funded dev keys.
    Init(init::InitArgs),
    /// Run the node of the network in --home until Ctrl-C.
    Node(serve::NodeArgs),
    /// Create a local network if --home has none, then run it with simulated hotspots: the
    /// quickest way to try depin.
    Devnet(serve::DevnetArgs),
    /// Manage signing keys in --home.
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// Sign and submit transactions.
    #[command(subcommand)]
    Tx(tx::TxCmd),
    /// Read the chain.
    #[command(subcommand)]
    Query(query::QueryCmd),
    /// Re-execute every stored block from genesis and check the result (node must be stopped).
    Replay,
    /// Onboard and manage devices (hotspots) and list them.
    #[command(subcommand)]
    Device(device::DeviceCmd),
    /// Buy credits with tokens and delegate them to payers (demand module).
    #[command(subcommand)]
    Credits(credits::CreditsCmd),
    /// Submit and show the token's USD price, and change the oracle set (demand module).
    #[command(subcommand)]
    Oracle(oracle::OracleCmd),
    /// Post render jobs, follow them, judge and fetch their frames (compute module).
    #[command(subcommand)]
    Compute(compute::ComputeCmd),
    /// Street-level mapping: cell and area freshness, dashcams, bounties (mapping module).
    #[command(subcommand)]
    Map(mapping::MapCmd),
    /// Proposals and votes: change parameters, the oracle set, denylists, the treasury and the
    /// validator set (governance).
    #[command(subcommand)]
    Gov(gov::GovCmd),
    /// Lock, delegate, unbond and withdraw stake (governance).
    #[command(subcommand)]
    Stake(gov::StakeCmd),
    /// Storage providers, offers and deals (storage module).
    #[command(subcommand)]
    Storage(storage::StorageCmd),
    /// Run simulated device agents against a node.
    #[command(subcommand)]
    Agent(agent::AgentCmd),
    /// Run an economic simulation of a network (scenario TOML in, CSV/JSON/SVG/HTML out).
    Sim(depin_sim::cli::SimArgs),
    /// Measure performance on this machine.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
}

/// Restores the default action of SIGPIPE (end the process) that the Rust runtime replaces with
/// "ignore": `depin ... | head` then ends quietly when `head` stops reading, like other Unix
/// tools, instead of panicking in `println!` (and printing a backtrace with RUST_BACKTRACE=1).
fn quit_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called first in `main`, before any thread exists; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Commands that never talk to a node's API: `--node`, `--max-fee` and `--tip` mean nothing to
/// them (`node` and `devnet` serve their own API at `--api`).
const OFFLINE_COMMANDS: [&str; 7] = ["init", "node", "devnet", "keys", "replay", "sim", "bench"];

/// The global options only commands that talk to a node use.
const CLIENT_OPTIONS: [(&str, &str); 3] = [
    ("node", "--node"),
    ("max_fee", "--max-fee"),
    ("tip", "--tip"),
];

/// The command tree, with the client options hidden from the help of offline commands: each
/// of those defines its own hidden copy (same id, flag and type), which clap then propagates to
/// its subcommands in place of the listed global one.
fn command() -> clap::Command {
    use clap::{Arg, value_parser};
    fn hidden(c: clap::Command) -> clap::Command {
        c.arg(
            Arg::new("node")
                .long("node")
                .global(true)
                .hide(true)
                .env("DEPIN_NODE"),
        )
        .arg(
            Arg::new("max_fee")
                .long("max-fee")
                .global(true)
                .hide(true)
                .env("DEPIN_MAX_FEE")
                .value_parser(value_parser!(u64)),
        )
        .arg(
            Arg::new("tip")
                .long("tip")
                .global(true)
                .hide(true)
                .default_value("0")
                .value_parser(value_parser!(u64)),
        )
    }
    let mut cmd = Cli::command();
    for name in OFFLINE_COMMANDS {
        cmd = cmd.mut_subcommand(name, hidden);
    }
    cmd
}

/// Parses the command line; a client option typed on an offline command is an error saying so
/// (from the environment, `DEPIN_NODE` and the like, it is ignored there).
fn parse(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Cli, clap::Error> {
    let mut cmd = command();
    let matches = cmd.try_get_matches_from_mut(args)?;
    if let Some(name) = matches
        .subcommand_name()
        .filter(|n| OFFLINE_COMMANDS.contains(n))
    {
        for (id, flag) in CLIENT_OPTIONS {
            if matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine) {
                let hint = if matches!(name, "node" | "devnet") {
                    format!("; its own API address is `depin {name} --api`")
                } else {
                    String::new()
                };
                return Err(cmd.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("{flag} is for commands that talk to a node, and `depin {name}` does not{hint}"),
                ));
            }
        }
    }
    Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
}

fn main() {
    keep_freed_memory();
    no_transparent_huge_pages();
    quit_quietly_on_closed_pipe();
    let cli = parse(std::env::args_os()).unwrap_or_else(|e| e.exit());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let home = home_of(cli.home.as_deref());
    let node = cli.node.clone();
    if let Err(e) = run(cli) {
        let text = format!("{e:#}");
        let text = match token_of(node.as_deref(), &home, &text) {
            Some((decimals, symbol)) => with_tokens(&text, decimals, &symbol),
            None => text,
        };
        eprintln!("error: {text}");
        std::process::exit(1);
    }
}

/// The token's decimals and symbol, asked of the node only when `text` has amounts in base units
/// to translate.
fn token_of(node: Option<&str>, home: &depin_node::Home, text: &str) -> Option<(u8, String)> {
    if !text.contains(" base units") {
        return None;
    }
    let status = client_of(node, home).ok()?.get("/v1/status").ok()?;
    let decimals = u8::try_from(status["token"]["decimals"].as_u64()?).ok()?;
    Some((decimals, status["token"]["symbol"].as_str()?.to_string()))
}

/// `text` with each "N base units" followed by the same amount in tokens: "N base units (X DPN)".
fn with_tokens(text: &str, decimals: u8, symbol: &str) -> String {
    const UNIT: &str = " base units";
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    while let Some(at) = rest.find(UNIT) {
        let before = &rest[..at];
        let digits = before.len() - before.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        out.push_str(&rest[..at + UNIT.len()]);
        if digits > 0
            && let Ok(n) = before[before.len() - digits..].parse::<u128>()
        {
            let tokens = depin_core::Amount(n).display(decimals);
            out.push_str(&format!(" ({tokens} {symbol})"));
        }
        rest = &rest[at + UNIT.len()..];
    }
    out.push_str(rest);
    out
}

fn run(cli: Cli) -> Result<()> {
    let home = home_of(cli.home.as_deref());
    let client = || client_of(cli.node.as_deref(), &home);
    submit::FEE_CHOICE
        .set((cli.max_fee, cli.tip))
        .expect("run is called once");
    match &cli.command {
        Command::Init(args) => init::run(&home, args, cli.json),
        Command::Node(args) => serve::node(&home, args),
        Command::Devnet(args) => serve::devnet(&home, args),
        Command::Device(cmd) => device::run(&home, &client()?, cmd, cli.json),
        Command::Credits(cmd) => credits::run(&home, &client()?, cmd, cli.json),
        Command::Oracle(cmd) => oracle::run(&home, &client()?, cmd, cli.json),
        Command::Compute(cmd) => compute::run(&home, &client()?, cmd, cli.json),
        Command::Map(cmd) => mapping::run(&home, &client()?, cmd, cli.json),
        Command::Gov(cmd) => gov::run(&home, &client()?, cmd, cli.json),
        Command::Stake(cmd) => gov::run_stake(&home, &client()?, cmd, cli.json),
        Command::Storage(cmd) => storage::run(&home, &client()?, cmd, cli.json),
        Command::Agent(cmd) => agent::run(&home, &client()?, cmd, cli.json),
        Command::Keys(cmd) => keys::run(&home, cmd, cli.json),
        Command::Tx(cmd) => tx::run(&home, &client()?, cmd, cli.json),
        Command::Query(cmd) => query::run(&home, &client()?, cmd, cli.json),
        Command::Replay => replay::run(&home, cli.json),
        Command::Sim(args) => depin_sim::cli::run(args, cli.json),
        Command::Bench(cmd) => bench::run(cmd, cli.json),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn huge_pages_are_turned_off_for_the_process() {
        super::no_transparent_huge_pages();
        // SAFETY: reads a flag of this process.
        let disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(
            disabled, 1,
            "transparent huge pages are still on for the process"
        );
    }

    #[test]
    fn the_purge_delay_option_is_the_one_we_mean() {
        // mimalloc v3's purge delay defaults to 1,000 ms; the options around it do not.
        // SAFETY: reads an integer option of the linked allocator.
        let default = unsafe { super::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(
            default,
            1_000,
            "option {} is not mimalloc's purge delay: update MI_OPTION_PURGE_DELAY for this mimalloc",
            super::MI_OPTION_PURGE_DELAY
        );
    }

    use super::*;

    fn help_of(path: &[&str]) -> String {
        let mut cmd = command();
        cmd.build();
        let mut c = &mut cmd;
        for name in path {
            c = c.find_subcommand_mut(name).expect("a subcommand");
        }
        c.render_help().to_string()
    }

    #[test]
    fn client_options_are_listed_only_where_they_work() {
        for offline in [
            &["init"][..],
            &["devnet"],
            &["keys", "list"],
            &["sim"],
            &["bench", "epoch"],
        ] {
            let help = help_of(offline);
            for flag in ["--node", "--max-fee", "--tip"] {
                assert!(!help.contains(flag), "{offline:?} lists {flag}:\n{help}");
            }
            assert!(help.contains("--home"), "{offline:?}");
        }
        for client in [
            &["query", "status"][..],
            &["tx", "transfer"],
            &["device", "onboard"],
        ] {
            assert!(help_of(client).contains("--node"), "{client:?}");
        }
        let args = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        let err = parse(args(&["depin", "devnet", "--node", "http://127.0.0.1:1"]))
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains("--node is for commands that talk to a node, and `depin devnet` does not; its own API address is `depin devnet --api`"),
            "{err}"
        );
        assert!(
            parse(args(&[
                "depin", "sim", "x.toml", "--out", "o", "--tip", "3"
            ]))
            .is_err()
        );
        assert!(
            parse(args(&[
                "depin",
                "--node",
                "http://127.0.0.1:1",
                "query",
                "status"
            ]))
            .is_ok()
        );
    }

    #[test]
    fn base_units_in_an_error_are_also_given_in_tokens() {
        let text = "node refused (422 insufficient_funds): balance 1000000000000 base units is less than the 99999999000000 base units needed";
        assert_eq!(
            with_tokens(text, 6, "DPN"),
            "node refused (422 insufficient_funds): balance 1000000000000 base units (1000000 DPN) is less than the 99999999000000 base units (99999999 DPN) needed"
        );
        assert_eq!(
            with_tokens("fees in base units of DPN", 6, "DPN"),
            "fees in base units of DPN"
        );
    }
}
