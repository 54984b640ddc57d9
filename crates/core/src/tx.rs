//! Transactions: a signer's signed, numbered request to change the state.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::{Decode, DecodeError, Encode, Reader};
use crate::crypto::{self, Address, Hash, Keypair, Signature};
use crate::modules::ModuleAction;
use crate::rejection::Rejection;

/// Largest canonical encoding of one transaction the network accepts, in bytes.
pub const MAX_TX_BYTES: usize = 4096;
/// Longest chain id, in bytes.
pub const MAX_CHAIN_ID_BYTES: usize = 64;

/// Domain tag of the bytes a signer signs; bump the version with any change to the format.
const SIGNING_TAG: &[u8] = b"depin/tx/v2";

/// Weight of one signature check, in weight units (one unit is about the cost of storing one
/// byte): an ed25519 verification costs about as much as keeping 200 bytes of block, measured
/// by `depin bench transfers` (see docs/PROTOCOL.md, "Fees").
pub const SIGNATURE_WEIGHT: u64 = 200;

/// Which network a transaction is for: its name and the hash of its genesis. Both are in the
/// signed bytes, so a transaction signed for one network is refused by every other, even one
/// that reuses the name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub chain_id: String,
    pub genesis_hash: Hash,
}

/// What a transaction does: move tokens, or one of a registered module's actions.
///
/// JSON form: `{"type": "transfer", "to": ..., "amount": ...}`, or a module action's own form
/// (`{"type": "beacon", ...}`); action types are unique across modules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Move tokens from the signer to another account.
    Transfer { to: Address, amount: Amount },
    /// An action of a module (proof module or shared service).
    Module(ModuleAction),
}

/// Tag byte of a module action on the wire: then the module's id, then its own encoding.
const MODULE_ACTION_TAG: u8 = 1;

impl Action {
    /// Length of the canonical encoding, in bytes.
    pub fn encoded_len(&self) -> usize {
        match self {
            Action::Transfer { .. } => 1 + 32 + 16,
            other => crate::codec::with_encoding(other, <[u8]>::len),
        }
    }

    /// Whether this is a device's report (signed by a device, indexed per device).
    pub fn is_report(&self) -> bool {
        matches!(self, Action::Module(m) if m.is_report())
    }

    /// The module action, if this is one.
    pub fn module(&self) -> Option<&ModuleAction> {
        match self {
            Action::Module(m) => Some(m),
            Action::Transfer { .. } => None,
        }
    }
}

impl From<ModuleAction> for Action {
    fn from(m: ModuleAction) -> Self {
        Action::Module(m)
    }
}

/// The JSON form of a transfer.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum TransferJson {
    Transfer { to: Address, amount: Amount },
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Action::Transfer { to, amount } => TransferJson::Transfer {
                to: *to,
                amount: *amount,
            }
            .serialize(s),
            Action::Module(m) => m.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        if value.get("type").and_then(|t| t.as_str()) == Some("transfer") {
            let TransferJson::Transfer { to, amount } =
                serde_json::from_value(value).map_err(serde::de::Error::custom)?;
            return Ok(Action::Transfer { to, amount });
        }
        ModuleAction::from_json(value)
            .map(Action::Module)
            .map_err(serde::de::Error::custom)
    }
}

impl Encode for Action {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Action::Transfer { to, amount } => {
                out.push(0);
                to.encode(out);
                amount.encode(out);
            }
            Action::Module(m) => {
                out.push(MODULE_ACTION_TAG);
                m.encode(out);
            }
        }
    }
}

impl Decode for Action {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match u8::decode(r)? {
            0 => Ok(Action::Transfer {
                to: Address::decode(r)?,
                amount: Amount::decode(r)?,
            }),
            MODULE_ACTION_TAG => Ok(Action::Module(ModuleAction::decode(r)?)),
            tag => Err(DecodeError::InvalidTag {
                what: "action",
                tag,
            }),
        }
    }
}

/// A signed transaction. `chain_id` and the genesis hash (signed, not sent) stop replay across
/// networks, `nonce` within one. `max_fee` is the most the payer agrees to pay for it (see
/// [`crate::services::fees`]): the block charges the base fee times the weight plus `tip`,
/// never more. The tip buys priority when blocks are full; it is burned like the rest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transaction {
    pub chain_id: String,
    pub signer: Address,
    pub nonce: u64,
    pub max_fee: u64,
    #[serde(default)]
    pub tip: u64,
    pub action: Action,
    pub signature: Signature,
}

