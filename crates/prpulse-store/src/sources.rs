//! The source allow-list: networks ingest accepts deliveries from, by origin.

use deadpool_postgres::GenericClient;

use crate::StoreError;

/// Replaces the networks of `origin` (run it in a transaction, so ingest
/// never sees the list half-written).
pub async fn replace_networks(
    client: &impl GenericClient,
    origin: &str,
    networks: &[String],
) -> Result<(), StoreError> {
    client
        .execute("DELETE FROM allowed_sources WHERE origin = $1", &[&origin])
        .await?;
    for network in networks {
        client
            .execute(
                "INSERT INTO allowed_sources (origin, network) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                &[&origin, network],
            )
            .await?;
    }
    Ok(())
}

/// Every allowed network with its origin, as stored.
pub async fn all_networks(
    client: &impl GenericClient,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(client
        .query(
            "SELECT origin, network FROM allowed_sources ORDER BY origin, network",
            &[],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect())
}
