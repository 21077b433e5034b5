//! What the end-to-end tests share: a private database and topology per
//! test, the real binaries started against them, GitHub-shaped payloads
//! built in code (`prpulse-testkit`, never copied from elsewhere), and the
//! shared fixtures read in place.

pub mod api;
pub mod broker;
pub mod db;
pub mod direct;
pub mod dora_github;
pub mod dora_payloads;
pub mod fake_github;
pub mod fault_stream;
pub mod fixtures;
pub mod jira_payloads;
pub mod listen;
pub mod metrics;
pub mod private_postgres;
pub mod process;
pub mod proxy;
pub mod rabbit_cluster;
pub mod stack;
pub mod wait;

pub use db::TestDb;
/// The payload builders live in `prpulse-testkit` (the benchmark shares
/// them); `prpulse_e2e::payloads` is still where tests find them.
pub use prpulse_testkit::payloads;
pub use prpulse_testkit::payloads::{Delivery, Person, PrShown, PullRequestBuilder, Repo};
pub use stack::{Stack, StackOptions};
pub use wait::eventually;

/// An HTTP client for tests. reqwest is built without a bundled crypto
/// provider (the GitHub client installs ring); so does this.
pub fn http_client() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// A short random suffix for names that must not collide between tests.
pub fn unique_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}
