//! The independent database ceiling: plain SQL of the worker's write shape
//! (insert the delivery's ledger row with its raw payload, upsert its pull
//! request) into tables of its own (`sql_ceiling/schema.sql`), through
//! `tokio-postgres` alone: no prpulse store or worker code, so it says what
//! Postgres can do for these writes, not what prpulse does. Three shapes:
//! one delivery per transaction; a batch per transaction as one statement
//! per row; a batch per transaction as one set-based statement per table
//! (`INSERT … SELECT FROM unnest(…)`).

mod rows;
mod statements;

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
use statements::Connection;

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
