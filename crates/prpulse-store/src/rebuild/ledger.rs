//! What a rebuild reads from the ledger (in pages, or every delivery of one
//! pull request, locked first) and what it resets before re-applying.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use prpulse_domain::PayloadEncoding;

use crate::StoreError;

use super::Scope;

/// One delivery as the ledger holds it.
#[derive(Clone, Debug)]
pub struct StoredDelivery {
    pub delivery_id: String,
    pub event: String,
    pub received_at: DateTime<Utc>,
    /// `None` once retention removed it; as stored, in `encoding`.
    pub payload: Option<Vec<u8>>,
    pub encoding: PayloadEncoding,
    pub pull_request: Option<(i64, i32)>,
}

/// The columns [`stored`] reads, from `deliveries d` joined by
/// [`WITH_PAYLOAD`]: the payload from `delivery_payloads` (V18 on), or
/// from the ledger row for one not yet moved.
const STORED_COLUMNS: &str = "d.delivery_id, d.event, d.received_at,
     coalesce(p.payload, d.payload), d.repository_id, d.pull_request_number,
     coalesce(p.encoding, 'identity')";

const WITH_PAYLOAD: &str = "deliveries d LEFT JOIN delivery_payloads p
     ON p.delivery_id = d.delivery_id AND p.received_at = d.received_at";

/// A delivery whose payload is gone (retention), in either place.
const PAYLOAD_GONE: &str = "d.payload IS NULL AND NOT EXISTS (
     SELECT 1 FROM delivery_payloads p
     WHERE p.delivery_id = d.delivery_id AND p.received_at = d.received_at)";

fn stored(row: &tokio_postgres::Row) -> StoredDelivery {
    let repository: Option<i64> = row.get(4);
    let number: Option<i32> = row.get(5);
    StoredDelivery {
        delivery_id: row.get(0),
        event: row.get(1),
        received_at: row.get(2),
        payload: row.get(3),
        // Written by prpulse alone, under the CHECK of V18.
        encoding: PayloadEncoding::parse(row.get(6)).unwrap_or_default(),
        pull_request: repository.zip(number),
    }
}

/// Deliveries with a payload that the deliveries phase reads: those in
/// scope, and those not yet known to be about a pull request (to find out).
static READ_IN_SCOPE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "FROM {WITH_PAYLOAD}
         WHERE d.delivery_id > $1 AND (p.payload IS NOT NULL OR d.payload IS NOT NULL)
           AND (d.repository_id IS NULL
                OR (($2::bigint IS NULL OR d.repository_id = $2)
                    AND ($3::timestamptz IS NULL OR d.received_at >= $3)))"
    )
});

/// The next `limit` deliveries after `after`, by id, for the deliveries phase.
pub async fn deliveries_after(
    client: &impl GenericClient,
    scope: &Scope,
    after: &str,
    limit: i64,
) -> Result<Vec<StoredDelivery>, StoreError> {
    Ok(client
        .query(
            &format!(
                "SELECT {STORED_COLUMNS} {} ORDER BY d.delivery_id LIMIT $4",
                *READ_IN_SCOPE
            ),
            &[&after, &scope.repository_id, &scope.since, &limit],
        )
        .await?
        .iter()
        .map(stored)
        .collect())
}

/// How many deliveries [`deliveries_after`] has yet to return: the
/// deliveries phase's total.
pub async fn count_deliveries_after(
    client: &impl GenericClient,
    scope: &Scope,
    after: &str,
) -> Result<i64, StoreError> {
    Ok(client
        .query_one(
            &format!("SELECT count(*) {}", *READ_IN_SCOPE),
            &[&after, &scope.repository_id, &scope.since],
        )
        .await?
        .get(0))
}

/// Records which pull request a delivery is about (rows from before V8).
pub async fn set_pull_request(
    client: &impl GenericClient,
    delivery_id: &str,
    (repository_id, number): (i64, i32),
) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE deliveries SET repository_id = $2, pull_request_number = $3
             WHERE delivery_id = $1 AND repository_id IS NULL",
            &[&delivery_id, &repository_id, &number],
        )
        .await?;
    Ok(())
}

const KEYS_IN_SCOPE: &str = "FROM deliveries
     WHERE repository_id IS NOT NULL
       AND ($1::bigint IS NULL OR repository_id = $1)
       AND ($2::timestamptz IS NULL OR received_at >= $2)
       AND (repository_id, pull_request_number) > ($3, $4)";

