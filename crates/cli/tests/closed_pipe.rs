//! `depin ... | head -0`: the real binary writing into a pipe whose reader is gone ends quietly
//! (no panic, no backtrace), as Unix tools do.

#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

const DEPIN: &str = env!("CARGO_BIN_EXE_depin");

#[test]
fn writing_to_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    // The reader is gone before the binary starts: its first line of output hits a closed pipe.
    drop(reader);
    let out = Command::new(DEPIN)
        .args(["--home", &dir.path().display().to_string(), "init"])
        .env("RUST_BACKTRACE", "1")
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("backtrace"), "{stderr}");
    const SIGPIPE: i32 = 13;
    assert!(
        out.status.success() || out.status.signal() == Some(SIGPIPE),
        "{:?}: {stderr}",
        out.status
    );
}
