//! `prpulse-bench-summary`: how fast prpulse-api answers a summary grouped
//! by team and week over many pull requests, and how much memory it takes
//! (README, "Benchmarks"). Targets: p50 <= 50 ms, p99 <= 200 ms, peak RSS
//! <= 64 MB, for 100,000 pull requests.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use prpulse_testkit::{TestDb, api::ApiServer};
use serde::Serialize;

use crate::rss;

pub struct SummaryBench {
    pub pull_requests: u32,
    pub requests: u32,
    pub database_url: String,
    /// Where the JSON of the run is written (`bench/results`).
    pub out_dir: PathBuf,
    /// Kept in the JSON and its file name (e.g. `narrow-query`).
    pub label: Option<String>,
    /// Start prpulse-api with its rollup refresher off: every summary
    /// reads raw rows, as before the rollup (the figure it is against).
    pub no_rollup: bool,
}

/// One run, as kept in `bench/results/<time>-summary[-label].json`.
#[derive(Serialize)]
pub struct SummaryReport {
    pub started_at: String,
    pub label: Option<String>,
    pub cores: usize,
    pub build: &'static str,
    pub pull_requests: u32,
    pub requests: u32,
    pub no_rollup: bool,
    pub queries: Vec<Measured>,
    pub api_peak_mib: Option<f64>,
    /// From prpulse-api's start to a built summary rollup (its refresher
    /// builds every period the seed marked).
    pub rollup_build_s: Option<f64>,
    pub write_path: WritePath,
}

/// What the rollup's marking trigger costs a write: single-row updates of
/// a pull request's spans, each its own transaction, with the trigger and
/// without, in alternating blocks (the machine's noise hits both alike),
/// not waiting for the WAL flush of each commit.
#[derive(Serialize)]
pub struct WritePath {
    pub updates: u32,
    pub with_trigger_us: f64,
    pub without_trigger_us: f64,
}

impl SummaryReport {
    pub fn write(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let stamp = self.started_at.replace(':', "");
        let name = match &self.label {
            Some(label) => format!("{stamp}-summary-{label}.json"),
            None => format!("{stamp}-summary.json"),
        };
        let path = dir.join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(self)?)?;
        Ok(path)
    }
}