/// The next `limit` pull requests in scope after `after`, in key order.
pub async fn pull_requests_after(
    client: &impl GenericClient,
    scope: &Scope,
    after: Option<(i64, i32)>,
    limit: i64,
) -> Result<Vec<(i64, i32)>, StoreError> {
    let (repository, number) = after.unwrap_or((i64::MIN, i32::MIN));
    Ok(client
        .query(
            &format!(
                "SELECT DISTINCT repository_id, pull_request_number {KEYS_IN_SCOPE}
                 ORDER BY 1, 2 LIMIT $5"
            ),
            &[
                &scope.repository_id,
                &scope.since,
                &repository,
                &number,
                &limit,
            ],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect())
}

pub async fn count_pull_requests_after(
    client: &impl GenericClient,
    scope: &Scope,
    after: Option<(i64, i32)>,
) -> Result<i64, StoreError> {
    let (repository, number) = after.unwrap_or((i64::MIN, i32::MIN));
    Ok(client
        .query_one(
            &format!(
                "SELECT count(*) FROM (SELECT DISTINCT repository_id, pull_request_number
                 {KEYS_IN_SCOPE}) keys"
            ),
            &[&scope.repository_id, &scope.since, &repository, &number],
        )
        .await?
        .get(0))
}

/// Locks the pull request's row (if it exists) and then reads every
/// delivery of it, payload or not. Locking first is what makes a rebuild
/// safe beside live workers: a worker's delivery of this pull request
/// either committed before the lock (and is read here) or waits for the
/// lock and applies on top of the rebuilt row.
/// Returns its `created_at` (if the row exists) and the deliveries.
pub async fn lock_and_read_pull_request(
    client: &impl GenericClient,
    (repository_id, number): (i64, i32),
) -> Result<(Option<DateTime<Utc>>, Vec<StoredDelivery>), StoreError> {
    let created_at = client
        .query_opt(
            "SELECT created_at FROM pull_requests WHERE repository_id = $1 AND number = $2
             FOR UPDATE",
            &[&repository_id, &number],
        )
        .await?
        .map(|row| row.get(0));
    let deliveries = client
        .query(
            &format!(
                "SELECT {STORED_COLUMNS} FROM {WITH_PAYLOAD}
                 WHERE d.repository_id = $1 AND d.pull_request_number = $2
                 ORDER BY d.delivery_id"
            ),
            &[&repository_id, &number],
        )
        .await?
        .iter()
        .map(stored)
        .collect();
    Ok((created_at, deliveries))
}

/// Deletes the pull request and its reviews, to be re-applied from the
/// ledger in the same transaction.
pub async fn reset_pull_request(
    client: &impl GenericClient,
    (repository_id, number): (i64, i32),
) -> Result<(), StoreError> {
    client
        .execute(
            "DELETE FROM reviews WHERE repository_id = $1 AND pull_request_number = $2",
            &[&repository_id, &number],
        )
        .await?;
    client
        .execute(
            "DELETE FROM pull_request_merges WHERE repository_id = $1 AND number = $2",
            &[&repository_id, &number],
        )
        .await?;
    client
        .execute(
            "DELETE FROM pull_requests WHERE repository_id = $1 AND number = $2",
            &[&repository_id, &number],
        )
        .await?;
    Ok(())
}

/// Projected deliveries whose payload retention removed and that name no
/// pull request: removed before prpulse recorded which pull request they
/// were about (before V8), or team and membership events.
pub async fn purged_without_pull_request(client: &impl GenericClient) -> Result<i64, StoreError> {
    Ok(client
        .query_one(
            &format!(
                "SELECT count(*) FROM deliveries d
                 WHERE {PAYLOAD_GONE} AND d.repository_id IS NULL AND d.outcome = 'projected'"
            ),
            &[],
        )
        .await?
        .get(0))
}

/// When the last delivery that [`purged_without_pull_request`] counts was
/// received: a pull request created after that cannot have lost one.
pub async fn last_purge_without_pull_request(
    client: &impl GenericClient,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(client
        .query_one(
            &format!(
                "SELECT max(d.received_at) FROM deliveries d
                 WHERE {PAYLOAD_GONE} AND d.repository_id IS NULL AND d.outcome = 'projected'"
            ),
            &[],
        )
        .await?
        .get(0))
}
