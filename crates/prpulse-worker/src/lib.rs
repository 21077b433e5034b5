//! prpulse-worker: takes deliveries off the work queue and, in one
//! Postgres transaction for those the broker has already handed over (up
//! to `PRPULSE_WORKER_BATCH_SIZE`; one at a time after a failure), records
//! each id and applies its projection; acks only after the commit
//! (DESIGN.md, "Worker"). The transaction is set-based: one statement per
//! table for the whole batch (`apply.rs`; rarer event kinds are applied per
//! delivery inside it, `Projection::apply_alone`), and the metrics are
//! loaded, computed by `prpulse_domain::compute_metrics` and saved in one
//! statement each (`recompute.rs`). Bodies arrive lz4-compressed by their
//! publisher and are stored as they came. The route of one delivery:
//! docs/delivery-path.md.

pub mod apply;
pub mod config;
pub mod consumer;
pub mod disposition;
pub mod dora;
pub mod failures;
pub mod jira;
pub mod lanes;
pub mod metrics;
pub mod process;
pub mod projection;
pub mod queue_depth;
pub mod rebuild;
pub mod recompute;
pub mod startup;
pub mod work_queues;

pub use config::WorkerConfig;
pub use process::{Processed, Processor};
pub use startup::Worker;
