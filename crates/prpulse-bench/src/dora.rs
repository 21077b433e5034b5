//! `prpulse-bench-dora`: how fast the DORA read side answers over a
//! synthetic history (README, "DORA"): `GET /api/v1/dora` grouped by
//! repository and week, Grafana's "Recent deployments" table
//! (`deployments` newest 100) and a quarter of `pr_metrics`' DORA columns.
//! Targets: the API under ~300 ms, the table under ~50 ms.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use prpulse_testkit::{TestDb, api::ApiServer};

pub struct DoraBench {
    pub repositories: u32,
    pub pull_requests: u32,
    pub deploys: u32,
    pub incidents: u32,
    pub requests: u32,
    pub database_url: String,
    /// Leave the database behind (for EXPLAIN ANALYZE) instead of dropping it.
    pub keep: bool,
}

/// Grafana's queries, timed on the database itself.
const SQL: [(&str, &str); 3] = [
    (
        "deployments newest 100",
        "SELECT * FROM deployments ORDER BY finished_at DESC LIMIT 100",
    ),
    (
        "pr_metrics DORA columns, one quarter",
        "SELECT repository, number, first_commit_at, deployed_at, deployment_id,
                coding_time_seconds, deploy_time_seconds, lead_time_seconds
         FROM pr_metrics WHERE merged_at >= '2025-04-01' AND merged_at < '2025-07-01'",
    ),
    ("dora_incidents", "SELECT * FROM dora_incidents"),
];

pub async fn run(bench: &DoraBench) -> anyhow::Result<()> {
    let db = TestDb::create_named_on(&bench.database_url, "prpulse_bench_dora").await;
    let started = Instant::now();
    seed(&db, bench).await?;
    eprintln!(
        "seeded {} repositories, {} merged pull requests, {} deploys, {} incidents in {:.1} s (database {})",
        bench.repositories,
        bench.pull_requests,
        bench.deploys,
        bench.incidents,
        started.elapsed().as_secs_f64(),
        db.name
    );
    let api = ApiServer::start_with(&db, &[("RUST_LOG", "warn")]).await;
    let token = api.create_token("bench").await;
    println!(
        "{:<60} {:>8} {:>8} {:>8}",
        "query", "p50 ms", "p99 ms", "max ms"
    );
    let range = "from=2025-01-01&to=2025-12-31";
    for query in [
        format!("group_by=repository&bucket=week&{range}"),
        format!("group_by=none&bucket=none&{range}"),
    ] {
        let path = format!("/api/v1/dora?{query}");
        let mut histogram = Histogram::<u64>::new(3)?;
        api.json(&path, &token).await;
        for _ in 0..bench.requests {
            let started = Instant::now();
            let response = api.get(&path, Some(&token)).await;
            anyhow::ensure!(response.status() == 200, "{path}: {}", response.status());
            response.bytes().await?;
            histogram.record(started.elapsed().as_micros() as u64)?;
        }
        print_row(&path, &histogram);
    }
    let client = db.client().await;
    for (name, sql) in SQL {
        let mut histogram = Histogram::<u64>::new(3)?;
        client.query(sql, &[]).await?;
        for _ in 0..bench.requests {
            let started = Instant::now();
            client.query(sql, &[]).await?;
            histogram.record(started.elapsed().as_micros() as u64)?;
        }
        print_row(name, &histogram);
    }
    if bench.keep {
        eprintln!("kept database {}", db.name);
        std::mem::forget(db);
    }
    Ok(())
}

fn print_row(name: &str, histogram: &Histogram<u64>) {
    let ms = |micros: u64| Duration::from_micros(micros).as_secs_f64() * 1000.0;
    println!(
        "{:<60} {:>8.1} {:>8.1} {:>8.1}",
        name,
        ms(histogram.value_at_quantile(0.5)),
        ms(histogram.value_at_quantile(0.99)),
        ms(histogram.max())
    );
}

