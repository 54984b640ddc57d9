//! Canonical binary encoding: every hash and signature in depin is computed over these bytes.
//!
//! The rules are few and fixed, so that two implementations agree byte for byte:
//! integers are fixed-width little-endian; byte arrays of fixed size are written as they are;
//! variable-length sequences and strings carry a `u32` length prefix; enums carry a `u8` tag;
//! `bool` is one byte, 0 or 1; `Option` is a `bool` tag followed by the value. Decoding is strict:
//! any other byte, a length that runs past the input, or trailing bytes is an error, so every value
//! has exactly one encoding.

use thiserror::Error;

/// Why a byte string is not the canonical encoding of the expected value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("input ended early while reading {0}")]
    UnexpectedEnd(&'static str),
    #[error("{0} trailing bytes after the value")]
    TrailingBytes(usize),
    #[error("unknown tag {tag} for {what}")]
    InvalidTag { what: &'static str, tag: u8 },
    #[error("a bool must be 0 or 1, got {0}")]
    InvalidBool(u8),
    #[error("text is not valid UTF-8")]
    InvalidUtf8,
    #[error("length {len} of {what} exceeds the limit of {max}")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("invalid {0}")]
    Invalid(&'static str),
}

/// A value with one canonical byte encoding.
pub trait Encode {
    /// Appends the canonical encoding of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// The canonical encoding of `self` as a fresh vector of its exact length (encoded in the
    /// thread's reused buffer, see [`with_encoding`], then copied once: a growing vector would
    /// reallocate a few times for each small record a block writes).
    fn to_bytes(&self) -> Vec<u8> {
        with_encoding(self, <[u8]>::to_vec)
    }
}

/// Runs `f` on the canonical encoding of `value`, made in a buffer this thread reuses: for
/// hot paths that only hash or measure an encoding (a transaction's hash and length are taken
/// on every admission and execution), without an allocation each time.
pub fn with_encoding<T: Encode + ?Sized, R>(value: &T, f: impl FnOnce(&[u8]) -> R) -> R {
    /// A reused buffer larger than this is dropped after use (a rare huge value does not stay).
    const KEEP_BYTES: usize = 1 << 20;
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            value.encode(&mut buf);
            let out = f(&buf);
            if buf.capacity() > KEEP_BYTES {
                *buf = Vec::new();
            }
            out
        }
        // Called again from inside `f`: a fresh buffer.
        Err(_) => {
            let mut out = Vec::new();
            value.encode(&mut out);
            f(&out)
        }
    })
}

/// A value that can be read back from its canonical encoding.
pub trait Decode: Sized {
    /// Reads one value from the reader.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Decodes exactly one value from `bytes`; trailing bytes are an error.
    fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let value = Self::decode(&mut r)?;
        r.finish()?;
        Ok(value)
    }
}

/// A cursor over canonical bytes.
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(DecodeError::UnexpectedEnd(what));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    /// Takes a fixed-size array.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// Reads a `u32` length prefix and checks it against `max` and against the bytes left.
    pub fn length(&mut self, what: &'static str, max: usize) -> Result<usize, DecodeError> {
        let len = u32::decode(self)? as usize;
        if len > max {
            return Err(DecodeError::TooLong { what, len, max });
        }
        Ok(len)
    }

    /// Succeeds only if every byte was consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.bytes.len() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

macro_rules! int_codec {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
        impl Decode for $t {
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(<$t>::from_le_bytes(r.array(stringify!($t))?))
            }
        }
    )*};
}
int_codec!(u8, u16, u32, u64, u128, i16, i32, i64);

/// Implements the canonical codec for a struct field by field, in the order listed (which must be
/// the declaration order: the encoding is part of the protocol).
macro_rules! struct_codec {
    ($t:ident { $($f:ident: $ft:ty),* $(,)? }) => {
        impl $crate::codec::Encode for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                $($crate::codec::Encode::encode(&self.$f, out);)*
            }
        }
        impl $crate::codec::Decode for $t {
            fn decode(
                r: &mut $crate::codec::Reader<'_>,
            ) -> Result<Self, $crate::codec::DecodeError> {
                Ok($t { $($f: <$ft as $crate::codec::Decode>::decode(r)?,)* })
            }
        }
    };
}
pub(crate) use struct_codec;

impl Encode for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl Decode for bool {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match u8::decode(r)? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(DecodeError::InvalidBool(b)),
        }
    }
}

impl<const N: usize> Encode for [u8; N] {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl<const N: usize> Decode for [u8; N] {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.array("byte array")
    }
}

/// Upper bound on any length prefix; a real limit is applied by the type that holds the sequence.
pub const MAX_SEQUENCE_LEN: usize = 1 << 26;

