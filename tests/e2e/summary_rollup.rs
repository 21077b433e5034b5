//! The maintained summary rollup (migrations/V17) answers exactly what the
//! raw rows do: every grouping, bucket, kind of hours and bots choice, over
//! ranges with edges inside weeks and months, while periods are dirty,
//! after calendars, teams, logins, bot flags and names change, and when a
//! write commits while a refresher runs. And prpulse-api builds it.

use chrono::NaiveDate;
use prpulse_api::{
    params::{GroupBy, Hours, SummaryParams},
    summary::{
        ROLLED_UP, Source, plan,
        refresh::{refresh_round, refresh_until_idle},
        summarise_from,
    },
};
use prpulse_domain::rollup::Bucket;
use prpulse_e2e::{TestDb, api::ApiServer};
use prpulse_store::Pool;

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// Ranges with whole periods only, edges mid-week, one day, and one week
/// across a month end.
const RANGES: [(&str, &str); 4] = [
    ("2026-01-01", "2026-04-30"),
    ("2026-01-07", "2026-03-18"),
    ("2026-02-11", "2026-02-11"),
    ("2026-03-30", "2026-04-05"),
];

/// 1,500 pull requests from January to April 2026 in 6 repositories by 40
/// people (every 13th a bot, two in no team, every third in two of four
/// teams; some with no author known), spans of minutes to days across
/// period ends, some never reviewed, approved or merged; calendars for two
/// teams (Berlin; New York with a holiday) and a London default.
async fn seed(db: &TestDb) {
    db.client()
        .await
        .batch_execute(
            "INSERT INTO repositories (github_id, full_name)
                 SELECT r, 'acme/repo-' || r FROM generate_series(1, 6) r;
             INSERT INTO members (github_id, login, is_bot)
                 SELECT m, 'person-' || m, m % 13 = 0 FROM generate_series(1, 40) m;
             INSERT INTO github_teams (github_id, organization, slug, name)
                 SELECT t, 'acme', 'team-' || t, 'Team ' || t FROM generate_series(1, 4) t;
             INSERT INTO github_team_members (team_id, member_id)
                 SELECT 1 + m % 4, m FROM generate_series(1, 38) m
                 UNION SELECT 1 + (m + 1) % 4, m FROM generate_series(1, 38) m WHERE m % 3 = 0;
             INSERT INTO working_calendars (team_slug, time_zone, working_days, day_start, day_end, holidays)
                 VALUES ('team-1', 'Europe/Berlin', '{1,2,3,4,5}', '09:00', '17:00', '{}'),
                        ('team-2', 'America/New_York', '{1,2,3,4}', '08:30', '16:00', '{2026-02-16}'),
                        (NULL, 'Europe/London', '{1,2,3,4,5}', '10:00', '18:00', '{}');
             INSERT INTO pull_requests (
                 repository_id, number, github_id, author_id, version_rank, version_at,
                 version_delivery, carried_rank, carried_at, carried_delivery, state, draft,
                 created_at, ready_at, first_review_at, first_approval_at, merged_at,
                 review_rounds)
             SELECT 1 + n % 6, n, n, CASE WHEN n % 97 = 0 THEN NULL ELSE 1 + n % 40 END,
                    1, created, 'seed', 1, created, 'seed', 'closed', false, created,
                    created + CASE WHEN n % 5 = 0 THEN interval '3 hours' ELSE interval '0' END,
                    CASE WHEN n % 11 = 0 THEN NULL ELSE created + review END,
                    CASE WHEN n % 7 = 0 THEN NULL ELSE created + review + approve END,
                    CASE WHEN n % 9 = 0 THEN NULL ELSE created + review + approve + merge END,
                    n % 4
             FROM (
                 SELECT n,
                     timestamptz '2025-12-20' + make_interval(secs => n * 8064.0) AS created,
                     make_interval(mins => ((n::bigint * 7919) % 4000 + 1)::int) AS review,
                     make_interval(mins => ((n::bigint * 104729) % 3000)::int) AS approve,
                     make_interval(mins => ((n::bigint * 1299709) % 6000 + 1)::int) AS merge
                 FROM generate_series(1, 1500) n
             ) seeded;
             UPDATE pull_requests SET
                 cycle_time_seconds = extract(epoch FROM merged_at - created_at)::bigint,
                 review_time_seconds = extract(epoch FROM first_review_at - created_at)::bigint,
                 pickup_time_seconds = extract(epoch FROM first_review_at - ready_at)::bigint,
                 time_to_first_approval_seconds = extract(epoch FROM first_approval_at - ready_at)::bigint,
                 merge_after_approval_seconds = extract(epoch FROM merged_at - first_approval_at)::bigint;",
        )
        .await
        .unwrap();
}

