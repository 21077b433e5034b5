//! What the end-to-end tests share: a private database and topology per
//! test and the real binaries started against them (`prpulse-testkit`,
//! which the benchmark shares too, re-exported here under the names tests
//! use), GitHub-shaped payloads built in code (also `prpulse-testkit`,
//! never copied from elsewhere), the fakes of GitHub and Jira, the fault
//! tools, and the shared fixtures read in place.

pub mod direct;
pub mod dora_github;
pub mod dora_payloads;
pub mod fake_github;
pub mod fault_stream;
pub mod fixtures;
pub mod jira_payloads;
pub mod metrics;
pub mod private_postgres;
pub mod proxy;
pub mod rabbit_cluster;

pub use prpulse_testkit::payloads::{Delivery, Person, PrShown, PullRequestBuilder, Repo};
pub use prpulse_testkit::{
    Stack, StackOptions, TestDb, api, broker, db, eventually, http_client, listen, payloads,
    process, stack, unique_suffix, wait,
};