/// What one query shape measured.
#[derive(Serialize)]
pub struct Measured {
    pub query: String,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

pub async fn run(bench: &SummaryBench) -> anyhow::Result<()> {
    let started_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let db = TestDb::create_named_on(&bench.database_url, "prpulse_bench").await;
    let started = Instant::now();
    seed(&db, bench.pull_requests).await?;
    eprintln!(
        "seeded {} pull requests in {:.1} s (database {})",
        bench.pull_requests,
        started.elapsed().as_secs_f64(),
        db.name
    );
    let refresh = if bench.no_rollup { "0" } else { "200" };
    let api = ApiServer::start_with(
        &db,
        &[
            ("RUST_LOG", "warn"),
            ("PRPULSE_API_ROLLUP_REFRESH_MS", refresh),
        ],
    )
    .await;
    let token = api.create_token("bench").await;
    let rollup_build_s = if bench.no_rollup {
        None
    } else {
        let building = Instant::now();
        wait_for_rollup(&db).await?;
        Some(building.elapsed().as_secs_f64())
    };
    let range = "from=2025-01-01&to=2025-12-31";
    let mut results = Vec::new();
    for query in [
        format!("group_by=team&bucket=week&{range}"),
        format!("group_by=team&bucket=week&{range}&hours=business"),
        format!("group_by=none&bucket=none&{range}"),
    ] {
        results.push(measure(&api, &token, &query, bench.requests).await?);
    }
    let rss = api.pid().and_then(rss::peak_mib);
    drop(api);
    let write_path = measure_write_path(&db, (bench.pull_requests / 2).clamp(1, 2_000)).await?;
    println!(
        "summary over {} pull requests ({} requests each, one at a time)",
        bench.pull_requests, bench.requests
    );
    println!(
        "{:<70} {:>8} {:>8} {:>8}",
        "query", "p50 ms", "p99 ms", "max ms"
    );
    for result in &results {
        println!(
            "{:<70} {:>8.1} {:>8.1} {:>8.1}",
            result.query, result.p50_ms, result.p99_ms, result.max_ms
        );
    }
    match rss {
        Some(mib) => println!("prpulse-api peak RSS: {mib:.1} MiB"),
        None => println!("prpulse-api peak RSS: unknown (no /proc)"),
    }
    match rollup_build_s {
        Some(seconds) => {
            println!("summary rollup built in {seconds:.1} s after prpulse-api started")
        }
        None => println!("summary rollup off: every summary read raw rows"),
    }
    println!(
        "write path: {} single-row span updates, {:.0} µs each with the rollup trigger, {:.0} µs without",
        write_path.updates, write_path.with_trigger_us, write_path.without_trigger_us
    );
    let report = SummaryReport {
        started_at,
        label: bench.label.clone(),
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        pull_requests: bench.pull_requests,
        requests: bench.requests,
        no_rollup: bench.no_rollup,
        queries: results,
        api_peak_mib: rss,
        rollup_build_s,
        write_path,
    };
    println!("wrote {}", report.write(&bench.out_dir)?.display());
    Ok(())
}

async fn measure(
    api: &ApiServer,
    token: &str,
    query: &str,
    requests: u32,
) -> anyhow::Result<Measured> {
    let path = format!("/api/v1/summary?{query}");
    // Warm the pool, the plan cache and Postgres' buffers.
    for _ in 0..3 {
        api.json(&path, token).await;
    }
    let mut histogram = Histogram::<u64>::new(3)?;
    for _ in 0..requests {
        let started = Instant::now();
        let response = api.get(&path, Some(token)).await;
        anyhow::ensure!(response.status() == 200, "{path}: {}", response.status());
        response.bytes().await?;
        histogram.record(started.elapsed().as_micros() as u64)?;
    }
    let ms = |micros: u64| Duration::from_micros(micros).as_secs_f64() * 1000.0;
    Ok(Measured {
        query: query.to_owned(),
        p50_ms: ms(histogram.value_at_quantile(0.5)),
        p99_ms: ms(histogram.value_at_quantile(0.99)),
        max_ms: ms(histogram.max()),
    })
}

/// Until prpulse-api's refresher has built every marked period.
async fn wait_for_rollup(db: &TestDb) -> anyhow::Result<()> {
    let client = db.client().await;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let settled: bool = client
            .query_one(
                "SELECT NOT EXISTS (SELECT 1 FROM summary_rollup_dirty)
                        AND NOT EXISTS (SELECT 1 FROM summary_rollup_dirty_all)",
                &[],
            )
            .await?
            .get(0);
        if settled {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the summary rollup was not built in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn measure_write_path(db: &TestDb, updates: u32) -> anyhow::Result<WritePath> {
    let client = db.client().await;
    // Without waiting for each commit's WAL flush, which on this shared
    // disk is most of a single-row transaction and hides the trigger.
    client.batch_execute("SET synchronous_commit = off").await?;
    let update = client
        .prepare(
            "UPDATE pull_requests SET merged_at = merged_at + interval '1 second',
                 cycle_time_seconds = cycle_time_seconds + 1
             WHERE repository_id = 1 + $1::integer % 20 AND number = $1::integer",
        )
        .await?;
    let (mut with, mut without) = (Duration::ZERO, Duration::ZERO);
    let block = 100.min(updates.max(1));
    let mut number = 1i32;
    for round in 0..updates.div_ceil(block) * 2 {
        let trigger = round % 2 == 0;
        client
            .batch_execute(if trigger {
                "ALTER TABLE pull_requests ENABLE TRIGGER summary_rollup_mark_update"
            } else {
                "ALTER TABLE pull_requests DISABLE TRIGGER summary_rollup_mark_update"
            })
            .await?;
        let started = Instant::now();
        for _ in 0..block {
            client.execute(&update, &[&number]).await?;
            number = number % i32::try_from(updates.max(1))? + 1;
        }
        *if trigger { &mut with } else { &mut without } += started.elapsed();
    }
    client
        .batch_execute("ALTER TABLE pull_requests ENABLE TRIGGER summary_rollup_mark_update")
        .await?;
    let each =
        |total: Duration| total.as_secs_f64() * 1e6 / f64::from(updates.div_ceil(block) * block);
    Ok(WritePath {
        updates: updates.div_ceil(block) * block,
        with_trigger_us: each(with),
        without_trigger_us: each(without),
    })
}

/// `count` pull requests over 2025 in 20 repositories by 200 people in 10
/// teams (each person in one or two), with spans of hours to days, and a
/// calendar for half the teams.
async fn seed(db: &TestDb, count: u32) -> anyhow::Result<()> {
    let client = db.client().await;
    client
        .batch_execute(&format!(
            "INSERT INTO repositories (github_id, full_name)
                 SELECT r, 'acme/repo-' || r FROM generate_series(1, 20) r;
             INSERT INTO members (github_id, login, is_bot)
                 SELECT m, 'person-' || m, m % 50 = 0 FROM generate_series(1, 200) m;
             INSERT INTO github_teams (github_id, organization, slug, name)
                 SELECT t, 'acme', 'team-' || t, 'Team ' || t FROM generate_series(1, 10) t;
             INSERT INTO github_team_members (team_id, member_id)
                 SELECT 1 + m % 10, m FROM generate_series(1, 200) m
                 UNION SELECT 1 + m % 7, m FROM generate_series(1, 200) m WHERE m % 3 = 0;
             INSERT INTO working_calendars (team_slug, time_zone, working_days, day_start, day_end)
                 SELECT 'team-' || t, 'Europe/Berlin', '{{1,2,3,4,5}}', '09:00', '17:00'
                 FROM generate_series(1, 5) t;
             INSERT INTO pull_requests (
                 repository_id, number, github_id, author_id, version_rank, version_at,
                 version_delivery, carried_rank, carried_at, carried_delivery, state, draft,
                 created_at, ready_at, first_review_at, first_approval_at, merged_at,
                 review_rounds)
             SELECT 1 + n % 20, n, n, 1 + n % 200, 1, created, 'seed', 1, created, 'seed',
                    'closed', false,
                    created, created, created + review, created + review + approve,
                    created + review + approve + merge, 1 + n % 3
             FROM (
                 SELECT n,
                     timestamptz '2025-01-01' + make_interval(secs => n * (31536000.0 / {count})) AS created,
                     make_interval(mins => ((n::bigint * 7919) % 3000 + 1)::int) AS review,
                     make_interval(mins => ((n::bigint * 104729) % 2000)::int) AS approve,
                     make_interval(mins => ((n::bigint * 1299709) % 5000 + 1)::int) AS merge
                 FROM generate_series(1, {count}) n
             ) seeded;
             UPDATE pull_requests SET
                 cycle_time_seconds = extract(epoch FROM merged_at - created_at)::bigint,
                 review_time_seconds = extract(epoch FROM first_review_at - created_at)::bigint,
                 pickup_time_seconds = extract(epoch FROM first_review_at - ready_at)::bigint,
                 time_to_first_approval_seconds = extract(epoch FROM first_approval_at - ready_at)::bigint,
                 merge_after_approval_seconds = extract(epoch FROM merged_at - first_approval_at)::bigint;"
        ))
        .await?;
    // On its own: VACUUM cannot run inside the batch's implicit transaction.
    client.batch_execute("VACUUM ANALYZE").await?;
    Ok(())
}