/// What a transaction offers: at most `max` fee units in all, of which `tip` above the base fee.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offer {
    pub max: u64,
    pub tip: u64,
}

impl Transaction {
    /// Builds and signs a transaction for `network`, offering at most `max_fee` and no tip.
    pub fn sign(
        network: &Network,
        key: &Keypair,
        nonce: u64,
        max_fee: u64,
        action: Action,
    ) -> Transaction {
        Transaction::sign_for(network, key, nonce, action, |_| Offer {
            max: max_fee,
            tip: 0,
        })
    }

    /// Builds and signs a transaction making the offer `offer(weight)`: its weight does not
    /// depend on the offer, so a wallet prices it before signing (e.g. with
    /// [`crate::services::fees::suggested_max_fee`]).
    pub fn sign_for(
        network: &Network,
        key: &Keypair,
        nonce: u64,
        action: Action,
        offer: impl FnOnce(u64) -> Offer,
    ) -> Transaction {
        let mut tx = Transaction {
            chain_id: network.chain_id.clone(),
            signer: key.address(),
            nonce,
            max_fee: 0,
            tip: 0,
            action,
            signature: Signature([0; 64]),
        };
        let Offer { max, tip } = offer(tx.weight());
        (tx.max_fee, tx.tip) = (max, tip);
        tx.signature = key.sign(&tx.signing_bytes(&network.genesis_hash));
        tx
    }

    /// The bytes the signature covers: the genesis hash of the network it is for, then
    /// everything but the signature, under a domain tag.
    pub fn signing_bytes(&self, genesis_hash: &Hash) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        out.extend_from_slice(SIGNING_TAG);
        genesis_hash.encode(&mut out);
        self.chain_id.encode(&mut out);
        self.signer.encode(&mut out);
        self.nonce.encode(&mut out);
        self.max_fee.encode(&mut out);
        self.tip.encode(&mut out);
        self.action.encode(&mut out);
        out
    }

    /// What the transaction costs the network, in weight units: its bytes, and
    /// [`SIGNATURE_WEIGHT`] for each signature it makes every validator check (the signer's and
    /// its action's co-signatures), plus what its module says its execution costs beyond that.
    pub fn weight(&self) -> u64 {
        let (signatures, extra) = match &self.action {
            Action::Transfer { .. } => (1, 0),
            Action::Module(m) => (1 + m.co_signature_count(), m.extra_weight()),
        };
        (self.encoded_len() as u64)
            .saturating_add(SIGNATURE_WEIGHT.saturating_mul(signatures))
            .saturating_add(extra)
    }

    /// The transaction's identity: the hash of its whole canonical encoding.
    pub fn hash(&self) -> Hash {
        crate::codec::with_encoding(self, |bytes| Hash::tagged("depin/tx-hash", &[bytes]))
    }

    /// Checks that need no state: chain id, size, the action's own stateless checks and the
    /// signature.
    pub fn check_stateless(&self, network: &Network) -> Result<(), Rejection> {
        self.check_admission(&network.chain_id)?;
        if !crypto::verify(
            &self.signer,
            &self.signing_bytes(&network.genesis_hash),
            &self.signature,
        ) {
            return Err(Rejection::BadSignature);
        }
        Ok(())
    }

    /// Chain id and size, without the signature (which is checked in batches): what a block's
    /// transaction must pass before it pays a fee.
    pub fn check_envelope(&self, chain_id: &str) -> Result<(), Rejection> {
        if self.chain_id != chain_id {
            return Err(Rejection::WrongChain {
                expected: chain_id.to_string(),
                got: self.chain_id.clone(),
            });
        }
        let size = self.encoded_len();
        if size > MAX_TX_BYTES {
            return Err(Rejection::TooLarge {
                size: size as u64,
                max: MAX_TX_BYTES as u64,
            });
        }
        Ok(())
    }

    /// The envelope and the action's checks that need no state: what the mempool checks at its
    /// door so that junk never reaches a block. (In a block the same checks run when the action
    /// executes, after the fee is paid: a proposer that includes junk makes its sender pay.)
    pub fn check_admission(&self, chain_id: &str) -> Result<(), Rejection> {
        self.check_envelope(chain_id)?;
        match &self.action {
            Action::Transfer { amount, .. } if amount.is_zero() => Err(Rejection::ZeroAmount),
            Action::Transfer { .. } => Ok(()),
            Action::Module(m) => m.check_stateless(),
        }
    }

    /// Computes what the block's preparation of the action needs from the action alone and
    /// keeps it in the action ([`crate::module::Module::warm`]): a node does it when it admits
    /// the transaction.
    pub fn warm(&self) {
        if let Action::Module(m) = &self.action {
            crate::modules::warm(m);
        }
    }

    /// Length of the canonical encoding, in bytes, computed without encoding (it is checked on
    /// every admission and every execution).
    pub fn encoded_len(&self) -> usize {
        // length prefix + chain id, signer, nonce, max fee, tip, action, signature
        4 + self.chain_id.len() + 32 + 8 + 8 + 8 + self.action.encoded_len() + 64
    }

    /// Decodes a transaction received from outside, turning every failure into a [`Rejection`].
    pub fn from_wire(bytes: &[u8]) -> Result<Transaction, Rejection> {
        if bytes.len() > MAX_TX_BYTES {
            return Err(Rejection::TooLarge {
                size: bytes.len() as u64,
                max: MAX_TX_BYTES as u64,
            });
        }
        Transaction::from_bytes(bytes).map_err(|e| Rejection::Malformed {
            detail: e.to_string(),
        })
    }
}

