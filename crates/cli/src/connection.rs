//! Which home directory and which node a command works with: `--home` and `--node`, and their
//! defaults.

use std::path::{Path, PathBuf};

use depin_agent::client::Client;
use depin_node::Home;

/// Default API port of a local node.
pub const DEFAULT_API: &str = "127.0.0.1:8645";

/// The home directory: `--home`, else `~/.depin`.
pub fn home_of(home: Option<&Path>) -> Home {
    let root = home.map(Path::to_path_buf).unwrap_or_else(|| {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".depin")
    });
    Home::new(root)
}

/// A client of the node: `--node`, else the URL a node running in `home` wrote, else the
/// default local API. A `--node` without `http://` or `https://` is refused with the fix.
pub fn client_of(node: Option<&str>, home: &Home) -> anyhow::Result<Client> {
    if let Some(url) = node
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        anyhow::bail!("--node {url} is not a URL: add http:// (for example --node http://{url})");
    }
    let url = node
        .map(str::to_string)
        .or_else(|| home.api_url())
        .unwrap_or_else(|| format!("http://{DEFAULT_API}"));
    Ok(Client::new(&url))
}
