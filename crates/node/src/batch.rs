//! The body of `POST /v1/txs` read with its count capped before any transaction is decoded: a
//! binary batch's length prefix is checked first, and a JSON array is read element by element
//! and refused at the first one past the limit, so a hostile count never reserves memory.

use std::cell::Cell;
use std::fmt;

use depin_core::Transaction;
use depin_core::codec::{Decode, DecodeError, Reader};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, SeqAccess, Visitor};

/// Why a batch body was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum BatchError {
    /// More than `max` transactions (`count` is what the body declared, when it says).
    TooMany { count: Option<usize>, max: usize },
    /// Not a batch: the detail says where it broke.
    Malformed(String),
}

/// Decodes a binary batch (the codec's `Vec<Transaction>`), refusing a declared count above
/// `max` before decoding any transaction.
pub fn decode_binary(body: &[u8], max: usize) -> Result<Vec<Transaction>, BatchError> {
    let count = u32::decode(&mut Reader::new(body))
        .map_err(|e| BatchError::Malformed(format!("binary batch: {e}")))?;
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    if count > max {
        return Err(BatchError::TooMany {
            count: Some(count),
            max,
        });
    }
    Vec::<Transaction>::from_bytes(body)
        .map_err(|e: DecodeError| BatchError::Malformed(format!("binary batch: {e}")))
}

/// Parses a JSON array of transactions, refusing it at the element past `max`.
pub fn decode_json(body: &[u8], max: usize) -> Result<Vec<Transaction>, BatchError> {
    let over = Cell::new(false);
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = CappedSeq { max, over: &over }
        .deserialize(&mut de)
        .and_then(|txs| de.end().map(|()| txs));
    match parsed {
        Ok(txs) => Ok(txs),
        Err(_) if over.get() => Err(BatchError::TooMany { count: None, max }),
        Err(e) => Err(BatchError::Malformed(format!("JSON: {e}"))),
    }
}

/// A sequence of at most `max` transactions; sets `over` when the input holds more.
struct CappedSeq<'a> {
    max: usize,
    over: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for CappedSeq<'_> {
    type Value = Vec<Transaction>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for CappedSeq<'_> {
    type Value = Vec<Transaction>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array of at most {} transactions", self.max)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // No reservation from a size hint: the vector grows with what was actually read.
        let mut txs = Vec::new();
        while txs.len() < self.max {
            match seq.next_element::<Transaction>()? {
                Some(tx) => txs.push(tx),
                None => return Ok(txs),
            }
        }
        // At the limit: one more element of any shape, skipped unparsed, refuses the batch.
        if seq.next_element::<IgnoredAny>()?.is_some() {
            self.over.set(true);
            return Err(serde::de::Error::custom(format!(
                "more than {} transactions",
                self.max
            )));
        }
        Ok(txs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binary_count_above_the_limit_is_refused_from_its_prefix_alone() {
        // Declares 16.7 M transactions and holds none: refused on the four prefix bytes.
        let mut body = 16_700_000u32.to_le_bytes().to_vec();
        body.extend(std::iter::repeat_n(0u8, 64));
        assert_eq!(
            decode_binary(&body, 10),
            Err(BatchError::TooMany {
                count: Some(16_700_000),
                max: 10
            })
        );
        assert!(matches!(
            decode_binary(&[1, 2], 10),
            Err(BatchError::Malformed(_))
        ));
    }

    #[test]
    fn a_json_array_longer_than_the_limit_is_refused_at_the_first_extra_element() {
        // The elements past the limit are not even transactions: reading stops before them.
        let body = br#"[{"not": "read"}]"#;
        assert_eq!(
            decode_json(body, 0),
            Err(BatchError::TooMany {
                count: None,
                max: 0
            })
        );
        assert_eq!(decode_json(b"[]", 0), Ok(vec![]));
        assert!(matches!(
            decode_json(b"[", 5),
            Err(BatchError::Malformed(_))
        ));
        assert!(matches!(
            decode_json(b"[] x", 5),
            Err(BatchError::Malformed(_))
        ));
    }
}
