//! Blocks, headers and receipts.

use serde::{Deserialize, Serialize};

use crate::codec::{Decode, DecodeError, Encode, Reader};
use crate::crypto::{self, Address, Hash, Keypair, Signature};
use crate::merkle::list_root;
use crate::rejection::{Explained, Rejection};
use crate::tx::Transaction;

/// Most transactions one block may carry (a hard limit of the format; genesis sets a lower one).
pub const MAX_BLOCK_TXS_LIMIT: usize = 1 << 20;
/// Largest consensus record a header carries, in bytes.
pub const MAX_CONSENSUS_BYTES: usize = 4096;

/// What a block commits to. Its hash is the block's identity and the next block's `parent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub height: u64,
    /// Hash of the previous header; for height 1, the genesis hash.
    pub parent: Hash,
    /// Milliseconds since the Unix epoch, strictly increasing; the state machine's only clock.
    pub time_ms: u64,
    pub proposer: Address,
    /// Merkle root of the transaction hashes, in block order.
    pub tx_root: Hash,
    /// Merkle root of the receipt hashes, in block order.
    pub receipts_root: Hash,
    /// State root after applying this block.
    pub app_hash: Hash,
    /// The base fee this block charged its transactions (millionths of a fee unit per weight
    /// unit): what a paying transaction cost is `ceil(base_fee * weight / 10^6)`.
    pub base_fee: u64,
    /// What the consensus engine records with the block (for the BFT driver: its epoch, view
    /// and parent view, so a light client can match it with a finalization certificate);
    /// empty for the solo driver. Hex in JSON.
    #[serde(with = "hex_bytes")]
    pub consensus: Vec<u8>,
}

/// Bytes as a hex string in JSON.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

impl Header {
    pub fn hash(&self) -> Hash {
        Hash::tagged("depin/header", &[&self.to_bytes()])
    }
}

impl Encode for Header {
    fn encode(&self, out: &mut Vec<u8>) {
        self.height.encode(out);
        self.parent.encode(out);
        self.time_ms.encode(out);
        self.proposer.encode(out);
        self.tx_root.encode(out);
        self.receipts_root.encode(out);
        self.app_hash.encode(out);
        self.base_fee.encode(out);
        self.consensus.encode(out);
    }
}

impl Decode for Header {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Header {
            height: u64::decode(r)?,
            parent: Hash::decode(r)?,
            time_ms: u64::decode(r)?,
            proposer: Address::decode(r)?,
            tx_root: Hash::decode(r)?,
            receipts_root: Hash::decode(r)?,
            app_hash: Hash::decode(r)?,
            base_fee: u64::decode(r)?,
            consensus: {
                let len = r.length("consensus data", MAX_CONSENSUS_BYTES)?;
                r.take(len, "consensus data")?.to_vec()
            },
        })
    }
}

/// A header, the transactions it commits to, and the proposer's signature over the header hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub header: Header,
    pub txs: Vec<Transaction>,
    pub signature: Signature,
}

impl Block {
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    /// Signs `header` as its proposer.
    pub fn seal(header: Header, txs: Vec<Transaction>, proposer: &Keypair) -> Block {
        let signature = proposer.sign(&header.hash().0);
        Block {
            header,
            txs,
            signature,
        }
    }

    /// True if the proposer named in the header signed it.
    pub fn signature_valid(&self) -> bool {
        crypto::verify(&self.header.proposer, &self.hash().0, &self.signature)
    }

    /// Merkle root of the hashes of `txs`.
    pub fn tx_root(txs: &[Transaction]) -> Hash {
        let hashes: Vec<Hash> = txs.iter().map(Transaction::hash).collect();
        list_root(&hashes)
    }
}

impl Encode for Block {
    fn encode(&self, out: &mut Vec<u8>) {
        self.header.encode(out);
        self.txs.encode(out);
        self.signature.encode(out);
    }
}

impl Decode for Block {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let header = Header::decode(r)?;
        let count = r.length("block transactions", MAX_BLOCK_TXS_LIMIT)?;
        let txs = crate::codec::decode_sequence(r, count, "block transactions")?;
        Ok(Block {
            header,
            txs,
            signature: Signature::decode(r)?,
        })
    }
}

/// What happened to one included transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Receipt {
    Success,
    Rejected(Rejection),
}

