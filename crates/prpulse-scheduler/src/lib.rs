//! prpulse-sync-scheduler: keeps GitHub and prpulse in step. Several
//! replicas may run; a Postgres advisory lock makes exactly one act.
//! Today it reconciles repository webhooks (install, adopt, recreate,
//! repair, rotate the secret, remove); redelivery, backfill, team sync and
//! retention come next (DESIGN.md, "Sync-scheduler").

pub mod config;
pub mod hooks;
pub mod jobs;
pub mod leader;
pub mod metrics;
pub mod startup;

pub use config::SchedulerConfig;
pub use startup::Scheduler;
