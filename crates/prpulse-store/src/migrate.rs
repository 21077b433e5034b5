use tracing::info;

use crate::{StoreError, Target};

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// Any fixed number: every prpulse process that migrates takes this lock
/// first, so ingest and workers starting together apply each migration once.
const MIGRATION_LOCK_ID: i64 = 0x7072_7075_6c73_6501;

/// Applies the pending migrations under a session advisory lock.
pub async fn migrate(database_url: &str) -> Result<(), StoreError> {
    let (mut client, connection) = Target::parse(database_url)?.connect().await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_ID])
        .await?;
    let report = embedded::migrations::runner()
        .set_abort_divergent(true)
        .run_async(&mut client)
        .await;
    // The lock ends with the session anyway; unlock so a pooled proxy
    // (PgBouncer in session mode) does not keep it.
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_ID])
        .await;
    drop(client);
    let _ = connection.await;
    let report = report?;
    unlocked?;
    for migration in report.applied_migrations() {
        info!(
            version = migration.version(),
            name = migration.name(),
            "applied migration"
        );
    }
    Ok(())
}
