//! Each epoch's p2p peer set: the validators listed in `peers.toml` (bootstrap, they take
//! precedence) plus, for the epoch's other participants, the endpoint each registered on chain
//! (`p2p_endpoint`, read from the committed state the epoch starts on), handed to the network
//! when the epoch's engine starts.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use commonware_p2p::{Address as PeerAddress, AddressableManager, Ingress};
use commonware_utils::Hostname;
use commonware_utils::ordered::Map;
use depin_core::StateRead;
use depin_core::services::governance::p2p::p2p_endpoint_of;
use tracing::{info, warn};

use crate::application::EpochStart;
use crate::{PublicKey, address};

/// The largest validator set the ledger can have: a genesis names at most
/// `MAX_GENESIS_VALIDATORS`, a governed set at most `MAX_VALIDATORS` (an election seats at most
/// that many, the liveness guard at most `max(max_validators, 4)`).
pub const MAX_SET: usize = {
    let genesis = depin_core::genesis::MAX_GENESIS_VALIDATORS;
    let governed = depin_core::services::governance::actions::MAX_VALIDATORS as usize;
    if genesis > governed {
        genesis
    } else {
        governed
    }
};

/// The most identities an epoch's peer set can name, the local one included (which the
/// network counts even when the set omits it): every `peers.toml` entry, every participant,
/// and this validator. The network is configured with this bound (`max_peers_per_set`).
pub fn max_peers_per_set(bootstrap: usize) -> usize {
    bootstrap.saturating_add(MAX_SET).saturating_add(1)
}

/// The endpoints the epoch's participants registered on chain, in participant order (a
/// participant that registered none is absent). Read from the committed state the epoch starts
/// on, so every validator that starts the epoch there reads the same list.
pub fn endpoints_of<S: StateRead>(
    state: &S,
    participants: &[PublicKey],
) -> Vec<(PublicKey, String)> {
    participants
        .iter()
        .filter_map(|pk| p2p_endpoint_of(state, &address(pk)).map(|e| (pk.clone(), e)))
        .collect()
}

/// Where to dial an endpoint registered on chain (`host:port`, checked by the ledger when it
/// was registered). An IP address is dialed and filtered as is; a DNS name is dialed by name
/// (the network resolves it at each dial) and incoming connections are expected from the
/// address it resolves to now. `None` (with the reason) when it cannot be used.
pub fn endpoint_address(text: &str) -> Result<PeerAddress, String> {
    if let Ok(socket) = text.parse::<SocketAddr>() {
        return Ok(PeerAddress::Symmetric(socket));
    }
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("`{text}` has no `:port`"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("`{port}` is not a port"))?;
    if host.parse::<IpAddr>().is_ok() {
        return Err(format!("`{text}` is not a valid socket address"));
    }
    let name = Hostname::new(host).map_err(|e| format!("`{host}` is not a DNS name: {e}"))?;
    let egress = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("`{host}` does not resolve: {e}"))?
        .next()
        .ok_or_else(|| format!("`{host}` resolves to no address"))?;
    Ok(PeerAddress::Asymmetric {
        ingress: Ingress::Dns { host: name, port },
        egress,
    })
}

/// The peer map of an epoch: every bootstrap entry (its address wins over one registered on
/// chain), then each participant that is not in it at the endpoint it registered. Returns the
/// map and the participants that have no address anywhere (other than `me`), each with why.
/// `limit` bounds the map (the network refuses a larger set): participants past it are left
/// out and reported.
pub fn peer_map(
    bootstrap: &Map<PublicKey, PeerAddress>,
    epoch: &EpochStart,
    me: &PublicKey,
    limit: usize,
    resolve: impl Fn(&str) -> Result<PeerAddress, String>,
) -> (Map<PublicKey, PeerAddress>, Vec<(PublicKey, String)>) {
    let mut entries: Vec<(PublicKey, PeerAddress)> = bootstrap
        .iter_pairs()
        .map(|(k, a)| (k.clone(), a.clone()))
        .collect();
    let mut missing = Vec::new();
    for pk in &epoch.participants {
        if pk == me || bootstrap.get_value(pk).is_some() {
            continue;
        }
        let registered = epoch
            .endpoints
            .iter()
            .find(|(k, _)| k == pk)
            .map(|(_, e)| e.as_str());
        let Some(text) = registered else {
            missing.push((
                pk.clone(),
                "no p2p endpoint registered on chain".to_string(),
            ));
            continue;
        };
        // The local identity counts against the network's bound even when absent.
        if entries.len() + 2 > limit {
            missing.push((
                pk.clone(),
                format!("the peer set is full ({limit} identities)"),
            ));
            continue;
        }
        match resolve(text) {
            Ok(a) => entries.push((pk.clone(), a)),
            Err(why) => missing.push((pk.clone(), format!("its endpoint cannot be used: {why}"))),
        }
    }
    let map = Map::try_from(entries).expect("bootstrap keys are distinct and participants too");
    (map, missing)
}

