//! What validators send each other beside consensus votes: blocks (proposed, forwarded, or
//! answering a request), requests for blocks they miss (a block and up to [`MAX_BATCH`] - 1 of
//! its ancestors per round trip), requests for a finalization certificate to catch up from an
//! epoch whose engines the others have stopped, and gossiped transactions.

use depin_core::codec::{Reader, decode_sequence};
use depin_core::{Block, Decode, DecodeError, Encode, Hash, Transaction};

/// Largest message on the block channel (bytes): a block of the largest size a genesis may
/// allow (`fees.max_block_bytes` defaults to 4 MiB) with its header and framing.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// Slots in the p2p router's own mailbox (the channels' slots are added to it).
pub const P2P_MAILBOX: usize = 1024;

/// Messages a peer may send per second on one channel. commonware preallocates a mailbox of
/// this many slots per peer for every channel (about 1 KiB each) when a network starts, so the
/// rate sets a validator's resident memory: at 100,000 the four validators of `depin bench
/// bft` took 17.5 GiB and the machine swapped until consensus stalled. Transaction gossip is
/// coalesced into messages of up to [`MAX_GOSSIP_TXS`], so a few hundred messages a second
/// per peer carry any rate the ledger can execute.
pub const CHANNEL_RATE_PER_S: u32 = 1024;

/// Most transactions in one gossip message.
pub const MAX_GOSSIP_TXS: usize = 4096;

/// Most blocks one request asks for (a block and its ancestors) and one answer carries.
pub const MAX_BATCH: u64 = 64;

/// Largest finalization certificate a catch-up answer carries (an ed25519 certificate of
/// 100 validators is about 6.5 KiB).
pub const MAX_CERTIFICATE_BYTES: usize = 64 << 10;

/// A message on the block channel.
#[derive(Clone, Debug, PartialEq)]
pub enum BlockMessage {
    /// A block: a proposal, a forward, or the answer to a request.
    Block(Box<Block>),
    /// "Send me the block with this hash, and up to `count - 1` of its ancestors below it."
    /// `height` is a hint (0 when unknown) that lets the peer find a committed block in its
    /// store.
    Request { hash: Hash, height: u64, count: u64 },
    /// Several blocks at once: a block and its ancestors (the answer to a request for more
    /// than one), or the committed blocks of a solo-produced chain from a height up.
    Blocks(Vec<Block>),
    /// "I am in consensus epoch `epoch` with blocks up to `from - 1` committed: send me the
    /// finalization certificate of the highest block of that epoch you have one for." Sent by a
    /// validator that stopped making progress (the others may have stopped that epoch's
    /// engines).
    Sync { epoch: u64, from: u64 },
    /// The answer: the encoded finalization certificate of the block at `height`.
    Certified { height: u64, certificate: Vec<u8> },
    /// The answer of a validator whose committed chain ends at a block a solo driver produced
    /// (or at genesis) and that runs consensus epoch 0 on it: "the chain is at `height`, block
    /// `hash`; epoch 0 starts there".
    Tip { height: u64, hash: Hash },
}

const TAG_BLOCK: u8 = 0;
const TAG_REQUEST: u8 = 1;
const TAG_BLOCKS: u8 = 2;
const TAG_SYNC: u8 = 3;
const TAG_CERTIFIED: u8 = 4;
const TAG_TIP: u8 = 5;