/// Every grouping, bucket, kind of hours and bots choice, each on one of
/// [`RANGES`] in turn (all four of them per grouping and bucket).
fn every_shape() -> Vec<SummaryParams> {
    let mut shapes = Vec::new();
    for group_by in ROLLED_UP {
        for bucket in [Bucket::None, Bucket::Week, Bucket::Month] {
            for (index, (hours, include_bots)) in [
                (Hours::Wall, false),
                (Hours::Wall, true),
                (Hours::Business, false),
                (Hours::Business, true),
            ]
            .into_iter()
            .enumerate()
            {
                let (from, to) = RANGES[index];
                shapes.push(SummaryParams {
                    group_by,
                    bucket,
                    from: date(from),
                    to: date(to),
                    include_bots,
                    hours,
                });
            }
        }
    }
    shapes
}

/// Each grouping by week over mid-week edges, wall and business hours.
fn weekly_shapes() -> Vec<SummaryParams> {
    every_shape()
        .into_iter()
        .filter(|shape| shape.bucket == Bucket::Week && !shape.include_bots)
        .map(|shape| SummaryParams {
            from: date(RANGES[1].0),
            to: date(RANGES[1].1),
            ..shape
        })
        .collect()
}

/// Each shape's summary through the rollup equals the raw one; returns
/// how many periods the rollup served in all (so a caller can tell the
/// rollup was read, not skipped).
async fn assert_rollup_is_exact(pool: &Pool, shapes: &[SummaryParams], when: &str) -> usize {
    let mut served = 0;
    for params in shapes {
        let client = pool.get().await.unwrap();
        served += plan(&client, params).await.unwrap().served.len();
        drop(client);
        let rollup = summarise_from(pool, params, Source::Rollup).await.unwrap();
        let raw = summarise_from(pool, params, Source::Raw).await.unwrap();
        assert_eq!(rollup, raw, "{when}: {params:?}");
    }
    served
}

/// Periods of the year-to-April range the rollup serves now.
async fn served_periods(pool: &Pool) -> Vec<NaiveDate> {
    let params = SummaryParams {
        group_by: GroupBy::Team,
        bucket: Bucket::Week,
        from: date("2026-01-01"),
        to: date("2026-04-30"),
        include_bots: false,
        hours: Hours::Wall,
    };
    let client = pool.get().await.unwrap();
    plan(&client, &params).await.unwrap().served
}

#[tokio::test]
async fn the_rollup_answers_exactly_what_the_raw_rows_do_and_writes_mark_their_periods() {
    let db = TestDb::create().await;
    seed(&db).await;
    let pool = db.pool();
    let client = db.client().await;

    // Nothing built yet: all raw.
    assert_eq!(
        assert_rollup_is_exact(&pool, &every_shape(), "before a refresh").await,
        0
    );
    assert!(refresh_until_idle(&pool).await.unwrap() >= 17);
    let all = served_periods(&pool).await;
    // 17 Mondays from 5 January to 27 April, and the 1st of January,
    // February, March and April.
    assert_eq!(all.len(), 21, "{all:?}");
    assert!(assert_rollup_is_exact(&pool, &every_shape(), "built").await > 0);

    // Writes mark what they touch: a span moved to another period, a
    // review time changed, a pull request deleted, one added. Read before
    // any refresh, so a missed mark would serve a stale period.
    client
        .batch_execute(
            "UPDATE pull_requests SET merged_at = timestamptz '2026-03-31 23:30Z',
                 cycle_time_seconds = cycle_time_seconds + 86400 WHERE number = 400;
             UPDATE pull_requests SET review_time_seconds = 1 WHERE number = 401;
             DELETE FROM pull_requests WHERE number = 402;
             INSERT INTO pull_requests (repository_id, number, github_id, author_id,
                 version_rank, version_at, version_delivery, carried_rank, carried_at,
                 carried_delivery, state, draft, created_at, merged_at, cycle_time_seconds,
                 review_rounds)
             VALUES (1, 9000, 9000, 3, 1, now(), 'seed', 1, now(), 'seed', 'closed', false,
                 '2026-04-01 08:00Z', '2026-04-02 09:00Z', 90000, 2);",
        )
        .await
        .unwrap();
    let dirty = served_periods(&pool).await;
    assert!(dirty.len() < all.len() && !dirty.contains(&date("2026-04-01")));
    assert_rollup_is_exact(&pool, &every_shape(), "dirty periods").await;
    refresh_until_idle(&pool).await.unwrap();
    assert_eq!(served_periods(&pool).await, all);
    assert_rollup_is_exact(&pool, &every_shape(), "rebuilt").await;
}

