//! The independent database ceiling: plain SQL of the worker's write shape
//! (insert the delivery's ledger row with its raw payload, upsert its pull
//! request) into tables of its own (`sql_ceiling/schema.sql`), through
//! `tokio-postgres` alone: no prpulse store or worker code, so it says what
//! Postgres can do for these writes, not what prpulse does. Three shapes:
//! one delivery per transaction; a batch per transaction as one statement
//! per row; a batch per transaction as one set-based statement per table
//! (`INSERT … SELECT FROM unnest(…)`).

mod rows;

use std::{
    sync::atomic::{AtomicU64, AtomicUsize, Ordering},
    time::Instant,
};

use anyhow::Context;
use prpulse_testkit::TestDb;
use serde::Serialize;
use tokio_postgres::{Client, Statement, Transaction, types::ToSql};

use crate::{
    cpu::{Meter, Reading},
    load::Throughput,
    workload::Prepared,
};
use rows::{DeliveryRow, PullRequestRow};

#[derive(Clone, Copy, Debug, Serialize)]
pub struct SqlCeilings {
    pub batch_size: usize,
    /// One delivery per transaction.
    pub single_row: Ceiling,
    /// `batch_size` per transaction, one statement per row and table.
    pub statements: Ceiling,
    /// `batch_size` per transaction, one statement per table.
    pub set_based: Ceiling,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Ceiling {
    pub throughput: Throughput,
    /// CPU microseconds per delivery of the whole Postgres server.
    pub postgres_cpu_us: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    SingleRow,
    Statements,
    SetBased,
}

const INSERT_DELIVERY: &str = "INSERT INTO ceiling_deliveries
        (delivery_id, event, action, source, received_at, outcome, payload,
         repository_id, pull_request_number)
    VALUES ($1, $2, $3, 'webhook', $4, 'projected', $5, $6, $7)";

const INSERT_DELIVERIES: &str = "INSERT INTO ceiling_deliveries
        (delivery_id, event, action, source, received_at, outcome, payload,
         repository_id, pull_request_number)
    SELECT id, event, action, 'webhook', received_at, 'projected', payload, repo, number
    FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bytea[],
                $6::bigint[], $7::integer[])
         AS d(id, event, action, received_at, payload, repo, number)";

const PULL_REQUEST_COLUMNS: &str = "repository_id, number, github_id, author_id,
    version_rank, version_at, version_delivery, title, state, draft, closed_at,
    additions, deletions, changed_files, head_ref, base_ref, created_at, merged_at";

/// Newest version wins the scalar fields; the accumulating facts keep
/// their least or first value.
const ON_CONFLICT: &str = "ON CONFLICT (repository_id, number) DO UPDATE SET
        github_id = least(p.github_id, excluded.github_id),
        author_id = coalesce(excluded.author_id, p.author_id),
        version_rank = excluded.version_rank, version_at = excluded.version_at,
        version_delivery = excluded.version_delivery, title = excluded.title,
        state = excluded.state, draft = excluded.draft, closed_at = excluded.closed_at,
        additions = excluded.additions, deletions = excluded.deletions,
        changed_files = excluded.changed_files, head_ref = excluded.head_ref,
        base_ref = excluded.base_ref,
        created_at = least(p.created_at, excluded.created_at),
        merged_at = coalesce(p.merged_at, excluded.merged_at)
    WHERE (excluded.version_rank, excluded.version_at, excluded.version_delivery)
        > (p.version_rank, p.version_at, p.version_delivery)";

fn upsert_pull_request() -> String {
    format!(
        "INSERT INTO ceiling_pull_requests AS p ({PULL_REQUEST_COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         {ON_CONFLICT}"
    )
}

/// One row per pull request (ON CONFLICT may touch a row once per
/// statement), the newest version of each, in the global lock order.
fn upsert_pull_requests() -> String {
    format!(
        "INSERT INTO ceiling_pull_requests AS p ({PULL_REQUEST_COLUMNS})
         SELECT DISTINCT ON (repository_id, number) *
         FROM unnest($1::bigint[], $2::integer[], $3::bigint[], $4::bigint[],
                     $5::smallint[], $6::timestamptz[], $7::text[], $8::text[], $9::text[],
                     $10::boolean[], $11::timestamptz[], $12::integer[], $13::integer[],
                     $14::integer[], $15::text[], $16::text[], $17::timestamptz[],
                     $18::timestamptz[])
              AS u({PULL_REQUEST_COLUMNS})
         ORDER BY repository_id, number, version_rank DESC, version_at DESC,
                  version_delivery DESC
         {ON_CONFLICT}"
    )
}

