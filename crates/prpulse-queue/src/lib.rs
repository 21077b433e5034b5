//! RabbitMQ as prpulse uses it: the topology (one topic exchange, one
//! quorum work queue, one dead-letter queue), the envelope every message
//! carries, a publisher that reports success only for a routed, confirmed
//! publish, and a connection supervisor that reconnects with backoff.

pub mod connect;
pub mod dead_letters;
pub mod depth;
pub mod envelope;
pub mod headers;
pub mod publisher;
pub mod settle;
pub mod topology;

pub use envelope::{Envelope, EnvelopeError, Source};
pub use publisher::{PublishError, Publisher, PublisherSettings};
pub use topology::Topology;

pub use lapin;
pub use prpulse_domain::PayloadEncoding;