/// Over 2025: merged pull requests spread evenly over the repositories,
/// each with a merge commit and a first commit; GitHub deployments, six
/// in seven to `production` (the rest to `staging`), most succeeding and one
/// in 25 failing, each production success listing (as the compare API
/// would) the merge commits since the deploy before it; incident issues
/// opened after a deploy and closed hours later. The same arguments give
/// the same rows.
pub async fn seed(db: &TestDb, bench: &DoraBench) -> anyhow::Result<()> {
    let DoraBench {
        repositories,
        pull_requests,
        deploys,
        incidents,
        ..
    } = *bench;
    let client = db.client().await;
    client
        .batch_execute(&format!(
            "INSERT INTO repositories (github_id, full_name)
                 SELECT r, 'acme/repo-' || r FROM generate_series(1, {repositories}) r;
             INSERT INTO members (github_id, login, is_bot)
                 SELECT m, 'person-' || m, m % 50 = 0 FROM generate_series(1, 100) m;
             INSERT INTO github_teams (github_id, organization, slug, name)
                 SELECT t, 'acme', 'team-' || t, 'Team ' || t FROM generate_series(1, 5) t;
             INSERT INTO github_team_members (team_id, member_id)
                 SELECT 1 + m % 5, m FROM generate_series(1, 100) m;
             INSERT INTO pull_requests (
                 repository_id, number, github_id, author_id, version_rank, version_at,
                 version_delivery, carried_rank, carried_at, carried_delivery, state, draft,
                 created_at, ready_at, merged_at, closed_at, base_ref, title)
             SELECT 1 + n % {repositories}, n, n, 1 + n % 100, 1, merged, 'seed', 1, merged,
                    'seed', 'closed', false, created, created, merged, merged, 'main',
                    'Change ' || n
             FROM (
                 SELECT n,
                     timestamptz '2025-01-01' + make_interval(secs => n * (31536000.0 / {pull_requests})) AS created,
                     timestamptz '2025-01-01' + make_interval(secs => n * (31536000.0 / {pull_requests}))
                         + make_interval(mins => ((n::bigint * 7919) % 3000 + 1)::int) AS merged
                 FROM generate_series(1, {pull_requests}) n
             ) seeded;
             INSERT INTO pull_request_merges (repository_id, number, merge_commit_sha, into_default_branch)
                 SELECT repository_id, number, 'merge-' || number, true FROM pull_requests;
             INSERT INTO pull_request_first_commits (repository_id, number, first_commit_at)
                 SELECT repository_id, number,
                        created_at - make_interval(mins => ((number::bigint * 104729) % 4000 + 5)::int)
                 FROM pull_requests;
             INSERT INTO github_deployments (
                 github_id, repository_id, sha, ref, environment, production_environment,
                 created_at, version_at, version_delivery)
             SELECT d, 1 + d % {repositories}, 'deploy-' || d, 'main',
                    CASE WHEN d % 7 = 0 THEN 'staging' ELSE 'production' END, NULL,
                    at, at, 'seed'
             FROM (SELECT d, timestamptz '2025-01-01'
                             + make_interval(secs => d * (31536000.0 / {deploys})) AS at
                   FROM generate_series(1, {deploys}) d) seeded;
             INSERT INTO github_deployment_statuses (github_id, deployment_id, state, created_at)
                 SELECT github_id * 2, github_id, 'in_progress', created_at + interval '1 minute'
                 FROM github_deployments
                 UNION ALL
                 SELECT github_id * 2 + 1, github_id,
                        CASE WHEN github_id % 25 = 0 THEN 'failure' ELSE 'success' END,
                        created_at + interval '10 minutes'
                 FROM github_deployments;
             INSERT INTO deployment_commits (deployment_id, sha)
             SELECT DISTINCT ON (pr.repository_id, pr.number)
                    'deployment:' || d.github_id, 'merge-' || pr.number
             FROM pull_requests pr
             JOIN github_deployments d ON d.repository_id = pr.repository_id
                 AND d.environment = 'production' AND d.github_id % 25 <> 0
                 AND d.created_at >= pr.merged_at
             ORDER BY pr.repository_id, pr.number, d.created_at;
             INSERT INTO github_issues (
                 github_id, repository_id, number, title, labels, created_at, resolved_at,
                 version_at, version_rank, version_delivery)
             SELECT i, 1 + i % {repositories}, 100000 + i, 'Outage ' || i, '{{incident}}',
                    opened, opened + make_interval(mins => ((i::bigint * 7919) % 600 + 10)::int),
                    opened, 1, 'seed'
             FROM (SELECT i, timestamptz '2025-01-01'
                             + make_interval(secs => i * (31536000.0 / {incidents}) + 1800) AS opened
                   FROM generate_series(1, {incidents}) i) seeded;"
        ))
        .await?;
    client.batch_execute("VACUUM ANALYZE").await?;
    Ok(())
}
