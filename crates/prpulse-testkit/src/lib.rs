//! What prpulse's end-to-end tests (`prpulse-e2e`) and its benchmark
//! (`prpulse-bench`) both stand on: the real binaries started against a
//! throwaway database and topology (`stack`, `api`, `db`, `broker`), the
//! one way to wait for something (`wait`), and GitHub-shaped payloads made
//! in code (`payloads`). A crate of its own so the benchmark needs no test
//! harness to start a stack or make a workload.

pub mod api;
pub mod broker;
pub mod db;
pub mod listen;
pub mod payloads;
pub mod process;
pub mod stack;
pub mod wait;

pub use db::TestDb;
pub use payloads::{Delivery, Person, PrShown, PullRequestBuilder, Repo};
pub use stack::{Stack, StackOptions};
pub use wait::eventually;

/// An HTTP client for tests and the benchmark. reqwest is built without a
/// bundled crypto provider (the GitHub client installs ring); so does this.
pub fn http_client() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// A short random suffix for names that must not collide between tests.
pub fn unique_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}
