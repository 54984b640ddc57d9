//! Blocks, headers and receipts.

use serde::{Deserialize, Serialize};

use crate::codec::{Decode, DecodeError, Encode, Reader};
use crate::crypto::{self, Address, Hash, Keypair, Signature};
use crate::merkle::list_root;
use crate::rejection::{Explained, Rejection};
use crate::tx::Transaction;

/// Most transactions one block may carry (a hard limit of the format; genesis sets a lower one).
pub const MAX_BLOCK_TXS_LIMIT: usize = 1 << 20;

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
        if count > r.remaining() {
            return Err(DecodeError::UnexpectedEnd("block transactions"));
        }
        let mut txs = Vec::with_capacity(count);
        for _ in 0..count {
            txs.push(Transaction::decode(r)?);
        }
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
        let tx = Transaction::sign(
            "depin-test",
            &alice,
            0,
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
        };
        let block = Block::seal(header, txs, &proposer);
        assert!(block.signature_valid());
        let bytes = block.to_bytes();
        assert_eq!(Block::from_bytes(&bytes).unwrap(), block);
        assert_eq!(
            block.hash().to_hex(),
            "eca2106e8eadf48e204ef237b186d305ded16d4720231e8212832dc423d9b5ff"
        );
        assert_eq!(
            blake3::hash(&bytes).to_hex().to_string(),
            "51033378f5d6ec179beba24fbbade3fa30fca6b4cc2ecce33a13f7b4756dbd9d"
        );
        // Header first: height (u64 LE), then the parent hash; the tx count follows the header.
        assert_eq!(&bytes[..9], &[1, 0, 0, 0, 0, 0, 0, 0, 0xaa]);
        assert_eq!(&bytes[176..180], &[1, 0, 0, 0]); // 8 + 32 + 8 + 4 * 32 header bytes
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
