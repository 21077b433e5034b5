//! The scheduler's jobs besides webhook reconciliation. Each is a plain
//! async function over its inputs, so the CLI and tests run them directly.

pub mod backfill;
pub mod meta;
pub mod redelivery;
pub mod retention;
pub mod teams;
