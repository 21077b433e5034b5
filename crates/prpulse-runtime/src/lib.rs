//! Plumbing shared by the prpulse binaries, so each `main.rs` is config,
//! telemetry and wiring only.

pub mod bound;
pub mod env;
pub mod metrics_endpoint;
pub mod service;
pub mod shutdown;
pub mod telemetry;
pub mod wiring;

pub use bound::BoundAddresses;
pub use env::{ConfigError, Env};
pub use metrics_endpoint::Readiness;
pub use service::ServiceConfig;
