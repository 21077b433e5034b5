//! The maintained summary rollup (migrations/V17): per period, group and
//! hours, the sorted values of every span. prpulse-api's refresher
//! writes it; a summary reads the periods that are built and clean in its
//! own snapshot (run both in one REPEATABLE READ transaction).

use std::collections::HashSet;

use chrono::NaiveDate;
use deadpool_postgres::{Client, GenericClient, Transaction};
use futures_util::TryStreamExt;
use prpulse_domain::rollup::Values;
use tokio_postgres::{IsolationLevel, error::SqlState, types::ToSql};

use crate::StoreError;

/// A summary's transaction: one snapshot for the rollup, its dirty marks
/// and the raw rows, so each write counts in a clean period or in a raw
/// one, never in neither or both.
pub async fn read_snapshot(client: &mut Client) -> Result<Transaction<'_>, StoreError> {
    Ok(client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?)
}

/// A refresh round's transaction: begin with [`claim`].
pub async fn refresh_transaction(client: &mut Client) -> Result<Transaction<'_>, StoreError> {
    Ok(client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .start()
        .await?)
}

/// One group's values in one period.
#[derive(Clone, Debug, PartialEq)]
pub struct RollupRow {
    /// The API's `group_by` (`none`, `repository`, `team`, `author`).
    pub kind: &'static str,
    pub key: Option<String>,
    /// `wall` or `business`.
    pub hours: &'static str,
    pub author_is_bot: bool,
    pub values: Values,
}

/// The periods starting in `[from, until)` that are built and not marked
/// dirty in this transaction's snapshot.
pub async fn clean_periods(
    client: &impl GenericClient,
    from: NaiveDate,
    until: NaiveDate,
) -> Result<HashSet<NaiveDate>, StoreError> {
    Ok(client
        .query(
            "SELECT p.period_start FROM summary_rollup_periods p
             WHERE p.period_start >= $1 AND p.period_start < $2
               AND NOT EXISTS (SELECT 1 FROM summary_rollup_dirty_all)
               AND NOT EXISTS (SELECT 1 FROM summary_rollup_dirty d
                               WHERE d.period_start = p.period_start)",
            &[&from, &until],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect())
}

/// Every row of `kind` and `hours` in `periods` (with bot authors' rows
/// when `include_bots`), as `(key, period, values)`.
pub async fn each_rollup_row(
    client: &impl GenericClient,
    kind: &str,
    hours: &str,
    periods: &[NaiveDate],
    include_bots: bool,
    mut each: impl FnMut(Option<String>, NaiveDate, Values),
) -> Result<(), StoreError> {
    let params: [&(dyn ToSql + Sync); 4] = [&kind, &hours, &periods, &include_bots];
    let rows = client
        .query_raw(
            "SELECT group_key, period_start, merged, sorted_values FROM summary_rollup
             WHERE group_kind = $1 AND hours = $2 AND period_start = ANY($3)
               AND ($4::bool OR NOT author_is_bot)",
            params,
        )
        .await?;
    let mut rows = std::pin::pin!(rows);
    while let Some(row) = rows.try_next().await? {
        let merged: i64 = row.get(2);
        let mut values = decode(row.get(3))?;
        values.merged = u64::try_from(merged)
            .map_err(|_| StoreError::Corrupt(format!("summary rollup: merged {merged}")))?;
        each(row.get(0), row.get(1), values);
    }
    Ok(())
}

/// What a refresh round takes on.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// Another refresher holds the rollup.
    Busy,
    /// Nothing is dirty.
    Idle,
    /// Every built period was stale: each is marked dirty now, for the
    /// rounds after this one.
    MarkedAll,
    /// These dirty periods, newest first.
    Periods(Vec<NaiveDate>),
}

/// The first step of a refresh round, in `tx` (REPEATABLE READ, nothing
/// run in it yet): takes the refresher's lock before the snapshot is
/// taken, so no two refreshers overlap and each sees what the one before
/// it wrote; then up to `limit` dirty periods.
pub async fn claim(tx: &Transaction<'_>, limit: i64) -> Result<Claim, StoreError> {
    // LOCK takes no snapshot (a SELECT would, before the lock is held);
    // readers and the writers' triggers never lock this table.
    if let Err(error) = tx
        .batch_execute("LOCK TABLE summary_rollup_periods IN EXCLUSIVE MODE NOWAIT")
        .await
    {
        return match error.code() {
            Some(code) if *code == SqlState::LOCK_NOT_AVAILABLE => Ok(Claim::Busy),
            _ => Err(error.into()),
        };
    }
    let everything: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM summary_rollup_dirty_all)",
            &[],
        )
        .await?
        .get(0);
    if everything {
        // Only the marks this snapshot sees go: a later one stays.
        tx.batch_execute(
            "INSERT INTO summary_rollup_dirty (period_start)
                 SELECT period_start FROM summary_rollup_periods ON CONFLICT DO NOTHING;
             DELETE FROM summary_rollup_dirty_all;",
        )
        .await?;
        return Ok(Claim::MarkedAll);
    }
    let periods: Vec<NaiveDate> = tx
        .query(
            "SELECT DISTINCT period_start FROM summary_rollup_dirty
             ORDER BY period_start DESC LIMIT $1",
            &[&limit],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    Ok(if periods.is_empty() {
        Claim::Idle
    } else {
        Claim::Periods(periods)
    })
}

