//! The end-to-end suites as modules of one test binary: one link of the
//! big binary instead of one per suite. Each suite is a module named as
//! its file; filter one with nextest as `-E 'test(/^pipeline::/)'`.
//! nextest still runs every test in a process of its own, so a suite that
//! sets something process-wide does not leak into another.

mod abuse;
mod backfill_drafts;
mod business_hours_sql;
mod cluster_faults;
mod database_tls;
mod dead_letters;
mod dora;
mod faults;
mod github_fixtures;
mod ingest_contract;
mod jira;
mod jira_fixtures;
mod jira_summary;
mod metrics_stay_right;
mod observability;
mod payload_partitions;
mod pipeline;
mod postgres_failover;
mod projection_properties;
mod read_api;
mod rebuild;
mod scheduler;
mod secrets;
mod summary_rollup;
mod worker_memory;
