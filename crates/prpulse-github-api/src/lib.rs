//! GitHub's REST API as prpulse uses it. One client does what every call
//! needs: token auth, the versioned media type, `Link` pagination, ETag
//! revalidation, waiting out rate limits (primary and secondary) within a
//! bound, retrying server errors, and errors that say what to fix. It acts
//! with a token, or as a GitHub App installation (tokens minted as needed).

pub mod app;
mod client;
pub mod deliveries;
pub mod deployments;
mod error;
pub mod hooks;
mod link;
pub mod orgs;
pub mod origin;
pub mod pulls;

pub use app::{AppInstallation, Credentials};
pub use client::{ClientSettings, GitHubClient, RateLimit};
pub use error::GitHubError;