/// Signatures per batch when a list is verified on all cores: large enough for batch
/// verification to pay off, small enough to spread a block over the cores.
pub const VERIFY_CHUNK: usize = 256;

/// One signature verdict per transaction for the network with `genesis_hash`, checked together
/// with batch verification in chunks of [`VERIFY_CHUNK`] on all cores. Each verdict is what
/// single verification says of that transaction, so the result does not depend on the chunking
/// or the number of threads.
pub fn verify_signatures(genesis_hash: &Hash, txs: &[Transaction]) -> Vec<bool> {
    txs.par_chunks(VERIFY_CHUNK)
        .flat_map_iter(|chunk| {
            let messages: Vec<Vec<u8>> = chunk
                .iter()
                .map(|t| t.signing_bytes(genesis_hash))
                .collect();
            let items: Vec<_> = chunk
                .iter()
                .zip(&messages)
                .map(|(tx, m)| (&tx.signer, m.as_slice(), &tx.signature))
                .collect();
            crypto::verify_many(&items)
        })
        .collect()
}

/// One verdict per transaction on the signatures its action carries besides the signer's (see
/// [`crate::module::Module::co_signatures`]): true when there are none or all verify. Checked together
/// with batch verification on all cores, about twice as fast as one by one per core; a `false`
/// is exact (a batch that fails is checked one by one), and the action's own check then names
/// the bad signature.
pub fn verify_co_signatures(network: &Network, txs: &[Transaction]) -> Vec<bool> {
    // Each transaction's co-signatures with their messages, made on all cores (a mapping
    // bundle's message encodes all its frames).
    let per_tx: Vec<Vec<(Address, Vec<u8>, Signature)>> = txs
        .par_iter()
        .map(|tx| {
            let mut items = Vec::new();
            if let Action::Module(m) = &tx.action {
                m.co_signatures(network, &mut items);
            }
            items
        })
        .collect();
    let (refs, owners): (Vec<_>, Vec<usize>) = per_tx
        .iter()
        .enumerate()
        .flat_map(|(i, items)| items.iter().map(move |(a, m, s)| ((a, m.as_slice(), s), i)))
        .unzip();
    let mut verdicts = vec![true; txs.len()];
    let oks: Vec<bool> = refs
        .par_chunks(VERIFY_CHUNK)
        .flat_map_iter(crypto::verify_many)
        .collect();
    for (ok, i) in oks.into_iter().zip(owners) {
        verdicts[i] &= ok;
    }
    verdicts
}

impl Encode for Transaction {
    fn encode(&self, out: &mut Vec<u8>) {
        self.chain_id.encode(out);
        self.signer.encode(out);
        self.nonce.encode(out);
        self.max_fee.encode(out);
        self.tip.encode(out);
        self.action.encode(out);
        self.signature.encode(out);
    }
}