/// What the epoch supervisor tells the network when it starts an epoch's engine.
pub trait EpochPeers: Send + 'static {
    /// The engine of `epoch` is starting: connect to its participants.
    fn enter(&mut self, epoch: &EpochStart);
}

/// No peer management: the network's peers are fixed (the benchmark, which links every
/// validator itself).
pub struct FixedPeers;

impl EpochPeers for FixedPeers {
    fn enter(&mut self, _epoch: &EpochStart) {}
}

/// Most times one epoch's peer set is tracked again (a participant registered its endpoint
/// during the epoch); a later registration waits for the next epoch.
pub const MAX_REFRESHES: u64 = 255;

/// The peer set id of an epoch's `refresh`-th peer set: `(epoch + 1) * 256 + refresh` (id 0 is
/// the bootstrap set tracked before any engine starts). Ids only grow, as the network
/// requires, and validators that saw the same registrations use the same id.
pub fn peer_set_id(epoch: u64, refresh: u64) -> u64 {
    epoch
        .saturating_add(1)
        .saturating_mul(MAX_REFRESHES + 1)
        .saturating_add(refresh.min(MAX_REFRESHES))
}

/// Tracks each epoch's peer map on an addressable network (commonware's lookup network, or
/// the simulated one in tests).
pub struct Directory<M> {
    manager: M,
    bootstrap: Map<PublicKey, PeerAddress>,
    me: PublicKey,
    limit: usize,
    /// The epoch last tracked and how many times it was tracked again.
    last: Option<(u64, u64)>,
}

impl<M> Directory<M> {
    /// `bootstrap` is `peers.toml` (tracked as set 0 by the caller); `limit` is the network's
    /// `max_peers_per_set`.
    pub fn new(
        manager: M,
        bootstrap: Map<PublicKey, PeerAddress>,
        me: PublicKey,
        limit: usize,
    ) -> Self {
        Directory {
            manager,
            bootstrap,
            me,
            limit,
            last: None,
        }
    }
}

