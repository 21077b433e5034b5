//! Raw payloads, in `delivery_payloads`: partitioned by receive month
//! (migration V18), so that retention drops whole partitions instead of
//! rewriting ledger rows. The ledger (`deliveries`) stays one table.
//!
//! Rows the ledger held before V18 (`deliveries.payload`) move here online,
//! a batch per transaction ([`move_legacy_payloads`]): `prpulse payloads
//! migrate` runs it to the end, and the scheduler's retention job moves a
//! batch each run. Readers look in both places until then.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use deadpool_postgres::GenericClient;
use prpulse_domain::PayloadEncoding;

use crate::StoreError;

/// Months ahead of the current one whose partitions exist at all times.
pub const MONTHS_AHEAD: u32 = 2;

const PREFIX: &str = "delivery_payloads_p";

/// The first day of the month `months` after the month of `at`.
fn month_start(at: DateTime<Utc>, months: u32) -> NaiveDate {
    let index = at.year() * 12 + at.month0() as i32 + months as i32;
    NaiveDate::from_ymd_opt(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, 1)
        .expect("the first of a month exists")
}

fn partition_name(month: NaiveDate) -> String {
    format!("{PREFIX}{:04}{:02}", month.year(), month.month())
}

/// The month a partition holds, from its name.
fn partition_month(name: &str) -> Option<NaiveDate> {
    let digits = name.strip_prefix(PREFIX)?;
    if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDate::from_ymd_opt(digits[..4].parse().ok()?, digits[4..].parse().ok()?, 1)
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

/// Creates the partitions of the month of `now` and the [`MONTHS_AHEAD`]
/// after it, where missing. Run at worker start and by the scheduler's
/// retention job, so a delivery always finds its month's partition.
pub async fn ensure_partitions(
    client: &impl GenericClient,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let existing = partitions(client).await?;
    for ahead in 0..=MONTHS_AHEAD {
        let month = month_start(now, ahead);
        if existing.contains(&partition_name(month)) {
            // Creating a partition locks the parent: not for nothing.
            continue;
        }
        let next = month_start(midnight(month), 1);
        // Names and bounds come from dates, never from input.
        client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF delivery_payloads
                     FOR VALUES FROM ('{}') TO ('{}')",
                partition_name(month),
                midnight(month).to_rfc3339(),
                midnight(next).to_rfc3339(),
            ))
            .await?;
    }
    Ok(())
}

/// The partitions of `delivery_payloads`, by name.
async fn partitions(client: &impl GenericClient) -> Result<Vec<String>, StoreError> {
    Ok(client
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'delivery_payloads'::regclass ORDER BY 1",
            &[],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect())
}

/// Drops every month partition wholly older than `before`: retention
/// without rewriting a row. Returns the partitions dropped. A payload is
/// kept until its whole month has passed the retention. The default
/// partition (rows outside every month, normally none) loses its rows
/// older than `before` one by one.
pub async fn drop_partitions_before(
    client: &impl GenericClient,
    before: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let mut dropped = Vec::new();
    for name in partitions(client).await? {
        let Some(month) = partition_month(&name) else {
            continue;
        };
        if midnight(month_start(midnight(month), 1)) <= before {
            client
                .batch_execute(&format!("DROP TABLE IF EXISTS {name}"))
                .await?;
            dropped.push(name);
        }
    }
    client
        .execute(
            "DELETE FROM delivery_payloads_default WHERE received_at < $1",
            &[&before],
        )
        .await?;
    Ok(dropped)
}

/// Moves up to `batch` payloads from `deliveries.payload` into
/// `delivery_payloads`, compressed into `encoding`, in one transaction of
/// the caller's. Rows being moved by another mover are skipped (`SKIP
/// LOCKED`), so several may run. Returns how many moved; 0 when done.
pub async fn move_legacy_payloads(
    client: &impl GenericClient,
    batch: i64,
    encoding: PayloadEncoding,
) -> Result<u64, StoreError> {
    let rows = client
        .query(
            "SELECT delivery_id, payload FROM deliveries
             WHERE payload IS NOT NULL
             ORDER BY delivery_id LIMIT $1 FOR UPDATE SKIP LOCKED",
            &[&batch],
        )
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let ids: Vec<&str> = rows.iter().map(|row| row.get(0)).collect();
    let payloads: Vec<Vec<u8>> = rows
        .iter()
        .map(|row| encoding.encode(row.get::<_, &[u8]>(1)).into_owned())
        .collect();
    let moved = client
        .execute(
            "WITH moving AS (
                 SELECT d.delivery_id, d.received_at, m.payload
                 FROM unnest($1::text[], $2::bytea[]) AS m(delivery_id, payload)
                 JOIN deliveries d USING (delivery_id)),
             stored AS (
                 INSERT INTO delivery_payloads (delivery_id, received_at, encoding, payload)
                 SELECT delivery_id, received_at, $3, payload FROM moving
                 ON CONFLICT (delivery_id, received_at) DO NOTHING)
             UPDATE deliveries d SET payload = NULL
             FROM moving WHERE d.delivery_id = moving.delivery_id",
            &[&ids, &payloads, &encoding.as_str()],
        )
        .await?;
    Ok(moved)
}

/// How many payloads still wait in `deliveries.payload`.
pub async fn count_legacy_payloads(client: &impl GenericClient) -> Result<i64, StoreError> {
    Ok(client
        .query_one(
            "SELECT count(*) FROM deliveries WHERE payload IS NOT NULL",
            &[],
        )
        .await?
        .get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_roll_over_years_and_names_round_trip() {
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 23, 59, 59).unwrap();
        assert_eq!(
            month_start(at, 0),
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
        );
        assert_eq!(
            month_start(at, 2),
            NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
        );
        let name = partition_name(month_start(at, 2));
        assert_eq!(name, "delivery_payloads_p202701");
        assert_eq!(partition_month(&name), Some(month_start(at, 2)));
        assert_eq!(partition_month("delivery_payloads_default"), None);
        assert_eq!(partition_month("delivery_payloads_p2027013"), None);
    }
}
