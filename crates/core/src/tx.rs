//! Transactions: a signer's signed, numbered request to change the state.

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
const SIGNING_TAG: &[u8] = b"depin/tx/v1";

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
            other => other.to_bytes().len(),
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

/// A signed transaction. `chain_id` stops replay across networks, `nonce` within one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transaction {
    pub chain_id: String,
    pub signer: Address,
    pub nonce: u64,
    pub action: Action,
    pub signature: Signature,
}

impl Transaction {
    /// Builds and signs a transaction.
    pub fn sign(chain_id: &str, key: &Keypair, nonce: u64, action: Action) -> Transaction {
        let signer = key.address();
        let message = signing_bytes(chain_id, &signer, nonce, &action);
        Transaction {
            chain_id: chain_id.to_string(),
            signer,
            nonce,
            action,
            signature: key.sign(&message),
        }
    }

    /// The bytes the signature covers: everything but the signature, under a domain tag.
    pub fn signing_bytes(&self) -> Vec<u8> {
        signing_bytes(&self.chain_id, &self.signer, self.nonce, &self.action)
    }

    /// The transaction's identity: the hash of its whole canonical encoding.
    pub fn hash(&self) -> Hash {
        Hash::tagged("depin/tx-hash", &[&self.to_bytes()])
    }

    /// Checks that need no state: chain id, size and signature.
    pub fn check_stateless(&self, chain_id: &str) -> Result<(), Rejection> {
        self.check_envelope(chain_id)?;
        if !crypto::verify(&self.signer, &self.signing_bytes(), &self.signature) {
            return Err(Rejection::BadSignature);
        }
        Ok(())
    }

    /// Chain id and size, without the signature (which is checked in batches).
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

    /// Length of the canonical encoding, in bytes, computed without encoding (it is checked on
    /// every admission and every execution).
    pub fn encoded_len(&self) -> usize {
        // length prefix + chain id, signer, nonce, action, signature
        4 + self.chain_id.len() + 32 + 8 + self.action.encoded_len() + 64
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

/// One signature verdict per transaction, checked together with batch verification.
pub fn verify_signatures(txs: &[Transaction]) -> Vec<bool> {
    let messages: Vec<Vec<u8>> = txs.iter().map(Transaction::signing_bytes).collect();
    let items: Vec<_> = txs
        .iter()
        .zip(&messages)
        .map(|(tx, m)| (&tx.signer, m.as_slice(), &tx.signature))
        .collect();
    crypto::verify_many(&items)
}

/// One verdict per transaction on the signatures its action carries besides the signer's (see
/// [`crate::module::Module::co_signatures`]): true when there are none or all verify. Checked together
/// with batch verification, about twice as fast as one by one; a `false` is exact (the batch
/// falls back to checking each), and the action's own check then names the bad signature.
pub fn verify_co_signatures(chain_id: &str, txs: &[Transaction]) -> Vec<bool> {
    let mut items: Vec<(Address, Vec<u8>, Signature)> = Vec::new();
    let mut owners: Vec<usize> = Vec::new();
    for (i, tx) in txs.iter().enumerate() {
        if let Action::Module(m) = &tx.action {
            let before = items.len();
            m.co_signatures(chain_id, &mut items);
            owners.extend(std::iter::repeat_n(i, items.len() - before));
        }
    }
    let mut verdicts = vec![true; txs.len()];
    if items.is_empty() {
        return verdicts;
    }
    let refs: Vec<_> = items.iter().map(|(a, m, s)| (a, m.as_slice(), s)).collect();
    for (ok, i) in crypto::verify_many(&refs).into_iter().zip(owners) {
        verdicts[i] &= ok;
    }
    verdicts
}

fn signing_bytes(chain_id: &str, signer: &Address, nonce: u64, action: &Action) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(SIGNING_TAG);
    chain_id.encode(&mut out);
    signer.encode(&mut out);
    nonce.encode(&mut out);
    action.encode(&mut out);
    out
}

impl Encode for Transaction {
    fn encode(&self, out: &mut Vec<u8>) {
        self.chain_id.encode(out);
        self.signer.encode(out);
        self.nonce.encode(out);
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
            action: Action::decode(r)?,
            signature: Signature::decode(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Transaction {
        let alice = Keypair::from_seed([1; 32]);
        let bob = Keypair::from_seed([2; 32]);
        Transaction::sign(
            "depin-test",
            &alice,
            7,
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
             00\
             8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394\
             60e31600000000000000000000000000\
             7d94d960e6a339f121ba6b49695ada6f37ad92c4094211dfa29c1833ea43ca6a\
             346e97d00bc75bf8307fa45beaf76c1a1763a20f644bd16230d095fa24ada307"
        );
        assert_eq!(Transaction::from_bytes(&tx.to_bytes()).unwrap(), tx);
        tx.check_stateless("depin-test").unwrap();
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
        assert_eq!(
            tx.check_stateless("depin-test"),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn wrong_chain_is_refused_before_the_signature() {
        let tx = sample();
        assert!(matches!(
            tx.check_stateless("depin-main"),
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
