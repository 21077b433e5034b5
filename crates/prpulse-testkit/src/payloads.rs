//! GitHub-shaped webhook payloads built by prpulse's own tests: the same
//! keys and value types GitHub sends (checked against the real fixtures by
//! `github_fixtures.rs`), for histories no fixture covers.
//!
//! One module per builder; a delivery and the time format they share are
//! here.

mod membership;
mod person;
mod pull_request;
mod repo;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

pub use membership::membership;
pub use person::Person;
pub use pull_request::{PrShown, PullRequestBuilder};
pub use repo::Repo;

/// One delivery: what GitHub would post, less the signature (the stack
/// signs with the secret of the ingest it posts to).
#[derive(Clone, Debug)]
pub struct Delivery {
    pub event: String,
    pub id: String,
    pub body: Vec<u8>,
}

impl Delivery {
    pub fn new(event: &str, payload: &Value) -> Self {
        Self {
            event: event.to_owned(),
            id: uuid::Uuid::new_v4().to_string(),
            body: serde_json::to_vec(payload).unwrap(),
        }
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}
