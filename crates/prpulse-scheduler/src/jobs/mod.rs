//! The scheduler's jobs. Each module's plain async functions work over
//! their inputs, so the CLI and tests run them directly; each `run` is the
//! job's orchestration within a round (what to list, per-item errors, its
//! gauges), called by the round's runner in `startup`.

pub mod backfill;
pub mod backfill_new;
pub mod dora_links;
pub mod jira;
pub mod meta;
pub mod reconcile;
pub mod redelivery;
pub mod retention;
pub mod teams;
