//! prpulse-api: the read side. `GET /api/v1/summary` and
//! `GET /api/v1/pull-requests` over `pr_metrics` and the team tables,
//! behind bearer tokens (`prpulse api-token create`), and a page for
//! leads at `/`. Read-only, on its own port, never the webhook port.

pub mod auth;
pub mod config;
pub mod dora;
pub mod error;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod page;
pub mod params;
pub mod routes;
pub mod startup;
pub mod summary;

pub use config::ApiConfig;
pub use startup::Application;