impl BlockMessage {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            BlockMessage::Block(block) => {
                out.push(TAG_BLOCK);
                block.encode(&mut out);
            }
            BlockMessage::Request {
                hash,
                height,
                count,
            } => {
                out.push(TAG_REQUEST);
                hash.encode(&mut out);
                height.encode(&mut out);
                count.encode(&mut out);
            }
            BlockMessage::Blocks(blocks) => {
                out.push(TAG_BLOCKS);
                depin_core::codec::encode_len(blocks.len(), &mut out);
                for block in blocks {
                    block.encode(&mut out);
                }
            }
            BlockMessage::Sync { epoch, from } => {
                out.push(TAG_SYNC);
                epoch.encode(&mut out);
                from.encode(&mut out);
            }
            BlockMessage::Certified {
                height,
                certificate,
            } => {
                out.push(TAG_CERTIFIED);
                height.encode(&mut out);
                depin_core::codec::encode_len(certificate.len(), &mut out);
                out.extend_from_slice(certificate);
            }
            BlockMessage::Tip { height, hash } => {
                out.push(TAG_TIP);
                height.encode(&mut out);
                hash.encode(&mut out);
            }
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<BlockMessage, DecodeError> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(DecodeError::TooLong {
                what: "block message",
                len: bytes.len(),
                max: MAX_MESSAGE_BYTES,
            });
        }
        let mut r = Reader::new(bytes);
        let tag = u8::decode(&mut r)?;
        let message = match tag {
            TAG_BLOCK => BlockMessage::Block(Box::new(Block::decode(&mut r)?)),
            TAG_REQUEST => BlockMessage::Request {
                hash: Hash::decode(&mut r)?,
                height: u64::decode(&mut r)?,
                count: u64::decode(&mut r)?,
            },
            TAG_BLOCKS => {
                let len = r.length("blocks", MAX_BATCH as usize)?;
                BlockMessage::Blocks(decode_sequence(&mut r, len, "blocks")?)
            }
            TAG_SYNC => BlockMessage::Sync {
                epoch: u64::decode(&mut r)?,
                from: u64::decode(&mut r)?,
            },
            TAG_CERTIFIED => {
                let height = u64::decode(&mut r)?;
                let len = r.length("certificate", MAX_CERTIFICATE_BYTES)?;
                BlockMessage::Certified {
                    height,
                    certificate: r.take(len, "certificate")?.to_vec(),
                }
            }
            TAG_TIP => BlockMessage::Tip {
                height: u64::decode(&mut r)?,
                hash: Hash::decode(&mut r)?,
            },
            tag => {
                return Err(DecodeError::InvalidTag {
                    what: "block message",
                    tag,
                });
            }
        };
        r.finish()?;
        Ok(message)
    }
}

/// Transactions a validator admitted to its mempool, passed on to the others.
pub fn encode_txs(txs: &[Transaction]) -> Vec<u8> {
    let mut out = Vec::new();
    depin_core::codec::encode_len(txs.len(), &mut out);
    for tx in txs {
        tx.encode(&mut out);
    }
    out
}

/// Decodes a gossip message: at most [`MAX_GOSSIP_TXS`] transactions.
pub fn decode_txs(bytes: &[u8]) -> Result<Vec<Transaction>, DecodeError> {
    let mut r = Reader::new(bytes);
    let len = r.length("gossiped transactions", MAX_GOSSIP_TXS)?;
    let txs = decode_sequence(&mut r, len, "gossiped transactions")?;
    r.finish()?;
    Ok(txs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_round_trips_and_junk_is_refused() {
        let m = BlockMessage::Request {
            hash: Hash([7; 32]),
            height: 42,
            count: 9,
        };
        assert_eq!(BlockMessage::from_bytes(&m.to_bytes()).unwrap(), m);
        let sync = BlockMessage::Sync { epoch: 3, from: 77 };
        assert_eq!(BlockMessage::from_bytes(&sync.to_bytes()).unwrap(), sync);
        let certified = BlockMessage::Certified {
            height: 76,
            certificate: vec![1, 2, 3],
        };
        assert_eq!(
            BlockMessage::from_bytes(&certified.to_bytes()).unwrap(),
            certified
        );
        let tip = BlockMessage::Tip {
            height: 5,
            hash: Hash([1; 32]),
        };
        assert_eq!(BlockMessage::from_bytes(&tip.to_bytes()).unwrap(), tip);
        let empty = BlockMessage::Blocks(Vec::new());
        assert_eq!(BlockMessage::from_bytes(&empty.to_bytes()).unwrap(), empty);
        // A batch longer than the limit is refused before anything is decoded.
        let mut too_many = vec![TAG_BLOCKS];
        depin_core::codec::encode_len(MAX_BATCH as usize + 1, &mut too_many);
        assert!(BlockMessage::from_bytes(&too_many).is_err());
        assert!(BlockMessage::from_bytes(&[9]).is_err());
        let mut long = m.to_bytes();
        long.push(0);
        assert!(BlockMessage::from_bytes(&long).is_err(), "trailing bytes");
        assert!(decode_txs(&[0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
