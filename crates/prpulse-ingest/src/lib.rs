//! prpulse-ingest: `POST /webhooks/github` (and `/webhooks/jira/…`,
//! `jira.rs`) verifies a delivery and answers 2xx only once RabbitMQ has
//! confirmed it (DESIGN.md, "Ingest contract").

pub mod allowlist;
pub mod body;
pub mod budget;
pub mod config;
pub mod error;
pub mod health;
pub mod jira;
pub mod limits;
pub mod metrics;
pub mod secrets;
pub mod source;
pub mod startup;
pub mod webhook;

pub use config::IngestConfig;
pub use startup::Application;
