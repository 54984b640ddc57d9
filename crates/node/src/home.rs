//! A node's home directory: genesis, keys, database, and the address of the running API.
//!
//! ```text
//! <home>/genesis.toml      network parameters and allocations
//! <home>/keys/<name>.key   one signing key per file, mode 0600 (folder 0700)
//! <home>/data/chain.redb   the store
//! <home>/api.url           written by a running node: where its API listens
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use depin_core::{Address, Genesis, Keypair};
use thiserror::Error;

/// Problems with a home directory, each saying what to do.
#[derive(Debug, Error)]
pub enum HomeError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no network in {0}: run `depin init --home {0}` (or `depin devnet`) first")]
    NotInitialized(PathBuf),
    #[error("{0} already holds a network; pass --force to overwrite it, or choose another --home")]
    AlreadyInitialized(PathBuf),
    #[error(
        "no key named '{name}' in {dir}: create it with `depin keys new {name}`, or list keys with `depin keys list`"
    )]
    NoSuchKey { name: String, dir: PathBuf },
    #[error("key '{0}' already exists; choose another name")]
    KeyExists(String),
    #[error("key name '{0}' must be 1 to 64 letters, digits, '-' or '_'")]
    BadKeyName(String),
    #[error("key file {path} is damaged: {why}")]
    BadKeyFile { path: PathBuf, why: String },
    /// The genesis file is wrong (the error is part of the message, not a separate cause, so
    /// it is printed once).
    #[error("{path}: {error}")]
    Genesis {
        path: PathBuf,
        error: depin_core::genesis::GenesisError,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> HomeError + '_ {
    move |source| HomeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The layout of one home directory.
#[derive(Clone, Debug)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    pub fn new(root: impl Into<PathBuf>) -> Home {
        Home { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn genesis_path(&self) -> PathBuf {
        self.root.join("genesis.toml")
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.root.join("keys")
    }

    pub fn db_path(&self) -> PathBuf {
        self.root.join("data").join("chain.redb")
    }

    pub fn api_url_path(&self) -> PathBuf {
        self.root.join("api.url")
    }

    pub fn is_initialized(&self) -> bool {
        self.genesis_path().exists()
    }

    /// Reads and validates the genesis file.
    pub fn genesis(&self) -> Result<Genesis, HomeError> {
        let path = self.genesis_path();
        if !path.exists() {
            return Err(HomeError::NotInitialized(self.root.clone()));
        }
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        Genesis::from_toml(&text).map_err(|error| HomeError::Genesis { path, error })
    }

    pub fn write_genesis(&self, genesis: &Genesis) -> Result<(), HomeError> {
        fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        let path = self.genesis_path();
        let text = format!(
            "# depin genesis: the network's parameters and initial balances.\n\
             # Amounts are whole tokens as decimal strings. Changing this file after the first\n\
             # block makes a different network: the node refuses to open the old data with it.\n\n{}",
            genesis.to_toml()
        );
        fs::write(&path, text).map_err(io(&path))
    }

    /// Creates the data folder and returns the database path.
    pub fn prepare_db(&self) -> Result<PathBuf, HomeError> {
        let path = self.db_path();
        let dir = path.parent().expect("db path has a parent");
        fs::create_dir_all(dir).map_err(io(dir))?;
        Ok(path)
    }

    fn key_path(&self, name: &str) -> Result<PathBuf, HomeError> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(HomeError::BadKeyName(name.to_string()));
        }
        Ok(self.keys_dir().join(format!("{name}.key")))
    }

    /// Writes a new key file readable only by its owner.
    pub fn save_key(&self, name: &str, key: &Keypair) -> Result<(), HomeError> {
        let path = self.key_path(name)?;
        if path.exists() {
            return Err(HomeError::KeyExists(name.to_string()));
        }
        let dir = self.keys_dir();
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        restrict(&dir, 0o700)?;
        let text = format!(
            "# depin signing key: keep this file secret.\naddress = \"{}\"\nsecret = \"{}\"\n",
            key.address(),
            hex::encode(key.seed())
        );
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path).map_err(io(&path))?;
        file.write_all(text.as_bytes()).map_err(io(&path))?;
        file.sync_all().map_err(io(&path))
    }

    /// Loads the key called `name`.
    pub fn load_key(&self, name: &str) -> Result<Keypair, HomeError> {
        let path = self.key_path(name)?;
        if !path.exists() {
            return Err(HomeError::NoSuchKey {
                name: name.to_string(),
                dir: self.keys_dir(),
            });
        }
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        let bad = |why: &str| HomeError::BadKeyFile {
            path: path.clone(),
            why: why.to_string(),
        };
        let secret = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("secret = "))
            .ok_or_else(|| bad("no `secret = \"...\"` line"))?
            .trim_matches('"');
        let mut seed = [0u8; 32];
        hex::decode_to_slice(secret, &mut seed).map_err(|_| bad("secret is not 64 hex digits"))?;
        let key = Keypair::from_seed(seed);
        let address_line = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("address = "));
        if let Some(addr) = address_line
            && addr.trim_matches('"') != key.address().to_string()
        {
            return Err(bad("the address line does not match the secret"));
        }
        Ok(key)
    }

    /// Names and addresses of all keys, sorted by name.
    pub fn list_keys(&self) -> Result<Vec<(String, Address)>, HomeError> {
        let dir = self.keys_dir();
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io(&dir))? {
            let path = entry.map_err(io(&dir))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("key") {
                continue;
            }
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            out.push((name.clone(), self.load_key(&name)?.address()));
        }
        out.sort();
        Ok(out)
    }

    /// The API address a running node wrote, if any.
    pub fn api_url(&self) -> Option<String> {
        fs::read_to_string(self.api_url_path())
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }
}

fn restrict(path: &Path, mode: u32) -> Result<(), HomeError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io(path))?;
    }
    let _ = mode;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_with_private_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let key = Keypair::generate();
        home.save_key("alice", &key).unwrap();
        assert_eq!(home.load_key("alice").unwrap().address(), key.address());
        assert!(matches!(
            home.save_key("alice", &key),
            Err(HomeError::KeyExists(_))
        ));
        assert!(matches!(
            home.load_key("bob"),
            Err(HomeError::NoSuchKey { .. })
        ));
        assert!(matches!(
            home.load_key("../x"),
            Err(HomeError::BadKeyName(_))
        ));
        assert_eq!(
            home.list_keys().unwrap(),
            vec![("alice".into(), key.address())]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(home.keys_dir().join("alice.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