/// Replaces what `period` holds with `rows`, marks it built, and removes
/// the marks on it this snapshot sees (those of writes it was built from).
pub async fn replace_period(
    tx: &Transaction<'_>,
    period: NaiveDate,
    rows: &[RollupRow],
) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM summary_rollup WHERE period_start = $1",
        &[&period],
    )
    .await?;
    let kinds: Vec<&str> = rows.iter().map(|row| row.kind).collect();
    let keys: Vec<Option<&str>> = rows.iter().map(|row| row.key.as_deref()).collect();
    let hours: Vec<&str> = rows.iter().map(|row| row.hours).collect();
    let bots: Vec<bool> = rows.iter().map(|row| row.author_is_bot).collect();
    let merged: Vec<i64> = rows
        .iter()
        .map(|row| i64::try_from(row.values.merged).unwrap_or(i64::MAX))
        .collect();
    let values: Vec<Vec<u8>> = rows.iter().map(|row| encode(&row.values)).collect();
    let params: [&(dyn ToSql + Sync); 7] =
        [&period, &kinds, &keys, &hours, &bots, &merged, &values];
    tx.execute(
        "INSERT INTO summary_rollup
             (period_start, group_kind, group_key, hours, author_is_bot, merged, sorted_values)
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bool[],
                                  $6::bigint[], $7::bytea[])",
        &params,
    )
    .await?;
    tx.execute(
        "INSERT INTO summary_rollup_periods (period_start) VALUES ($1)
         ON CONFLICT (period_start) DO UPDATE SET built_at = now()",
        &[&period],
    )
    .await?;
    tx.execute(
        "DELETE FROM summary_rollup_dirty WHERE period_start = $1",
        &[&period],
    )
    .await?;
    Ok(())
}

/// Whether anything is left to refresh (for waiting on a first build).
pub async fn is_settled(client: &impl GenericClient) -> Result<bool, StoreError> {
    Ok(client
        .query_one(
            "SELECT NOT EXISTS (SELECT 1 FROM summary_rollup_dirty)
                    AND NOT EXISTS (SELECT 1 FROM summary_rollup_dirty_all)",
            &[],
        )
        .await?
        .get(0))
}

/// The spans, then the review rounds: each a little-endian u32 count and
/// that many little-endian f64s.
fn encode(values: &Values) -> Vec<u8> {
    let lists = values.spans.iter().chain([&values.review_rounds]);
    let total: usize = lists.clone().map(Vec::len).sum();
    let mut bytes = Vec::with_capacity(6 * 4 + total * 8);
    for list in lists {
        bytes.extend_from_slice(&(list.len() as u32).to_le_bytes());
        for value in list {
            bytes.extend_from_slice(&value.to_le_bytes());
        }
    }
    bytes
}

fn decode(mut bytes: &[u8]) -> Result<Values, StoreError> {
    let corrupt = || StoreError::Corrupt("summary rollup: truncated sorted_values".into());
    let mut list = || -> Result<Vec<f64>, StoreError> {
        let (count, rest) = bytes.split_first_chunk::<4>().ok_or_else(corrupt)?;
        let count = u32::from_le_bytes(*count) as usize;
        let (values, rest) = rest
            .split_at_checked(count.checked_mul(8).ok_or_else(corrupt)?)
            .ok_or_else(corrupt)?;
        bytes = rest;
        Ok(values
            .chunks_exact(8)
            .map(|chunk| f64::from_le_bytes(chunk.try_into().unwrap_or_default()))
            .collect())
    };
    let spans = [list()?, list()?, list()?, list()?, list()?];
    let review_rounds = list()?;
    if !bytes.is_empty() {
        return Err(StoreError::Corrupt(
            "summary rollup: trailing bytes in sorted_values".into(),
        ));
    }
    Ok(Values {
        merged: 0,
        spans,
        review_rounds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_survive_encoding_to_the_bit() {
        let values = Values {
            merged: 0,
            spans: [
                vec![0.0, 1.5, 86_400.0],
                vec![],
                vec![f64::MAX],
                vec![-3.0, 7.0],
                vec![1e-300],
            ],
            review_rounds: vec![0.0, 1.0, 1.0, 4.0],
        };
        let bytes = encode(&values);
        assert_eq!(decode(&bytes).unwrap(), values);
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
    }
}
