//! Hostile requests against a real node on 127.0.0.1: every refusal is a 4xx or 503 with the
//! API's JSON error shape, and none makes the node do unbounded work.

mod common;

use common::{funded, get, send, sign, start};
use depin_core::codec::Encode;
use depin_core::{Action, Amount, Keypair, Transaction};
use depin_node::{ApiLimits, MempoolLimits};

fn transfer(nonce: u64) -> Transaction {
    sign(
        &funded(),
        nonce,
        Action::Transfer {
            to: Keypair::from_seed([9; 32]).address(),
            amount: Amount(1),
        },
    )
}

#[test]
fn an_epoch_past_the_last_height_is_a_404_not_an_overflow() {
    let node = start(MempoolLimits::default(), ApiLimits::default());
    let device = Keypair::from_seed([5; 32]).address();
    for path in [
        "/v1/epochs/18446744073709551615".to_string(),
        "/v1/epochs/1844674407370955161".to_string(),
        format!("/v1/rewards/18446744073709551615/{device}"),
    ] {
        let a = get(node.addr, &path);
        assert_eq!(a.status, 404, "{path}");
        assert_eq!(a.error_code(), "unknown_epoch", "{path}");
    }
}

#[test]
fn extractor_refusals_use_the_json_error_shape() {
    let node = start(MempoolLimits::default(), ApiLimits::default());
    let a = get(node.addr, "/v1/devices?cell=8a2a1072b59ffff&k=-1");
    assert_eq!(a.status, 400);
    assert_eq!(a.error_code(), "bad_query");
    // %FF decodes to a byte that is not UTF-8.
    let a = get(node.addr, "/v1/blocks/%FF");
    assert_eq!(a.status, 400);
    assert_eq!(a.error_code(), "bad_path");
    let a = get(node.addr, &format!("/v1/rewards/1/%C0{}", "a"));
    assert_eq!(a.status, 400);
    assert_eq!(a.error_code(), "bad_path");
    let a = send(
        node.addr,
        b"POST /v1/tx HTTP/1.1\r\nContent-Type: application/json",
        b"{not json",
    );
    assert_eq!(a.status, 400);
    assert_eq!(a.error_code(), "malformed");
}

#[test]
fn a_batch_count_above_the_limit_is_refused_from_its_prefix() {
    let node = start(MempoolLimits::default(), ApiLimits::default());
    // Declares 16.7 M transactions in a 1 KiB body.
    let mut body = 16_700_000u32.to_le_bytes().to_vec();
    body.extend(std::iter::repeat_n(0u8, 1020));
    let a = send(
        node.addr,
        b"POST /v1/txs HTTP/1.1\r\nContent-Type: application/octet-stream",
        &body,
    );
    assert_eq!(a.status, 413);
    assert_eq!(a.error_code(), "too_large");
    assert!(
        a.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("16700000")
    );
}

#[test]
fn a_batch_refused_whole_for_a_full_mempool_is_a_503_with_retry_after() {
    let limits = MempoolLimits {
        max_txs: 1,
        ..MempoolLimits::default()
    };
    let node = start(limits, ApiLimits::default());
    let one = serde_json::to_vec(&transfer(0)).unwrap();
    let a = send(
        node.addr,
        b"POST /v1/tx HTTP/1.1\r\nContent-Type: application/json",
        &one,
    );
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    let batch = serde_json::to_vec(&vec![transfer(1), transfer(2)]).unwrap();
    let a = send(
        node.addr,
        b"POST /v1/txs HTTP/1.1\r\nContent-Type: application/json",
        &batch,
    );
    assert_eq!(a.status, 503, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.error_code(), "mempool_full");
    assert!(
        a.head.to_ascii_lowercase().contains("retry-after: 1"),
        "{}",
        a.head
    );
    // The binary form is refused the same way.
    let a = send(
        node.addr,
        b"POST /v1/txs HTTP/1.1\r\nContent-Type: application/octet-stream",
        &vec![transfer(1)].to_bytes(),
    );
    assert_eq!(a.status, 503);
}

#[test]
fn expect_continue_with_a_length_above_the_limit_gets_413_not_continue() {
    use std::io::{Read, Write};
    let node = start(MempoolLimits::default(), ApiLimits::default());
    let mut s = std::net::TcpStream::connect(node.addr).unwrap();
    s.set_read_timeout(Some(common::READ_BOUND)).unwrap();
    s.write_all(
        b"POST /v1/txs HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 200000000\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let mut first = [0u8; 12];
    s.read_exact(&mut first).unwrap();
    assert_eq!(
        &first,
        b"HTTP/1.1 413",
        "{}",
        String::from_utf8_lossy(&first)
    );
}
