//! Raw payload retention: projections stay, payloads older than the
//! retention period are dropped.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use crate::StoreError;

/// Drops the payloads of deliveries received before `before`, at most
/// `batch` rows per call (short transactions; call until it returns 0).
pub async fn purge_payloads(
    client: &impl GenericClient,
    before: DateTime<Utc>,
    batch: i64,
) -> Result<u64, StoreError> {
    Ok(client
        .execute(
            "UPDATE deliveries SET payload = NULL WHERE delivery_id IN (
                 SELECT delivery_id FROM deliveries
                 WHERE received_at < $1 AND payload IS NOT NULL
                 LIMIT $2)",
            &[&before, &batch],
        )
        .await?)
}

/// Which of `ids` are already recorded.
pub async fn known_delivery_ids(
    client: &impl GenericClient,
    ids: &[String],
) -> Result<std::collections::HashSet<String>, StoreError> {
    Ok(client
        .query(
            "SELECT delivery_id FROM deliveries WHERE delivery_id = ANY($1)",
            &[&ids],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect())
}