impl Receipt {
    pub fn hash(&self) -> Hash {
        Hash::tagged("depin/receipt", &[&self.to_bytes()])
    }

    pub fn is_success(&self) -> bool {
        matches!(self, Receipt::Success)
    }

    /// Whether the transaction paid its fee (and used its nonce): it succeeded, or its action
    /// failed after the fee (see [`Rejection::left_no_trace`]).
    pub fn paid_fee(&self) -> bool {
        match self {
            Receipt::Success => true,
            Receipt::Rejected(r) => !r.left_no_trace(),
        }
    }

    /// Merkle root of the hashes of `receipts`.
    pub fn root(receipts: &[Receipt]) -> Hash {
        let hashes: Vec<Hash> = receipts.iter().map(Receipt::hash).collect();
        list_root(&hashes)
    }
}

impl Encode for Receipt {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Receipt::Success => out.push(0),
            Receipt::Rejected(r) => {
                out.push(1);
                r.encode(out);
            }
        }
    }
}

impl Decode for Receipt {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match u8::decode(r)? {
            0 => Ok(Receipt::Success),
            1 => Ok(Receipt::Rejected(Rejection::decode(r)?)),
            tag => Err(DecodeError::InvalidTag {
                what: "receipt",
                tag,
            }),
        }
    }
}

/// JSON face of a receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptView {
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rejection: Option<Explained>,
}

impl From<&Receipt> for ReceiptView {
    fn from(r: &Receipt) -> Self {
        match r {
            Receipt::Success => ReceiptView {
                success: true,
                rejection: None,
            },
            Receipt::Rejected(why) => ReceiptView {
                success: false,
                rejection: Some(why.into()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amount::Amount;
    use crate::tx::Action;

    /// Pins the block format: header fields in order, a counted list of transactions, signature.
    #[test]
    fn golden_block_encoding() {
        let proposer = Keypair::from_seed([9; 32]);
        let alice = Keypair::from_seed([1; 32]);
        let network = crate::tx::Network {
            chain_id: "depin-test".into(),
            genesis_hash: Hash([7; 32]),
        };
        let tx = Transaction::sign(
            &network,
            &alice,
            0,
            100,
            Action::Transfer {
                to: proposer.address(),
                amount: Amount(5),
            },
        );
        let txs = vec![tx];
        let header = Header {
            height: 1,
            parent: Hash([0xaa; 32]),
            time_ms: 1_700_000_000_000,
            proposer: proposer.address(),
            tx_root: Block::tx_root(&txs),
            receipts_root: Receipt::root(&[Receipt::Success]),
            app_hash: Hash([0xbb; 32]),
            base_fee: 10_000,
            consensus: Vec::new(),
        };
        let block = Block::seal(header, txs, &proposer);
        assert!(block.signature_valid());
        let bytes = block.to_bytes();
        assert_eq!(Block::from_bytes(&bytes).unwrap(), block);
        assert_eq!(
            block.hash().to_hex(),
            "6fd36a9754d9f19668f69f38e7e66f86988d68c261f697a8bf1fce0b3f8ed928"
        );
        assert_eq!(
            blake3::hash(&bytes).to_hex().to_string(),
            "ecbde88a44da3b5e857a7cc96ba8ccd6239b708fe805fb588ea694abe67144b2"
        );
        // Header first: height (u64 LE), then the parent hash; the tx count follows the header.
        assert_eq!(&bytes[..9], &[1, 0, 0, 0, 0, 0, 0, 0, 0xaa]);
        // 8 + 32 + 8 + 4 * 32 header bytes, the base fee (u64 LE), then the consensus data's
        // length (none: solo), then the transaction count.
        assert_eq!(&bytes[176..184], &10_000u64.to_le_bytes());
        assert_eq!(&bytes[184..188], &[0, 0, 0, 0]);
        assert_eq!(&bytes[188..192], &[1, 0, 0, 0]);
    }

    #[test]
    fn receipts_round_trip() {
        for r in [
            Receipt::Success,
            Receipt::Rejected(Rejection::InsufficientFunds {
                balance: Amount(1),
                needed: Amount(2),
            }),
        ] {
            assert_eq!(Receipt::from_bytes(&r.to_bytes()).unwrap(), r);
        }
    }
}