impl<M: AddressableManager<PublicKey = PublicKey>> EpochPeers for Directory<M> {
    fn enter(&mut self, epoch: &EpochStart) {
        let refresh = match self.last {
            Some((e, r)) if e == epoch.epoch => r + 1,
            _ => 0,
        };
        if refresh > MAX_REFRESHES {
            warn!(
                epoch = epoch.epoch,
                "the epoch's peer set changed too often; new endpoints are used from the next epoch"
            );
            return;
        }
        self.last = Some((epoch.epoch, refresh));
        let (map, missing) = peer_map(
            &self.bootstrap,
            epoch,
            &self.me,
            self.limit,
            endpoint_address,
        );
        for (pk, why) in &missing {
            warn!(
                epoch = epoch.epoch,
                validator = %address(pk),
                "a validator of this epoch has no p2p address here ({why}): it is not in \
                 peers.toml and this node cannot connect to it; the epoch goes on while at most \
                 a third of its set is unreachable. The validator must register where it \
                 listens: `depin stake p2p HOST:PORT --key <its key>` (or be added to peers.toml)"
            );
        }
        let from_chain = map.len().saturating_sub(self.bootstrap.len());
        info!(
            epoch = epoch.epoch,
            peers = map.len(),
            from_chain,
            unreachable = missing.len(),
            refresh,
            "tracking the epoch's p2p peers"
        );
        let _ = self.manager.track(peer_set_id(epoch.epoch, refresh), map);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::public_key;
    use depin_core::{Hash, Keypair};

    fn pk(i: u8) -> PublicKey {
        public_key(&Keypair::from_seed([i; 32]).address()).unwrap()
    }

    fn at(port: u16) -> PeerAddress {
        PeerAddress::Symmetric(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    fn epoch(participants: &[u8], endpoints: &[(u8, &str)]) -> EpochStart {
        let mut participants: Vec<PublicKey> = participants.iter().map(|i| pk(*i)).collect();
        participants.sort();
        EpochStart {
            epoch: 3,
            participants,
            genesis: Hash::default(),
            height: 60,
            endpoints: endpoints
                .iter()
                .map(|(i, e)| (pk(*i), e.to_string()))
                .collect(),
        }
    }

    #[test]
    fn peers_toml_wins_and_the_chain_fills_in_the_others() {
        let bootstrap = Map::try_from(vec![(pk(1), at(1)), (pk(2), at(2))]).unwrap();
        let e = epoch(
            &[1, 2, 3, 4, 5],
            &[
                (2, "127.0.0.1:9002"),
                (3, "127.0.0.1:9003"),
                (4, "nonsense"),
            ],
        );
        let (map, missing) = peer_map(&bootstrap, &e, &pk(1), 100, endpoint_address);
        assert_eq!(map.get_value(&pk(1)), Some(&at(1)));
        // peers.toml's address, not the registered one.
        assert_eq!(map.get_value(&pk(2)), Some(&at(2)));
        assert_eq!(map.get_value(&pk(3)), Some(&at(9003)));
        assert_eq!(map.len(), 3);
        let missing: Vec<PublicKey> = missing.into_iter().map(|(k, _)| k).collect();
        let mut expected = vec![pk(4), pk(5)];
        expected.sort();
        assert_eq!(missing, expected);
    }

    #[test]
    fn the_peer_set_never_exceeds_the_network_bound() {
        let bootstrap = Map::try_from(vec![(pk(1), at(1))]).unwrap();
        let e = epoch(
            &[1, 2, 3, 4],
            &[
                (2, "127.0.0.1:9002"),
                (3, "127.0.0.1:9003"),
                (4, "127.0.0.1:9004"),
            ],
        );
        // Room for three identities, the local one (not in the map) included.
        let (map, missing) = peer_map(&bootstrap, &e, &pk(9), 3, endpoint_address);
        assert_eq!(map.len(), 2);
        assert_eq!(missing.len(), 2);
        assert_eq!(max_peers_per_set(4), 4 + MAX_SET + 1);
    }

    #[test]
    fn peer_set_ids_only_grow() {
        let mut ids = vec![0];
        for epoch in 0..4 {
            for refresh in [0, 1, MAX_REFRESHES] {
                ids.push(peer_set_id(epoch, refresh));
            }
        }
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        assert_eq!(
            peer_set_id(0, MAX_REFRESHES + 7),
            peer_set_id(0, MAX_REFRESHES)
        );
    }

    #[test]
    fn endpoints_become_dialable_addresses() {
        assert_eq!(
            endpoint_address("10.1.2.3:26600"),
            Ok(at_ip([10, 1, 2, 3], 26600))
        );
        assert!(matches!(
            endpoint_address("[::1]:26600"),
            Ok(PeerAddress::Symmetric(s)) if s.port() == 26600
        ));
        assert!(matches!(
            endpoint_address("localhost:26600"),
            Ok(PeerAddress::Asymmetric {
                ingress: Ingress::Dns { port: 26600, .. },
                ..
            })
        ));
        assert!(endpoint_address("999.1.1.1:1").is_err());
        assert!(endpoint_address("no-port").is_err());
    }

    fn at_ip(ip: [u8; 4], port: u16) -> PeerAddress {
        PeerAddress::Symmetric(SocketAddr::from((ip, port)))
    }
}
