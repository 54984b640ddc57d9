//! Where a provider keeps the frames it rendered, named by their result hash, and the small
//! HTTP server on 127.0.0.1 that hands them to the requester (`GET /frames/<hash>.ppm`). The
//! requester checks each frame against the result hash the ledger verified, so it does not
//! matter which provider served it.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use depin_core::Hash;

/// Longest request line read, bytes.
const MAX_REQUEST_LINE: usize = 512;

/// The file of the frame whose result hash is `hash`.
pub fn frame_path(dir: &Path, hash: &Hash) -> PathBuf {
    dir.join(format!("{}.ppm", hash.to_hex()))
}

/// Keeps a rendered frame under its result hash.
pub fn store(dir: &Path, hash: &Hash, ppm: &[u8]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = frame_path(dir, hash);
    std::fs::write(&path, ppm).with_context(|| format!("writing {}", path.display()))
}

/// Serves `dir`'s frames on `addr` from a background thread; returns the address bound (port 0
/// picks a free one).
pub fn serve(dir: PathBuf, addr: SocketAddr) -> Result<SocketAddr> {
    let listener = TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
    let bound = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            // One slow client must not hold the others up for long.
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = answer(&dir, stream);
        }
    });
    Ok(bound)
}

fn answer(dir: &Path, mut stream: TcpStream) -> Result<()> {
    let mut line = String::new();
    BufReader::new(&stream)
        .take_line(&mut line)
        .context("reading the request")?;
    let path = line.split_whitespace().nth(1).unwrap_or("");
    let found = path
        .strip_prefix("/frames/")
        .and_then(|f| f.strip_suffix(".ppm"))
        .filter(|h| h.len() == 64)
        .and_then(|h| h.parse::<Hash>().ok())
        .and_then(|h| std::fs::read(frame_path(dir, &h)).ok());
    match found {
        Some(bytes) => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: image/x-portable-pixmap\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                bytes.len()
            )?;
            stream.write_all(&bytes)?;
        }
        None => {
            let body = "no such frame: ask for /frames/<result hash>.ppm\n";
            write!(
                stream,
                "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )?;
        }
    }
    Ok(())
}

/// Reading one bounded request line.
trait TakeLine {
    fn take_line(self, line: &mut String) -> std::io::Result<usize>;
}

impl<R: std::io::Read> TakeLine for BufReader<R> {
    fn take_line(self, line: &mut String) -> std::io::Result<usize> {
        let mut limited = BufReader::new(std::io::Read::take(self, MAX_REQUEST_LINE as u64));
        limited.read_line(line)
    }
}

/// Fetches the frame with result hash `hash` from a provider at `base` (`http://host:port`)
/// and checks it: `None` if that provider does not have it or sent other bytes.
pub fn fetch(base: &str, hash: &Hash) -> Result<Option<Vec<u8>>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let url = format!(
        "{}/frames/{}.ppm",
        base.trim_end_matches('/'),
        hash.to_hex()
    );
    let mut resp = agent
        .get(&url)
        .call()
        .with_context(|| format!("cannot reach the provider at {base}"))?;
    if resp.status().as_u16() != 200 {
        return Ok(None);
    }
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .context("reading a frame")?;
    Ok((super::render::frame_hash(&bytes) == *hash).then_some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_frame_is_served_by_its_hash_and_checked() {
        let dir = std::env::temp_dir().join(format!("depin-frames-{}", std::process::id()));
        let bytes = b"P6\n1 1\n255\n\x01\x02\x03".to_vec();
        let hash = super::super::render::frame_hash(&bytes);
        store(&dir, &hash, &bytes).unwrap();
        let addr = serve(dir.clone(), "127.0.0.1:0".parse().unwrap()).unwrap();
        let base = format!("http://{addr}");
        assert_eq!(fetch(&base, &hash).unwrap(), Some(bytes));
        assert_eq!(fetch(&base, &Hash::tagged("other", &[])).unwrap(), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
