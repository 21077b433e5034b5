//! What prpulse's end-to-end tests (`prpulse-e2e`) and its benchmark
//! (`prpulse-bench`) both build deliveries with: GitHub-shaped payloads
//! made in code, for histories no recorded fixture covers. A crate of its
//! own so the benchmark needs no test harness to make a workload.

pub mod payloads;

pub use payloads::{Delivery, Person, PrShown, PullRequestBuilder, Repo};
