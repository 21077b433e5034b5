//! prpulse-sync-scheduler: keeps GitHub and prpulse in step. Several
//! replicas may run; a Postgres advisory lock makes exactly one act.
//! It reconciles repository and organisation webhooks (install, adopt,
//! recreate, repair, rotate the secret, remove), asks GitHub to redeliver
//! failed deliveries, backfills, syncs teams, and drops old payloads.

pub mod config;
pub mod github;
pub mod hooks;
pub mod jobs;
pub mod leader;
pub mod metrics;
pub mod round;
pub mod startup;

pub use config::SchedulerConfig;
pub use startup::Scheduler;
