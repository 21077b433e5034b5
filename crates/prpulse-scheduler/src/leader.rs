//! One active scheduler: the replica that holds a Postgres session
//! advisory lock acts, the others wait. The lock lives as long as its
//! connection, so a replica that dies or loses the database loses it too,
//! and a standby takes over.
//!
//! A partition is bounded by TCP keepalives on both ends of the lock's
//! session: after [`LOCK_LOSS_BOUND`] of silence Postgres drops the
//! session (freeing the lock for a standby) and the leader's side of the
//! connection fails. The acting replica also asks before each repository
//! whether it still holds the lock (a `SELECT 1` on that session, answered
//! within [`STILL_HELD_TIMEOUT`]), so it stops acting mid-round.
//!
//! With a primary and standbys (several hosts in `PRPULSE_DATABASE_URL`)
//! the lock is taken on the primary only. A failover ends the lock's
//! session with the old primary; the replicas then ask the promoted
//! server, where no one holds it yet, and one of them acts again.

use std::time::Duration;

use prpulse_store::{StoreError, Target};
use tokio::task::JoinHandle;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Any fixed number, the same in every replica.
pub const SCHEDULER_LOCK_ID: i64 = 0x7072_7075_6c73_6502;

/// Silence on the lock's session before the first keepalive probe.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// Unanswered probes before the connection is declared dead.
pub const KEEPALIVE_RETRIES: u32 = 3;
/// How long a partitioned leader's session outlives the partition, at
/// most: idle + interval × retries (25 s), and as long for data sent but
/// not acknowledged (`tcp_user_timeout`).
pub const LOCK_LOSS_BOUND: Duration = Duration::from_secs(
    KEEPALIVE_IDLE.as_secs() + KEEPALIVE_INTERVAL.as_secs() * KEEPALIVE_RETRIES as u64,
);
/// How long the leader waits for its lock session to answer.
pub const STILL_HELD_TIMEOUT: Duration = Duration::from_secs(5);

/// The server's side of the keepalives (session settings any role may
/// change; ignored on a Unix socket). `scope` is `""` or `"LOCAL"`.
pub fn server_keepalives(scope: &str) -> String {
    format!(
        "SET {scope} tcp_keepalives_idle = {idle}; SET {scope} tcp_keepalives_interval = {interval}; \
         SET {scope} tcp_keepalives_count = {retries}; SET {scope} tcp_user_timeout = {user_ms}",
        idle = KEEPALIVE_IDLE.as_secs(),
        interval = KEEPALIVE_INTERVAL.as_secs(),
        retries = KEEPALIVE_RETRIES,
        user_ms = LOCK_LOSS_BOUND.as_millis(),
    )
}

/// The client's side: the lock's session, from `PRPULSE_DATABASE_URL`,
/// with keepalives that notice a dead peer within [`LOCK_LOSS_BOUND`].
pub fn lock_session(database_url: &str) -> Result<Target, StoreError> {
    let mut target = Target::parse(database_url)?;
    target
        .config
        .keepalives(true)
        .keepalives_idle(KEEPALIVE_IDLE)
        .keepalives_interval(KEEPALIVE_INTERVAL)
        .keepalives_retries(KEEPALIVE_RETRIES)
        .tcp_user_timeout(LOCK_LOSS_BOUND);
    if target.config.get_connect_timeout().is_none() {
        target.config.connect_timeout(STILL_HELD_TIMEOUT);
    }
    if target.config.get_application_name().is_none() {
        target.config.application_name(LOCK_SESSION_NAME);
    }
    Ok(target)
}

/// The lock session's `application_name` (unless the URL sets one), to
/// find it in `pg_stat_activity`.
pub const LOCK_SESSION_NAME: &str = "prpulse-sync-scheduler lock";

pub struct Leadership {
    client: Client,
    connection: JoinHandle<()>,
}

