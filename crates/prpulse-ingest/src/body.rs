//! Reading a body nobody has verified yet, within its reservation in the
//! body budget ([`crate::budget`]). Nothing is allocated from
//! `Content-Length`: chunks are kept as they come, verified in place, and
//! joined only once a body is verified.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use crate::{budget::Reservation, error::IngestError};

/// A body as it arrived, in chunks.
#[derive(Debug, Default)]
pub struct Body {
    chunks: Vec<Bytes>,
    len: usize,
}

impl Body {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        self.chunks.iter().map(|chunk| &chunk[..])
    }

    /// The body in one piece; call only once it is verified, since a body
    /// of many chunks is copied.
    pub fn into_contiguous(self) -> Bytes {
        match <[Bytes; 1]>::try_from(self.chunks) {
            Ok([only]) => only,
            Err(chunks) => {
                let mut joined = BytesMut::with_capacity(self.len);
                for chunk in chunks {
                    joined.extend_from_slice(&chunk);
                }
                joined.freeze()
            }
        }
    }
}

/// Reads `payload` within `limit` bytes and the body deadline, growing
/// `reservation` before it holds what it read. A declared length is
/// reserved whole before the first byte is read, so a body that cannot be
/// held is refused unread.
pub async fn read_body<S, E>(
    mut payload: S,
    declared: Option<usize>,
    limit: usize,
    timeout: Duration,
    reservation: &mut Reservation<'_>,
) -> Result<Body, IngestError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    if declared.is_some_and(|length| length > limit) {
        return Err(IngestError::TooLarge { limit });
    }
    if let Some(declared) = declared {
        reservation.grow_to(declared)?;
    }
    let read = async {
        let mut body = Body::default();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|error| IngestError::BadBody(error.to_string()))?;
            let len = body.len + chunk.len();
            if len > limit {
                return Err(IngestError::TooLarge { limit });
            }
            reservation.grow_to(len)?;
            body.len = len;
            body.chunks.push(chunk);
        }
        Ok(body)
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| IngestError::BodyTimeout(timeout))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        budget::{BodyBudget, BodySettings},
        source::Source,
    };

    const MIB: usize = 1024 * 1024;

    fn budget(budget_bytes: usize) -> BodyBudget {
        BodyBudget::new(&BodySettings {
            budget_bytes,
            uploads_per_source: 1,
        })
    }

    fn reservation(budget: &BodyBudget) -> Reservation<'_> {
        budget.reservation(Source::of("203.0.113.1".parse().unwrap()).key)
    }

    fn stream(chunks: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
        futures_util::stream::iter(
            chunks
                .iter()
                .map(|chunk| Ok(Bytes::from_static(chunk)))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn a_declared_length_is_reserved_before_reading_and_chunks_are_kept_as_sent() {
        let budget = budget(MIB);
        let mut reservation = reservation(&budget);
        // Declared larger than the budget: refused before a byte is read.
        // A body that never comes: reading it would end in the timeout.
        let never_read = futures_util::stream::pending::<Result<Bytes, String>>();
        let refused = read_body(
            never_read,
            Some(MIB + 1),
            2 * MIB,
            Duration::from_secs(1),
            &mut reservation,
        )
        .await
        .unwrap_err();
        assert!(matches!(refused, IngestError::BodyBudgetExhausted { .. }));

        let body = read_body(
            stream(&[b"{\"a\":", b"1}"]),
            None,
            MIB,
            Duration::from_secs(1),
            &mut reservation,
        )
        .await
        .unwrap();
        assert_eq!(body.len(), 7);
        assert_eq!(budget.in_flight(), 7, "a chunked body reserves what came");
        assert_eq!(body.chunks().count(), 2);
        assert_eq!(&body.into_contiguous()[..], b"{\"a\":1}");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_413_however_it_is_sent() {
        let budget = budget(MIB);
        let mut reservation = reservation(&budget);
        let declared = read_body(
            stream(&[b"x"]),
            Some(11),
            10,
            Duration::from_secs(1),
            &mut reservation,
        )
        .await;
        assert!(matches!(declared, Err(IngestError::TooLarge { limit: 10 })));
        let chunked = read_body(
            stream(&[b"123456", b"789012"]),
            None,
            10,
            Duration::from_secs(1),
            &mut reservation,
        )
        .await;
        assert!(matches!(chunked, Err(IngestError::TooLarge { limit: 10 })));
    }
}
