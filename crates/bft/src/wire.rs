//! What validators send each other beside consensus votes: blocks (proposed, forwarded, or
//! answering a request), requests for a block they miss, and gossiped transactions.

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

/// A message on the block channel.
#[derive(Clone, Debug, PartialEq)]
pub enum BlockMessage {
    /// A block: a proposal, a forward, or the answer to a request.
    Block(Box<Block>),
    /// "Send me the block with this hash." `height` is a hint (0 when unknown) that lets the
    /// peer find a committed block in its store.
    Request { hash: Hash, height: u64 },
}

const TAG_BLOCK: u8 = 0;
const TAG_REQUEST: u8 = 1;

impl BlockMessage {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            BlockMessage::Block(block) => {
                out.push(TAG_BLOCK);
                block.encode(&mut out);
            }
            BlockMessage::Request { hash, height } => {
                out.push(TAG_REQUEST);
                hash.encode(&mut out);
                height.encode(&mut out);
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
        };
        assert_eq!(BlockMessage::from_bytes(&m.to_bytes()).unwrap(), m);
        assert!(BlockMessage::from_bytes(&[9]).is_err());
        let mut long = m.to_bytes();
        long.push(0);
        assert!(BlockMessage::from_bytes(&long).is_err(), "trailing bytes");
        assert!(decode_txs(&[0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