/// Creates the ceiling's tables in `db` and measures the three shapes,
/// each over every delivery, `connections` transactions at a time.
pub async fn measure(
    db: &TestDb,
    deliveries: &[Prepared],
    connections: usize,
    batch_size: usize,
    postgres_pid: Option<u32>,
) -> anyhow::Result<SqlCeilings> {
    let rows = rows::rows(deliveries);
    let admin = db.client().await;
    admin
        .batch_execute(include_str!("sql_ceiling/schema.sql"))
        .await
        .context("creating the ceiling's tables")?;
    let run = async |shape, size| -> anyhow::Result<Ceiling> {
        admin
            .batch_execute("TRUNCATE ceiling_deliveries, ceiling_pull_requests")
            .await?;
        let cpu = postgres_pid.map(|pid| Reading::start(Meter::Tree(pid)));
        let throughput = apply(db, &rows, connections, shape, size).await?;
        Ok(Ceiling {
            throughput,
            postgres_cpu_us: cpu.and_then(|cpu| cpu.per_operation(throughput.completed)),
        })
    };
    let batch_size = batch_size.max(1);
    Ok(SqlCeilings {
        batch_size,
        single_row: run(Shape::SingleRow, 1).await?,
        statements: run(Shape::Statements, batch_size).await?,
        set_based: run(Shape::SetBased, batch_size).await?,
    })
}

