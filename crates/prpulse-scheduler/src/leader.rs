//! One active scheduler: the replica that holds a Postgres session
//! advisory lock acts, the others wait. The lock lives as long as its
//! connection, so a replica that dies or loses the database loses it too,
//! and a standby takes over.

use std::time::Duration;

use prpulse_store::{StoreError, Target};
use tokio::task::JoinHandle;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Any fixed number, the same in every replica.
const SCHEDULER_LOCK_ID: i64 = 0x7072_7075_6c73_6502;

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
            && tokio::time::timeout(
                Duration::from_secs(5),
                self.client.query_one("SELECT 1", &[]),
            )
            .await
            .is_ok_and(|answer| answer.is_ok())
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        // Closing the session releases the lock at once.
        self.connection.abort();
    }
}

async fn try_acquire(database_url: &str) -> Result<Option<Leadership>, StoreError> {
    let (client, connection) = Target::parse(database_url)?.connect().await?;
    let locked: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&SCHEDULER_LOCK_ID])
        .await?
        .get(0);
    if locked {
        Ok(Some(Leadership { client, connection }))
    } else {
        connection.abort();
        Ok(None)
    }
}
