//! GitHub's side of the contract: how a webhook delivery is signed, which
//! headers carry its identity, and the payload shapes prpulse projects.

pub mod dora_events;
pub mod headers;
pub mod payload;
pub mod signature;

pub use headers::{DeliveryHeaders, HeaderError};
pub use signature::{Signature, SignatureError, sign, verify, verify_parts};