impl Leadership {
    /// Waits until this replica holds the lock; `None` if stopped first.
    pub async fn acquire(
        database_url: &str,
        poll: Duration,
        stop: &CancellationToken,
    ) -> Option<Self> {
        let mut told_standby = false;
        while !stop.is_cancelled() {
            match try_acquire(database_url).await {
                Ok(Some(leadership)) => return Some(leadership),
                Ok(None) if !told_standby => {
                    info!("another scheduler is active; standing by");
                    told_standby = true;
                }
                Ok(None) => {}
                Err(error) => warn!(%error, "cannot ask Postgres for the scheduler lock"),
            }
            tokio::select! {
                () = stop.cancelled() => return None,
                () = tokio::time::sleep(poll) => {}
            }
        }
        None
    }

    /// True while the lock's connection is alive (and so the lock held).
    pub async fn still_held(&self) -> bool {
        !self.client.is_closed()
            && tokio::time::timeout(STILL_HELD_TIMEOUT, self.client.query_one("SELECT 1", &[]))
                .await
                .is_ok_and(|answer| answer.is_ok())
    }

    /// A setting of the lock's session as Postgres sees it (`SHOW`).
    pub async fn show(&self, setting: &str) -> Result<String, StoreError> {
        Ok(self
            .client
            .query_one(&format!("SHOW {setting}"), &[])
            .await?
            .get(0))
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        // Closing the session releases the lock at once.
        self.connection.abort();
    }
}

async fn try_acquire(database_url: &str) -> Result<Option<Leadership>, StoreError> {
    let (client, connection) = lock_session(database_url)?.connect().await?;
    client.batch_execute(&server_keepalives("")).await?;
    // Advisory locks are the server's own, not replicated: one taken on a
    // standby would not exclude a replica locking on the primary. So the
    // lock is only asked of the primary (`NULL` on a standby).
    let locked: Option<bool> = client
        .query_one(
            "SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_try_advisory_lock($1) END",
            &[&SCHEDULER_LOCK_ID],
        )
        .await?
        .get(0);
    match locked {
        Some(true) => Ok(Some(Leadership { client, connection })),
        Some(false) => {
            connection.abort();
            Ok(None)
        }
        None => {
            warn!("the database server is a standby; asking the primary for the scheduler lock");
            connection.abort();
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_session_has_keepalives_within_the_documented_bound() {
        let target = lock_session("postgres://postgres@127.0.0.1:5432/prpulse").unwrap();
        let config = &target.config;
        assert!(config.get_keepalives());
        assert_eq!(config.get_keepalives_idle(), KEEPALIVE_IDLE);
        assert_eq!(config.get_keepalives_interval(), Some(KEEPALIVE_INTERVAL));
        assert_eq!(config.get_keepalives_retries(), Some(KEEPALIVE_RETRIES));
        assert_eq!(config.get_tcp_user_timeout(), Some(&LOCK_LOSS_BOUND));
        assert_eq!(LOCK_LOSS_BOUND, Duration::from_secs(25));
        let sql = server_keepalives("LOCAL");
        assert!(sql.contains("SET LOCAL tcp_keepalives_idle = 10"), "{sql}");
        assert!(sql.contains("tcp_user_timeout = 25000"), "{sql}");
    }

    /// Against the machine's Postgres (`PRPULSE_TEST_DATABASE_URL`), over
    /// TCP: the server's side of the keepalives is set on the lock session.
    #[tokio::test]
    async fn postgres_holds_the_lock_session_to_the_same_keepalives() {
        let url = std::env::var("PRPULSE_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let stop = CancellationToken::new();
        let leadership = Leadership::acquire(&url, Duration::from_millis(100), &stop)
            .await
            .expect("the lock");
        assert_eq!(leadership.show("tcp_keepalives_idle").await.unwrap(), "10");
        assert_eq!(
            leadership.show("tcp_keepalives_interval").await.unwrap(),
            "5"
        );
        assert_eq!(leadership.show("tcp_keepalives_count").await.unwrap(), "3");
        assert_eq!(leadership.show("tcp_user_timeout").await.unwrap(), "25000");
        assert_eq!(
            leadership.show("application_name").await.unwrap(),
            LOCK_SESSION_NAME
        );
    }
}