impl Encode for str {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_len(self.len(), out);
        out.extend_from_slice(self.as_bytes());
    }
}

impl Encode for String {
    fn encode(&self, out: &mut Vec<u8>) {
        self.as_str().encode(out);
    }
}

impl Decode for String {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = r.length("string", MAX_SEQUENCE_LEN)?;
        let bytes = r.take(len, "string")?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::InvalidUtf8)
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_len(self.len(), out);
        for item in self {
            item.encode(out);
        }
    }
}

impl<T: Encode> Encode for Box<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        (**self).encode(out);
    }
}

impl<T: Decode> Decode for Box<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        T::decode(r).map(Box::new)
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = r.length("sequence", MAX_SEQUENCE_LEN)?;
        decode_sequence(r, len, "sequence")
    }
}

impl<T: Encode> Encode for std::sync::Arc<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        (**self).encode(out);
    }
}

impl<T: Decode> Decode for std::sync::Arc<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        T::decode(r).map(std::sync::Arc::new)
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.encode(out);
            }
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(if bool::decode(r)? {
            Some(T::decode(r)?)
        } else {
            None
        })
    }
}

/// Decodes `len` values of `T` after their length prefix.
///
/// Every element takes at least one byte, so a length beyond the input is a lie and is refused
/// before anything is reserved. What is reserved up front is further capped at the bytes left
/// in the input (`remaining / size_of::<T>()` elements): a prefix alone can never make the
/// decoder reserve more memory than the input it came in, and the vector grows past that only
/// as elements are actually read.
pub fn decode_sequence<T: Decode>(
    r: &mut Reader<'_>,
    len: usize,
    what: &'static str,
) -> Result<Vec<T>, DecodeError> {
    if len > r.remaining() {
        return Err(DecodeError::UnexpectedEnd(what));
    }
    let mut items = Vec::with_capacity(len.min(r.remaining() / size_of::<T>().max(1)));
    for _ in 0..len {
        items.push(T::decode(r)?);
    }
    Ok(items)
}

/// Writes a `u32` length prefix.
pub fn encode_len(len: usize, out: &mut Vec<u8>) {
    let len = u32::try_from(len).expect("sequence longer than u32::MAX cannot be encoded");
    len.encode(out);
}

impl<A: Encode, B: Encode> Encode for (A, B) {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
        self.1.encode(out);
    }
}

impl<A: Decode, B: Decode> Decode for (A, B) {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok((A::decode(r)?, B::decode(r)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_encoding_sees_the_encoding_also_when_nested_and_after_a_large_value() {
        let small = vec![7u32; 3];
        let large = vec![9u64; 200_000];
        assert_eq!(with_encoding(&small, <[u8]>::to_vec), small.to_bytes());
        assert_eq!(with_encoding(&large, <[u8]>::len), large.to_bytes().len());
        // The buffer of the large value was not kept, and a small one is whole again.
        assert_eq!(with_encoding(&small, <[u8]>::to_vec), small.to_bytes());
        let nested = with_encoding(&small, |outer| {
            (outer.to_vec(), with_encoding(&large, <[u8]>::len))
        });
        assert_eq!(nested, (small.to_bytes(), large.to_bytes().len()));
    }

    #[test]
    fn integers_are_little_endian_fixed_width() {
        assert_eq!(0x0102_0304u32.to_bytes(), vec![4, 3, 2, 1]);
        assert_eq!(1u64.to_bytes().len(), 8);
        assert_eq!(u128::from_bytes(&7u128.to_bytes()), Ok(7));
    }

    #[test]
    fn strict_decoding_rejects_trailing_bytes_and_bad_bools() {
        assert_eq!(u8::from_bytes(&[1, 2]), Err(DecodeError::TrailingBytes(1)));
        assert_eq!(bool::from_bytes(&[2]), Err(DecodeError::InvalidBool(2)));
        assert!(matches!(
            u64::from_bytes(&[1, 2, 3]),
            Err(DecodeError::UnexpectedEnd(_))
        ));
    }

    #[test]
    fn hostile_length_prefix_is_refused_without_allocating() {
        let mut bytes = Vec::new();
        (u32::MAX / 2).encode(&mut bytes);
        assert!(Vec::<u8>::from_bytes(&bytes).is_err());
        assert!(String::from_bytes(&bytes).is_err());
    }

    #[test]
    fn strings_and_options_round_trip() {
        let v: (String, Option<u16>) = ("héllo".into(), Some(9));
        let mut out = Vec::new();
        v.0.encode(&mut out);
        v.1.encode(&mut out);
        let mut r = Reader::new(&out);
        assert_eq!(String::decode(&mut r).unwrap(), v.0);
        assert_eq!(Option::<u16>::decode(&mut r).unwrap(), v.1);
        r.finish().unwrap();
    }
}
