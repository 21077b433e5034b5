//! Which work queue a delivery travels, by its size: the one rule every
//! publisher (ingest, backfill, the dead-letter replay, the worker's
//! retries) applies.

use lapin::BasicProperties;
use prpulse_domain::PayloadEncoding;

use super::Topology;
use crate::envelope::payload_encoding;

/// Which work queue a delivery travels: the broker can bound a consumer's
/// unacked messages only by count, so a worker sizes each queue's prefetch
/// for the largest message that queue can hold. Keeping the rare
/// multi-megabyte deliveries apart lets the common 20 KB ones come by the
/// hundred, in full batches, instead of a prefetch sized for 25 MiB each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SizeClass {
    /// At most the topology's large-delivery size: the work queue.
    Standard,
    /// Over it: a work queue (and retry tiers) of their own.
    Large,
}

impl SizeClass {
    pub const ALL: [Self; 2] = [Self::Standard, Self::Large];
}

/// `PRPULSE_LARGE_DELIVERY_BYTES` unless set: 1 MiB, fifty times
/// GitHub's typical delivery and a small fraction of its 25 MiB cap.
pub const DEFAULT_LARGE_DELIVERY_BYTES: usize = 1024 * 1024;

impl Topology {
    /// Deliveries over `bytes` (decoded or as carried, whichever is more)
    /// travel the large work queue.
    pub fn with_large_delivery_bytes(mut self, bytes: usize) -> Self {
        self.large_delivery_bytes = bytes;
        self
    }

    pub fn large_delivery_bytes(&self) -> usize {
        self.large_delivery_bytes
    }

    /// The class of a message as the broker carries it: its body in the
    /// encoding its properties name. A body whose length cannot be read
    /// counts at the bytes carried.
    pub fn size_class_of(&self, properties: &BasicProperties, body: &[u8]) -> SizeClass {
        let encoding = payload_encoding(properties).unwrap_or(PayloadEncoding::Identity);
        let payload_bytes = encoding.decoded_len(body).unwrap_or(body.len());
        self.size_class(payload_bytes, body.len())
    }

    /// The class of a message whose payload is `payload_bytes` long once
    /// decoded and `carried_bytes` long as the broker carries it.
    pub fn size_class(&self, payload_bytes: usize, carried_bytes: usize) -> SizeClass {
        if payload_bytes.max(carried_bytes) > self.large_delivery_bytes {
            SizeClass::Large
        } else {
            SizeClass::Standard
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::with_payload_encoding;

    #[test]
    fn deliveries_over_the_large_size_travel_apart() {
        let topology = Topology::new("p", 7).with_large_delivery_bytes(100);
        assert_eq!(topology.size_class(100, 30), SizeClass::Standard);
        assert_eq!(topology.size_class(101, 30), SizeClass::Large);
        // Incompressible bytes grow a little under lz4: what the broker
        // carries counts too.
        assert_eq!(topology.size_class(99, 101), SizeClass::Large);
        let json = [b' '; 1000];
        let compressed = PayloadEncoding::Lz4.encode(&json);
        assert!(compressed.len() < 100);
        let lz4 = with_payload_encoding(BasicProperties::default(), PayloadEncoding::Lz4);
        assert_eq!(
            topology.size_class_of(&lz4, &compressed),
            SizeClass::Large,
            "decoded, it is 1000 bytes"
        );
        assert_eq!(
            topology.size_class_of(&BasicProperties::default(), &json[..50]),
            SizeClass::Standard
        );
        assert_eq!(
            topology.exchange_for(SizeClass::Large),
            "p.large-deliveries"
        );
        assert_eq!(topology.work_queue_for(SizeClass::Large), "p.work.large");
        assert_eq!(
            topology.exchanges(),
            ["p.deliveries", "p.large-deliveries", "p.dead-letter"]
        );
        assert_eq!(
            Topology::new("p", 7).large_delivery_bytes(),
            DEFAULT_LARGE_DELIVERY_BYTES
        );
    }
}
