//! Postgres: the schema (migrations/), the pool, and every query prpulse
//! runs. Callers pass transactions in, so the worker decides what commits
//! together.

pub mod api_tokens;
pub mod calendars;
pub mod connect;
pub mod crypto;
pub mod deliveries;
pub mod dora;
pub mod error;
pub mod integrations;
pub mod jira;
pub mod jira_integrations;
pub mod migrate;
pub mod payloads;
pub mod pool;
pub mod projection;
pub mod read;
pub mod rebuild;
pub mod rekey;
pub mod retention;
pub mod sealed;
pub mod secrets;
pub mod sources;
pub mod summary_rollup;
pub mod teams;
pub mod tracking;

pub use connect::Target;
pub use crypto::{Keyring, SecretKey, SecretKeyError};
pub use deadpool_postgres::{GenericClient, Transaction};
pub use error::{Retryability, StoreError};
pub use pool::{Pool, PoolSettings, connect_pool};
pub use sealed::{Credential, HookSlot, JiraSecret, SealedColumn, SealedPlace};