#[tokio::test]
async fn teams_calendars_logins_bots_and_names_mark_every_period() {
    let db = TestDb::create().await;
    seed(&db).await;
    let pool = db.pool();
    let client = db.client().await;
    refresh_until_idle(&pool).await.unwrap();
    let all = served_periods(&pool).await;
    assert_eq!(all.len(), 21, "{all:?}");
    for (what, change) in [
        (
            "a calendar changed",
            "UPDATE working_calendars SET holidays = '{2026-02-03,2026-03-10}', day_start = '07:00'
             WHERE team_slug = 'team-1'",
        ),
        (
            "a new team calendar",
            "INSERT INTO working_calendars (team_slug, time_zone, working_days, day_start, day_end)
             VALUES ('team-3', 'Asia/Tokyo', '{1,2,3,4,5,6}', '09:00', '12:00')",
        ),
        (
            "a person joined a second team",
            "INSERT INTO github_team_members (team_id, member_id) VALUES (3, 1)",
        ),
        (
            "a person left their team",
            "DELETE FROM github_team_members WHERE member_id = 2",
        ),
        (
            "a team was deleted",
            "UPDATE github_teams SET deleted = true WHERE github_id = 4",
        ),
        (
            "a person turned out to be a bot",
            "UPDATE members SET is_bot = true WHERE github_id = 5",
        ),
        (
            "a login changed",
            "UPDATE members SET login = 'renamed' WHERE github_id = 6",
        ),
        (
            "a repository was renamed",
            "UPDATE repositories SET full_name = 'acme/renamed' WHERE github_id = 2",
        ),
    ] {
        client.batch_execute(change).await.unwrap();
        assert!(served_periods(&pool).await.is_empty(), "{what}");
        assert_rollup_is_exact(&pool, &weekly_shapes(), what).await;
        refresh_until_idle(&pool).await.unwrap();
        assert_eq!(served_periods(&pool).await, all, "{what}");
        assert!(assert_rollup_is_exact(&pool, &weekly_shapes(), what).await > 0);
    }
}

#[tokio::test]
async fn a_write_committed_during_a_refresh_keeps_its_period_dirty() {
    let db = TestDb::create().await;
    seed(&db).await;
    let pool = db.pool();
    refresh_until_idle(&pool).await.unwrap();
    // A committed mark on the period of 9 February, then a write to the
    // same period that commits only after a refresher took its snapshot.
    let client = db.client().await;
    client
        .batch_execute(
            "UPDATE pull_requests SET merged_at = timestamptz '2026-02-10 12:00Z'
             WHERE number IN (500, 501)",
        )
        .await
        .unwrap();
    let writer = db.client().await;
    writer
        .batch_execute("BEGIN; UPDATE pull_requests SET cycle_time_seconds = 7 WHERE number = 501")
        .await
        .unwrap();
    assert!(refresh_until_idle(&pool).await.unwrap() >= 1);
    assert!(served_periods(&pool).await.contains(&date("2026-02-09")));
    writer.batch_execute("COMMIT").await.unwrap();
    assert!(!served_periods(&pool).await.contains(&date("2026-02-09")));
    assert_rollup_is_exact(&pool, &every_shape(), "a write during a refresh").await;
    refresh_until_idle(&pool).await.unwrap();
    assert!(served_periods(&pool).await.contains(&date("2026-02-09")));
}

#[tokio::test]
async fn one_refresher_at_a_time() {
    let db = TestDb::create().await;
    seed(&db).await;
    let pool = db.pool();
    let holder = db.client().await;
    holder
        .batch_execute("BEGIN; LOCK TABLE summary_rollup_periods IN EXCLUSIVE MODE")
        .await
        .unwrap();
    assert_eq!(
        refresh_round(&pool).await.unwrap(),
        prpulse_api::summary::refresh::Round::Busy
    );
    holder.batch_execute("COMMIT").await.unwrap();
    assert_ne!(
        refresh_round(&pool).await.unwrap(),
        prpulse_api::summary::refresh::Round::Busy
    );
    assert!(refresh_until_idle(&pool).await.unwrap() > 0);
}

#[tokio::test]
async fn prpulse_api_builds_the_rollup_and_serves_from_it() {
    let db = TestDb::create().await;
    seed(&db).await;
    let api = ApiServer::start_with(&db, &[("PRPULSE_API_ROLLUP_REFRESH_MS", "50")]).await;
    let token = api.create_token("lead").await;
    db.wait_until_true(
        "SELECT NOT EXISTS (SELECT 1 FROM summary_rollup_dirty)
                AND NOT EXISTS (SELECT 1 FROM summary_rollup_dirty_all)
                AND EXISTS (SELECT 1 FROM summary_rollup_periods)",
        "prpulse-api builds the summary rollup",
    )
    .await;
    let pool = db.pool();
    assert_eq!(served_periods(&pool).await.len(), 21);
    let params = SummaryParams {
        group_by: GroupBy::Team,
        bucket: Bucket::Week,
        from: date("2026-01-07"),
        to: date("2026-04-30"),
        include_bots: false,
        hours: Hours::Business,
    };
    let raw = summarise_from(&pool, &params, Source::Raw).await.unwrap();
    let served = api
        .json(
            "/api/v1/summary?group_by=team&bucket=week&from=2026-01-07&to=2026-04-30&hours=business",
            &token,
        )
        .await;
    // Both through the same float parser: serde_json's is not exact.
    let raw: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&raw).unwrap()).unwrap();
    assert_eq!(served, raw);
}
