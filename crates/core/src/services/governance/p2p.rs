//! Where each validator's p2p endpoint is, on chain: a candidate or validator registers its
//! `host:port` with a transaction signed by its key (which is also its p2p identity key), so
//! every validator can build an epoch's p2p peer set from the validator set in state instead of
//! a hand-written `peers.toml`.

use crate::crypto::Address;
use crate::module::{Module, module_key};
use crate::rejection::Rejection;
use crate::state::{State, StateRead};

use super::Governance;
use super::records::GovernanceView;
use super::reject::GovernanceRejection as R;

/// Table of registered p2p endpoints by validator address (governance's prefix).
const P2P: u8 = 67;

/// Longest endpoint, bytes: a 253-byte DNS name (or a bracketed IPv6 address), `:` and a port.
pub const MAX_P2P_BYTES: u32 = 261;

fn p2p_key(who: &Address) -> Vec<u8> {
    module_key(Governance::ID, P2P, &[&who.0])
}

/// The p2p endpoint `who` registered (`host:port`), if any.
pub fn p2p_endpoint_of<S: StateRead>(state: &S, who: &Address) -> Option<String> {
    state.get(&p2p_key(who))
}

/// Checks an endpoint's form without resolving anything (the same answer on every machine):
/// `host:port` with a port from 1 to 65535 and a host that is an IPv4 address, a bracketed IPv6
/// address or a DNS name (labels of 1 to 63 letters, digits or inner hyphens, 253 bytes at
/// most). Says what is wrong otherwise.
pub fn check_p2p_endpoint(text: &str) -> Result<(), String> {
    if text.len() > MAX_P2P_BYTES as usize {
        return Err(format!("it is longer than {MAX_P2P_BYTES} bytes"));
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err("it has no `:port`; write host:port, such as 203.0.113.7:26600".into());
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 && !port.starts_with('+') => {}
        _ => return Err(format!("`{port}` is not a port from 1 to 65535")),
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner
            .parse::<std::net::Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| format!("`{inner}` is not an IPv6 address"));
    }
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return Ok(());
    }
    if host.is_empty() || host.len() > 253 {
        return Err("the host is empty or longer than 253 bytes".into());
    }
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "`{host}` is not an IPv4 address, a bracketed IPv6 address or a DNS name"
            ));
        }
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!("`{host}` is not a valid IPv4 address"));
    }
    Ok(())
}

/// `who` registers its p2p endpoint (`p2p` empty: removes it). Only a declared candidate or a
/// member of the validator set may: the table stays bounded by the candidacy limit plus the set.
pub fn set_p2p_endpoint(state: &mut State, who: &Address, p2p: &str) -> Result<(), Rejection> {
    if p2p.len() > MAX_P2P_BYTES as usize {
        return Err(R::FieldTooLong {
            field: "p2p".into(),
            max: MAX_P2P_BYTES,
        }
        .into());
    }
    if p2p.is_empty() {
        state.with_writer(Governance::ID, |s| s.put_raw(p2p_key(who), None));
        return Ok(());
    }
    check_p2p_endpoint(p2p).map_err(|why| R::BadP2pEndpoint { why })?;
    let member =
        state.candidacy_of(who).is_some() || state.validators().iter().any(|v| v.address == *who);
    if !member {
        return Err(R::NotAValidatorOrCandidate {}.into());
    }
    state.with_writer(Governance::ID, |s| s.put(p2p_key(who), &p2p.to_string()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_p2p_endpoint;

    #[test]
    fn endpoints_are_host_and_port() {
        for ok in [
            "127.0.0.1:26600",
            "203.0.113.7:1",
            "[::1]:26600",
            "[2001:db8::7]:65535",
            "validator-1.example.org:26600",
            "localhost:9",
        ] {
            assert_eq!(check_p2p_endpoint(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "127.0.0.1",
            "127.0.0.1:0",
            "127.0.0.1:65536",
            "127.0.0.1:+5",
            ":26600",
            "::1:26600",
            "[::1:26600",
            "-bad.example:1",
            "a..b:1",
            "under_score.example:1",
            "999.1.1.1:1",
            "host name:1",
        ] {
            assert!(check_p2p_endpoint(bad).is_err(), "{bad}");
        }
        let long = format!("{}.org:1", "a".repeat(260));
        assert!(check_p2p_endpoint(&long).is_err());
    }
}