impl Decode for Transaction {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let chain_len = r.length("chain id", MAX_CHAIN_ID_BYTES)?;
        let chain_id = std::str::from_utf8(r.take(chain_len, "chain id")?)
            .map_err(|_| DecodeError::InvalidUtf8)?
            .to_string();
        Ok(Transaction {
            chain_id,
            signer: Address::decode(r)?,
            nonce: u64::decode(r)?,
            max_fee: u64::decode(r)?,
            tip: u64::decode(r)?,
            action: Action::decode(r)?,
            signature: Signature::decode(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network() -> Network {
        Network {
            chain_id: "depin-test".into(),
            genesis_hash: Hash([9; 32]),
        }
    }

    fn sample() -> Transaction {
        let alice = Keypair::from_seed([1; 32]);
        let bob = Keypair::from_seed([2; 32]);
        Transaction::sign(
            &network(),
            &alice,
            7,
            1_000,
            Action::Transfer {
                to: bob.address(),
                amount: Amount(1_500_000),
            },
        )
    }

    /// Pins the wire format: if this changes, every signature in the wild breaks.
    #[test]
    fn golden_transaction_encoding() {
        let tx = sample();
        assert_eq!(
            hex::encode(tx.to_bytes()),
            "0a000000646570696e2d74657374\
             8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c\
             0700000000000000\
             e803000000000000\
             0000000000000000\
             00\
             8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394\
             60e31600000000000000000000000000\
             1a2c90478c1b7e49021579bc1b1ef123ee8551dd54b35d455ca6b0ff8fd9e927\
             efeacbf9454d2a1fc0dd7e6b2c56c1543719559afcffdd2761519c841c2af00b"
        );
        assert_eq!(Transaction::from_bytes(&tx.to_bytes()).unwrap(), tx);
        tx.check_stateless(&network()).unwrap();
    }

    #[test]
    fn encoded_len_is_the_length_of_the_encoding() {
        let mut tx = sample();
        assert_eq!(tx.encoded_len(), tx.to_bytes().len());
        tx.chain_id = "x".repeat(MAX_CHAIN_ID_BYTES);
        assert_eq!(tx.encoded_len(), tx.to_bytes().len());
    }

    #[test]
    fn tampering_breaks_the_signature() {
        let mut tx = sample();
        tx.nonce += 1;
        assert_eq!(tx.check_stateless(&network()), Err(Rejection::BadSignature));
    }

    #[test]
    fn a_network_with_the_same_name_and_another_genesis_refuses_the_signature() {
        let tx = sample();
        let twin = Network {
            genesis_hash: Hash([8; 32]),
            ..network()
        };
        assert_eq!(tx.check_stateless(&twin), Err(Rejection::BadSignature));
    }

    #[test]
    fn weight_counts_bytes_and_signature_checks() {
        let tx = sample();
        assert_eq!(tx.weight(), tx.encoded_len() as u64 + SIGNATURE_WEIGHT);
    }

    #[test]
    fn wrong_chain_is_refused_before_the_signature() {
        let tx = sample();
        let other = Network {
            chain_id: "depin-main".into(),
            ..network()
        };
        assert!(matches!(
            tx.check_stateless(&other),
            Err(Rejection::WrongChain { .. })
        ));
    }

    #[test]
    fn json_form_round_trips_and_rejects_unknown_fields() {
        let tx = sample();
        let json = serde_json::to_string(&tx).unwrap();
        assert!(json.contains("\"type\":\"transfer\""));
        assert!(json.contains("\"amount\":\"1500000\""));
        assert_eq!(serde_json::from_str::<Transaction>(&json).unwrap(), tx);
        let extra = json.replacen("{", "{\"fee\":1,", 1);
        assert!(serde_json::from_str::<Transaction>(&extra).is_err());
    }

    #[test]
    fn oversized_and_garbage_wire_bytes_are_explained() {
        assert!(matches!(
            Transaction::from_wire(&vec![0; MAX_TX_BYTES + 1]),
            Err(Rejection::TooLarge { .. })
        ));
        assert!(matches!(
            Transaction::from_wire(&[1, 2, 3]),
            Err(Rejection::Malformed { .. })
        ));
    }
}