async fn apply(
    db: &TestDb,
    rows: &[DeliveryRow],
    connections: usize,
    shape: Shape,
    size: usize,
) -> anyhow::Result<Throughput> {
    let batches: Vec<&[DeliveryRow]> = rows.chunks(size).collect();
    let mut clients = Vec::new();
    for _ in 0..connections.max(1) {
        clients.push(Connection::open(db).await?);
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicU64::new(0);
    let started = Instant::now();
    futures_util::future::join_all(clients.iter_mut().map(|connection| async {
        loop {
            let Some(batch) = batches.get(next.fetch_add(1, Ordering::Relaxed)) else {
                return;
            };
            // A transaction that loses a race (deadlock, serialization)
            // is tried again, as the worker would.
            let mut applied = false;
            for _ in 0..5 {
                if connection.apply(shape, batch).await.is_ok() {
                    applied = true;
                    break;
                }
            }
            if !applied {
                failed.fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
        }
    }))
    .await;
    let failed = failed.into_inner();
    Ok(Throughput::new(
        rows.len() as u64 - failed,
        failed,
        started.elapsed(),
    ))
}

/// One connection with its statements prepared once.
struct Connection {
    client: Client,
    insert_delivery: Statement,
    upsert_pull_request: Statement,
    insert_deliveries: Statement,
    upsert_pull_requests: Statement,
}

impl Connection {
    async fn open(db: &TestDb) -> anyhow::Result<Self> {
        let client = db.client().await;
        Ok(Self {
            insert_delivery: client.prepare(INSERT_DELIVERY).await?,
            upsert_pull_request: client.prepare(&upsert_pull_request()).await?,
            insert_deliveries: client.prepare(INSERT_DELIVERIES).await?,
            upsert_pull_requests: client.prepare(&upsert_pull_requests()).await?,
            client,
        })
    }

    async fn apply(&mut self, shape: Shape, batch: &[DeliveryRow]) -> anyhow::Result<()> {
        let transaction = self.client.transaction().await?;
        let mut pull_requests: Vec<&PullRequestRow> = batch
            .iter()
            .filter_map(|row| row.pull_request.as_ref())
            .collect();
        pull_requests.sort_by_key(|pr| pr.key());
        if shape == Shape::SetBased {
            insert_set(&transaction, &self.insert_deliveries, batch).await?;
            upsert_set(&transaction, &self.upsert_pull_requests, &pull_requests).await?;
        } else {
            for row in batch {
                let pr = row.pull_request.as_ref();
                transaction
                    .execute(
                        &self.insert_delivery,
                        &[
                            &row.delivery_id,
                            &row.event,
                            &row.action,
                            &row.received_at,
                            &row.payload,
                            &pr.map(|pr| pr.repository_id),
                            &pr.map(|pr| pr.number),
                        ],
                    )
                    .await?;
            }
            for pr in pull_requests {
                transaction
                    .execute(&self.upsert_pull_request, &pull_request_params(pr))
                    .await?;
            }
        }
        transaction.commit().await?;
        Ok(())
    }
}

fn pull_request_params(pr: &PullRequestRow) -> [&(dyn ToSql + Sync); 18] {
    [
        &pr.repository_id,
        &pr.number,
        &pr.github_id,
        &pr.author_id,
        &pr.version_rank,
        &pr.version_at,
        &pr.version_delivery,
        &pr.title,
        &pr.state,
        &pr.draft,
        &pr.closed_at,
        &pr.additions,
        &pr.deletions,
        &pr.changed_files,
        &pr.head_ref,
        &pr.base_ref,
        &pr.created_at,
        &pr.merged_at,
    ]
}

async fn insert_set(
    transaction: &Transaction<'_>,
    statement: &Statement,
    batch: &[DeliveryRow],
) -> anyhow::Result<()> {
    let column = |f: fn(&DeliveryRow) -> Option<i64>| batch.iter().map(f).collect::<Vec<_>>();
    let ids: Vec<&str> = batch.iter().map(|row| row.delivery_id.as_str()).collect();
    let events: Vec<&str> = batch.iter().map(|row| row.event.as_str()).collect();
    let actions: Vec<Option<&str>> = batch.iter().map(|row| row.action.as_deref()).collect();
    let received: Vec<_> = batch.iter().map(|row| row.received_at).collect();
    let payloads: Vec<&[u8]> = batch.iter().map(|row| row.payload.as_slice()).collect();
    let repos = column(|row| row.pull_request.as_ref().map(|pr| pr.repository_id));
    let numbers: Vec<Option<i32>> = batch
        .iter()
        .map(|row| row.pull_request.as_ref().map(|pr| pr.number))
        .collect();
    transaction
        .execute(
            statement,
            &[
                &ids, &events, &actions, &received, &payloads, &repos, &numbers,
            ],
        )
        .await?;
    Ok(())
}

async fn upsert_set(
    transaction: &Transaction<'_>,
    statement: &Statement,
    prs: &[&PullRequestRow],
) -> anyhow::Result<()> {
    fn column<'a, T>(prs: &[&'a PullRequestRow], f: impl Fn(&'a PullRequestRow) -> T) -> Vec<T> {
        prs.iter().map(|pr| f(pr)).collect()
    }
    let repository_ids = column(prs, |pr| pr.repository_id);
    let numbers = column(prs, |pr| pr.number);
    let github_ids = column(prs, |pr| pr.github_id);
    let author_ids = column(prs, |pr| pr.author_id);
    let ranks = column(prs, |pr| pr.version_rank);
    let version_ats = column(prs, |pr| pr.version_at);
    let version_deliveries = column(prs, |pr| pr.version_delivery.as_str());
    let titles = column(prs, |pr| pr.title.as_deref());
    let states = column(prs, |pr| pr.state.as_str());
    let drafts = column(prs, |pr| pr.draft);
    let closed_ats = column(prs, |pr| pr.closed_at);
    let additions = column(prs, |pr| pr.additions);
    let deletions = column(prs, |pr| pr.deletions);
    let changed_files = column(prs, |pr| pr.changed_files);
    let head_refs = column(prs, |pr| pr.head_ref.as_deref());
    let base_refs = column(prs, |pr| pr.base_ref.as_deref());
    let created_ats = column(prs, |pr| pr.created_at);
    let merged_ats = column(prs, |pr| pr.merged_at);
    transaction
        .execute(
            statement,
            &[
                &repository_ids,
                &numbers,
                &github_ids,
                &author_ids,
                &ranks,
                &version_ats,
                &version_deliveries,
                &titles,
                &states,
                &drafts,
                &closed_ats,
                &additions,
                &deletions,
                &changed_files,
                &head_refs,
                &base_refs,
                &created_ats,
                &merged_ats,
            ],
        )
        .await
        .context("the set-based pull-request upsert")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What each shape left behind, without the times `now()` set.
    async fn written(client: &Client) -> Vec<String> {
        let mut rows = Vec::new();
        for sql in [
            "SELECT (to_jsonb(d) - 'processed_at')::text FROM ceiling_deliveries d ORDER BY delivery_id",
            "SELECT to_jsonb(p)::text FROM ceiling_pull_requests p ORDER BY repository_id, number",
        ] {
            for row in client.query(sql, &[]).await.unwrap() {
                rows.push(row.get(0));
            }
        }
        rows
    }

    #[tokio::test]
    async fn every_shape_writes_the_same_rows() {
        let db = TestDb::create().await;
        let deliveries = crate::workload::histories(80, 3, 6);
        let rows = rows::rows(&deliveries);
        let client = db.client().await;
        client
            .batch_execute(include_str!("sql_ceiling/schema.sql"))
            .await
            .unwrap();
        let mut first: Option<Vec<String>> = None;
        for shape in [Shape::SingleRow, Shape::Statements, Shape::SetBased] {
            client
                .batch_execute("TRUNCATE ceiling_deliveries, ceiling_pull_requests")
                .await
                .unwrap();
            let size = if shape == Shape::SingleRow { 1 } else { 16 };
            let throughput = apply(&db, &rows, 4, shape, size).await.unwrap();
            assert_eq!(
                (throughput.completed, throughput.failed),
                (80, 0),
                "{shape:?}"
            );
            let written = written(&client).await;
            // 80 ledger rows, one row for each of the 16 pull requests.
            assert_eq!(written.len(), 80 + 16, "{shape:?}");
            match &first {
                None => first = Some(written),
                Some(first) => assert_eq!(first, &written, "{shape:?} wrote other rows"),
            }
        }
    }
}
