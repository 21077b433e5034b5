//! How a delivery's payload bytes travel and rest: compressed once, by
//! whoever publishes the delivery (ingest, the scheduler's backfill), and
//! then carried by the broker and stored by the worker as they are.
//!
//! lz4 rather than zstd: a 20 KB GitHub payload compresses in tens of
//! microseconds, the per-delivery budget that matters most here (ingest's
//! CPU on a machine the broker mostly takes); zstd saves more bytes for
//! several times the CPU. The block format with the uncompressed length
//! first (4 bytes, little-endian) is `lz4_flex`'s `compress_prepend_size`.

use std::borrow::Cow;

/// The encoding of a payload's bytes, as the message header and the
/// stored row name it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PayloadEncoding {
    /// The JSON as GitHub sent it: messages from before compression, and
    /// publishers that do not compress.
    #[default]
    Identity,
    /// lz4 block, uncompressed length first.
    Lz4,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EncodingError {
    #[error("unknown payload encoding {0:?}")]
    Unknown(String),
    #[error("compressed payload is shorter than its length prefix")]
    Truncated,
    #[error("compressed payload claims {claimed} bytes, over the limit of {limit}")]
    TooLarge { claimed: usize, limit: usize },
    #[error("compressed payload is corrupt: {0}")]
    Corrupt(String),
}

impl PayloadEncoding {
    pub const LZ4: &'static str = "lz4";
    pub const IDENTITY: &'static str = "identity";

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identity => Self::IDENTITY,
            Self::Lz4 => Self::LZ4,
        }
    }

    pub fn parse(raw: &str) -> Result<Self, EncodingError> {
        match raw {
            Self::IDENTITY => Ok(Self::Identity),
            Self::LZ4 => Ok(Self::Lz4),
            other => Err(EncodingError::Unknown(other.to_owned())),
        }
    }

    /// `body` in this encoding.
    pub fn encode(self, body: &[u8]) -> Cow<'_, [u8]> {
        match self {
            Self::Identity => Cow::Borrowed(body),
            Self::Lz4 => Cow::Owned(lz4_flex::block::compress_prepend_size(body)),
        }
    }

    /// How long the payload `bytes` stand for is, without decoding them:
    /// for lz4 what its length prefix says, `None` if there is none.
    pub fn decoded_len(self, bytes: &[u8]) -> Option<usize> {
        match self {
            Self::Identity => Some(bytes.len()),
            Self::Lz4 => {
                let prefix = bytes.first_chunk::<4>()?;
                Some(usize::try_from(u32::from_le_bytes(*prefix)).unwrap_or(usize::MAX))
            }
        }
    }

    /// The payload `bytes` in this encoding stand for. `limit` bounds what a
    /// length prefix may claim (the largest body prpulse accepts), so a
    /// corrupt prefix cannot make it allocate gigabytes.
    pub fn decode(self, bytes: &[u8], limit: usize) -> Result<Cow<'_, [u8]>, EncodingError> {
        match self {
            Self::Identity => Ok(Cow::Borrowed(bytes)),
            Self::Lz4 => {
                let (prefix, compressed) = bytes
                    .split_first_chunk::<4>()
                    .ok_or(EncodingError::Truncated)?;
                let claimed = usize::try_from(u32::from_le_bytes(*prefix)).unwrap_or(usize::MAX);
                if claimed > limit {
                    return Err(EncodingError::TooLarge { claimed, limit });
                }
                let decoded = lz4_flex::block::decompress(compressed, claimed)
                    .map_err(|error| EncodingError::Corrupt(error.to_string()))?;
                if decoded.len() != claimed {
                    return Err(EncodingError::Corrupt(format!(
                        "{} bytes where the prefix says {claimed}",
                        decoded.len()
                    )));
                }
                Ok(Cow::Owned(decoded))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] =
        br#"{"action":"opened","pull_request":{"title":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}}"#;

    #[test]
    fn lz4_round_trips_and_is_smaller_for_json() {
        let encoded = PayloadEncoding::Lz4.encode(BODY);
        assert!(encoded.len() < BODY.len(), "{} bytes", encoded.len());
        assert_eq!(
            PayloadEncoding::Lz4.decode(&encoded, BODY.len()).unwrap(),
            BODY
        );
        assert_eq!(PayloadEncoding::Identity.encode(BODY), BODY);
        assert_eq!(PayloadEncoding::Identity.decode(BODY, 0).unwrap(), BODY);
    }

    #[test]
    fn the_decoded_length_is_read_from_the_prefix() {
        let encoded = PayloadEncoding::Lz4.encode(BODY);
        assert_eq!(PayloadEncoding::Lz4.decoded_len(&encoded), Some(BODY.len()));
        assert_eq!(PayloadEncoding::Lz4.decoded_len(&[1, 0]), None);
        assert_eq!(
            PayloadEncoding::Identity.decoded_len(BODY),
            Some(BODY.len())
        );
    }

    #[test]
    fn a_corrupt_or_oversized_payload_is_an_error_not_a_huge_allocation() {
        let encoded = PayloadEncoding::Lz4.encode(BODY);
        assert_eq!(
            PayloadEncoding::Lz4.decode(&encoded, BODY.len() - 1),
            Err(EncodingError::TooLarge {
                claimed: BODY.len(),
                limit: BODY.len() - 1
            })
        );
        assert_eq!(
            PayloadEncoding::Lz4.decode(&[1, 0], 100),
            Err(EncodingError::Truncated)
        );
        let mut lying = encoded.into_owned();
        lying[0] = lying[0].wrapping_add(7);
        assert!(matches!(
            PayloadEncoding::Lz4.decode(&lying, 1 << 20),
            Err(EncodingError::Corrupt(_))
        ));
        // Raw JSON read as lz4 (a header that lies) is refused too.
        assert!(PayloadEncoding::Lz4.decode(BODY, 1 << 20).is_err());
    }

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for encoding in [PayloadEncoding::Identity, PayloadEncoding::Lz4] {
            assert_eq!(PayloadEncoding::parse(encoding.as_str()), Ok(encoding));
        }
        assert!(matches!(
            PayloadEncoding::parse("gzip"),
            Err(EncodingError::Unknown(_))
        ));
    }
}
