//! Jira Server / Data Center as a second source: what its webhooks send
//! (`payload`), the delivery id prpulse derives for them (`delivery`, Jira
//! sends none), the issue keys a pull request names (`keys`) and the
//! webhook REST API that `prpulse integration add-jira` and the scheduler
//! use (`client`), and why ingest refuses a delivery (`refusal`).

pub mod client;
pub mod delivery;
pub mod keys;
pub mod name;
pub mod payload;
pub mod refusal;

pub use client::{JiraClient, JiraError, Webhook, WebhookApi, WebhookSpec};
pub use delivery::{DeliveryRule, derive_delivery_id, integration_of};
pub use keys::{issue_keys_in, project_of};
pub use name::{IntegrationName, IntegrationNameError};
pub use payload::{Change, ChangeField, IssueEvent, IssueSnapshot, JiraEventKind, PayloadError};
pub use refusal::JiraRefusal;

/// The event name every Jira delivery carries on the queue (its routing
/// key is `jira.<issue event>`).
pub const EVENT: &str = "jira";
