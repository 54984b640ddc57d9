//! Connections that never finish a request (idle, or a byte at a time) against a real node on
//! 127.0.0.1 with small limits: the node closes them after its header-read timeout, and a
//! normal client is served meanwhile or as soon as they are gone. A body that never arrives is
//! refused at the request timeout, and requests past the concurrency limit are refused at once.
//! (`crates/cli/tests/fd_limit.rs` runs out of file descriptors before the connection limit.)

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{READ_BOUND, start};
use depin_node::{ApiLimits, MempoolLimits};

/// Idle connections opened: three times the connection limit below.
const IDLE_CONNECTIONS: usize = 24;

#[test]
fn idle_and_slow_connections_are_closed_and_others_are_served() {
    let limits = ApiLimits {
        header_read_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_secs(5),
        max_connections: 8,
        max_concurrent_requests: 8,
    };
    let node = start(MempoolLimits::default(), limits);
    let mut idle: Vec<TcpStream> = (0..IDLE_CONNECTIONS)
        .map(|_| TcpStream::connect(node.addr).expect("connect"))
        .collect();
    // A slowloris: a request head begun and never finished.
    let mut slow = TcpStream::connect(node.addr).expect("connect");
    slow.write_all(b"GET /v1/status HTTP/1.1\r\nHost: t")
        .unwrap();
    idle.push(slow);

    // A normal client retries (as told by Retry-After) until it is served; the loop is bounded
    // by READ_BOUND, far above the header-read timeout, so only a node that never frees its
    // connections fails it.
    let started = Instant::now();
    let served = loop {
        let mut s = TcpStream::connect(node.addr).expect("connect");
        s.set_read_timeout(Some(READ_BOUND)).unwrap();
        let _ = s.write_all(b"GET /v1/status HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        if raw.starts_with(b"HTTP/1.1 200") {
            break true;
        }
        if !raw.is_empty() {
            let a = common::parse(&raw);
            assert_eq!(a.status, 503, "{}", String::from_utf8_lossy(&raw));
            assert_eq!(a.error_code(), "busy");
        }
        if started.elapsed() > READ_BOUND {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(served, "a normal client was never served");

    // Every idle and slow connection was closed by the node (a read ends), not left open.
    for mut s in idle {
        s.set_read_timeout(Some(READ_BOUND)).unwrap();
        let mut buf = Vec::new();
        match s.read_to_end(&mut buf) {
            Ok(_) => {}
            Err(e) => assert!(
                e.kind() == std::io::ErrorKind::ConnectionReset,
                "an idle connection was left open: {e}"
            ),
        }
    }
}

/// Sends a complete head announcing a `length`-byte body, and none of the body.
fn begin_upload(addr: std::net::SocketAddr, length: usize) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(READ_BOUND)).unwrap();
    s.write_all(
        format!(
            "POST /v1/tx HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
        )
        .as_bytes(),
    )
    .expect("write the head");
    s
}

fn answer_of(mut s: TcpStream) -> common::Answer {
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    common::parse(&raw)
}

#[test]
fn a_body_that_never_arrives_is_refused_at_the_request_timeout() {
    let limits = ApiLimits {
        header_read_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_millis(500),
        max_connections: 8,
        max_concurrent_requests: 8,
    };
    let node = start(MempoolLimits::default(), limits);
    // A head that promises a body, then a few bytes of it and silence: the request is in
    // flight (it holds a concurrency permit) until the request timeout ends it.
    let a = answer_of(stalled_upload(node.addr));
    assert_eq!(a.status, 503, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.error_code(), "timeout");
    assert!(
        a.head.to_ascii_lowercase().contains("retry-after"),
        "{}",
        a.head
    );
}

#[test]
fn requests_past_the_concurrency_limit_are_refused_busy_not_queued() {
    let limits = ApiLimits {
        header_read_timeout: Duration::from_secs(5),
        // Long enough that the held requests are still in flight when the next one comes.
        request_timeout: Duration::from_secs(20),
        max_connections: 8,
        max_concurrent_requests: 2,
    };
    let node = start(MempoolLimits::default(), limits);
    // Two uploads that send their head and the body's first bytes, then stall: in flight, each
    // holding a permit, as in the request-timeout test. The node starts them in no set order,
    // so one of them may meet a permit held for a moment by this test's own probe below and be
    // refused itself; such an upload is opened again, until both hold a permit and a probe is
    // refused (all bounded by READ_BOUND).
    let mut held: Vec<TcpStream> = (0..2).map(|_| stalled_upload(node.addr)).collect();
    let started = Instant::now();
    let refused = loop {
        for s in held.iter_mut() {
            if answered(s) {
                *s = stalled_upload(node.addr);
            }
        }
        let a = common::get(node.addr, "/v1/status");
        if a.status == 503 {
            break a;
        }
        assert_eq!(a.status, 200);
        assert!(
            started.elapsed() < READ_BOUND,
            "a third request was never refused while two were in flight"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(refused.error_code(), "busy");
    assert!(
        refused.head.to_ascii_lowercase().contains("retry-after"),
        "{}",
        refused.head
    );
    // Once the held uploads end (here: the client gives up), the permits come back.
    drop(held);
    let started = Instant::now();
    while common::get(node.addr, "/v1/status").status != 200 {
        assert!(
            started.elapsed() < READ_BOUND,
            "the permits never came back after the held requests ended"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An upload that sends its head and the body's first bytes, then stalls.
fn stalled_upload(addr: std::net::SocketAddr) -> TcpStream {
    let mut s = begin_upload(addr, 1000);
    s.write_all(b"{\"chain_id\"").expect("a first body byte");
    s
}

/// Whether the node has answered (or closed) `s`, looking without waiting.
fn answered(s: &TcpStream) -> bool {
    s.set_nonblocking(true).expect("nonblocking");
    let mut byte = [0u8; 1];
    let seen = !matches!(s.peek(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    s.set_nonblocking(false).expect("blocking");
    seen
}
