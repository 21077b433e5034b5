//! One writer per hook: the site's advisory lock, held in a transaction of
//! its own for as long as a reconciliation takes.

use prpulse_store::StoreError;
use tokio_postgres::error::SqlState;

use super::{HookReconciler, HookSite, ReconcileError};

/// The advisory-lock class (first key) of hook sites; the second key is a
/// hash of [`HookSite::lock_key`]. The scheduler's leader lock uses the
/// one-bigint form, a different key space.
const HOOK_LOCK_CLASS: i32 = 0x7072_686b;

/// How long a writer waits for another to finish with the same hook: one
/// reconciliation is a few bounded GitHub calls.
pub(super) const HOOK_LOCK_WAIT: &str = "120s";

impl HookReconciler<'_> {
    /// Runs `work` holding `site`'s advisory lock. The lock is
    /// transaction-scoped on a connection of its own, so it is released
    /// when `work` ends, and also when this future is dropped (a cancelled
    /// round): the transaction rolls back, whereas a session lock would
    /// stay with the pooled connection.
    pub(super) async fn locked<T>(
        &self,
        site: HookSite<'_>,
        work: impl AsyncFnOnce() -> Result<T, ReconcileError>,
    ) -> Result<T, ReconcileError> {
        let mut connection = self.pool.get().await.map_err(StoreError::from)?;
        let lock = connection.transaction().await.map_err(StoreError::from)?;
        // The server's keepalives too: a writer cut off mid-call must not
        // keep the hook's lock for the kernel's two hours.
        lock.batch_execute(&format!(
            "SET LOCAL lock_timeout = '{HOOK_LOCK_WAIT}'; {}",
            crate::leader::server_keepalives("LOCAL")
        ))
        .await
        .map_err(StoreError::from)?;
        let key = site.lock_key();
        if let Err(error) = lock
            .execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                &[&HOOK_LOCK_CLASS, &key],
            )
            .await
        {
            return Err(if error.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
                ReconcileError::Busy(site.owner().to_string())
            } else {
                StoreError::from(error).into()
            });
        }
        let outcome = work().await;
        // Nothing was written in this transaction: ending it frees the lock.
        let released = lock.rollback().await;
        let outcome = outcome?;
        released.map_err(StoreError::from)?;
        Ok(outcome)
    }
}
