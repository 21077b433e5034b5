//! `prpulse rebuild`: the projection recomputed from the ledger equals a
//! fresh replay of the same payloads into an empty database, also when
//! run twice, beside a live stream, after an interruption, for one
//! repository, and with a changed bot list; payloads removed by retention
//! are reported.

use chrono::{DateTime, Duration, TimeZone, Utc};
use prpulse_domain::BotPolicy;
use prpulse_e2e::{Delivery, Person, PrShown, PullRequestBuilder, Repo, TestDb, direct};
use prpulse_store::rebuild::{Phase, Scope};
use prpulse_worker::rebuild::{PartialPullRequest, Progress, Rebuild, Report};
use tokio_util::sync::CancellationToken;

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 9, 0, 0).unwrap() + Duration::minutes(minutes)
}

/// Eight pull requests in two repositories: drafts, reviews (one by
/// `ci-helper`, a human until the bot list says otherwise), a rename of the
/// repository and of a person, a close and a merge.
fn history() -> Vec<Delivery> {
    let ada = Person::user(1, "ada");
    let grace = Person::user(2, "grace");
    let helper = Person::user(3, "ci-helper");
    let mut all = Vec::new();
    for number in 1..=8 {
        let (repo, name) = if number % 2 == 0 {
            (Repo::new(20, "acme/web"), "acme/web")
        } else {
            (Repo::new(10, "acme/api"), "acme/api")
        };
        let t = number * 100;
        let pr = PullRequestBuilder::new(&repo, number, &ada, at(t));
        let pr = if number % 3 == 0 { pr.draft() } else { pr };
        all.push(pr.opened());
        if number % 3 == 0 {
            let draft = PrShown {
                draft: true,
                ..PrShown::OPEN
            };
            all.push(pr.review_of(draft, number * 10, &grace, "commented", at(t + 5)));
            all.push(pr.ready_for_review(at(t + 20)));
        }
        all.push(pr.review(number * 10 + 1, &helper, "commented", at(t + 30)));
        all.push(pr.review(number * 10 + 2, &grace, "changes_requested", at(t + 40)));
        all.push(pr.review(number * 10 + 3, &grace, "approved", at(t + 40)));
        // Renamed later: the repository and ada.
        let renamed = PullRequestBuilder::new(
            &Repo::new(repo.id, &format!("{name}-renamed")),
            number,
            &Person::user(1, "ada-l"),
            at(t),
        );
        if number % 4 == 1 {
            all.push(renamed.merged(at(t + 60), &grace));
        } else {
            all.push(renamed.closed(at(t + 60)));
        }
    }
    all
}

/// `deliveries` applied in a scrambled order, one by one.
async fn live(db: &TestDb, deliveries: &[Delivery]) {
    let processor = direct::processor(db);
    let mut order: Vec<&Delivery> = deliveries.iter().collect();
    order.reverse();
    order.rotate_left(deliveries.len() / 3);
    for delivery in order {
        direct::apply(&processor, delivery).await;
    }
}

/// The rows a fresh replay of `deliveries` into an empty database gives,
/// with `bots`.
async fn fresh_replay(deliveries: &[Delivery], bots: &BotPolicy) -> Vec<serde_json::Value> {
    let db = TestDb::create().await;
    let processor = prpulse_worker::Processor::new(db.pool(), bots.clone());
    for delivery in deliveries {
        direct::apply(&processor, delivery).await;
    }
    db.projection_rows().await
}

/// What an older prpulse (or a bug) may have left: stale names without a
/// time, wrong metrics and facts, a lost review, deliveries from before
/// V8 that name no pull request.
async fn damage(db: &TestDb) {
    db.client()
        .await
        .batch_execute(
            "UPDATE members SET login = 'stale', observed_at = NULL WHERE github_id = 1;
             UPDATE repositories SET full_name = 'stale/name', observed_at = NULL;
             UPDATE pull_requests SET pickup_time_seconds = NULL, review_rounds = 99,
                                      title = 'stale', first_ready_for_review_at = NULL;
             DELETE FROM reviews WHERE github_id = 12;
             UPDATE deliveries SET repository_id = NULL, pull_request_number = NULL;",
        )
        .await
        .unwrap();
}

async fn rebuild(db: &TestDb, bots: BotPolicy, scope: Scope) -> Report {
    Rebuild::new(db.pool(), bots, scope)
        .page_size(3)
        .run(&CancellationToken::new(), |_| {})
        .await
        .unwrap()
}

#[tokio::test]
async fn a_rebuild_gives_the_rows_of_a_fresh_replay_and_a_second_one_the_same() {
    let db = TestDb::create().await;
    let deliveries = history();
    live(&db, &deliveries).await;
    let expected = fresh_replay(&deliveries, &BotPolicy::default()).await;
    damage(&db).await;
    assert_ne!(db.projection_rows().await, expected, "the damage shows");

    let report = rebuild(&db, BotPolicy::default(), Scope::default()).await;
    assert_eq!(report.pull_requests, 8);
    assert_eq!(report.deliveries_read, deliveries.len() as u64);
    assert!(report.partial.is_empty() && report.unparseable.is_empty());
    assert_eq!(db.projection_rows().await, expected);

    let again = rebuild(&db, BotPolicy::default(), Scope::default()).await;
    assert!(!again.resumed);
    assert_eq!(db.projection_rows().await, expected, "a second rebuild");
    assert_eq!(db.deliveries().await, deliveries.len() as i64);
}

#[tokio::test]
async fn a_rebuild_during_a_live_stream_equals_a_clean_run() {
    let db = TestDb::create().await;
    let deliveries = history();
    let (before, during) = deliveries.split_at(deliveries.len() / 2);
    live(&db, before).await;
    damage(&db).await;
    // Two workers stream the rest while the rebuild runs, one delivery per
    // transaction beside it (and some twice, as redeliveries come).
    let stream = |part: Vec<Delivery>| {
        let processor = direct::processor(&db);
        async move {
            for delivery in &part {
                direct::apply(&processor, delivery).await;
                tokio::task::yield_now().await;
            }
        }
    };
    let (odd, even): (Vec<_>, Vec<_>) = during
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 1);
    let odd: Vec<Delivery> = odd.into_iter().map(|(_, d)| d).collect();
    let mut even: Vec<Delivery> = even.into_iter().map(|(_, d)| d).collect();
    even.extend(odd.iter().take(3).cloned());
    let rebuilding = Rebuild::new(db.pool(), BotPolicy::default(), Scope::default()).page_size(1);
    let cancel = CancellationToken::new();
    let (report, (), ()) = tokio::join!(rebuilding.run(&cancel, |_| {}), stream(odd), stream(even));
    report.unwrap();
    assert_eq!(
        db.projection_rows().await,
        fresh_replay(&deliveries, &BotPolicy::default()).await
    );
    assert_eq!(db.deliveries().await, deliveries.len() as i64, "each once");
}

#[tokio::test]
async fn an_interrupted_rebuild_resumes_where_it_stopped() {
    let db = TestDb::create().await;
    let deliveries = history();
    live(&db, &deliveries).await;
    damage(&db).await;
    let cancel = CancellationToken::new();
    let mut in_pull_requests = false;
    let mut done = 0;
    let first = Rebuild::new(db.pool(), BotPolicy::default(), Scope::default())
        .page_size(2)
        .run(&cancel, |progress| match progress {
            Progress::Phase { phase, .. } => in_pull_requests = phase == Phase::PullRequests,
            Progress::Advanced(n) if in_pull_requests => {
                done += n;
                if done == 3 {
                    cancel.cancel();
                }
            }
            Progress::Advanced(_) => {}
        })
        .await
        .unwrap();
    assert!(first.interrupted);
    assert_eq!(first.pull_requests, 3);

    let mut totals = Vec::new();
    let second = Rebuild::new(db.pool(), BotPolicy::default(), Scope::default())
        .run(&CancellationToken::new(), |progress| {
            if let Progress::Phase { phase, total } = progress {
                totals.push((phase, total));
            }
        })
        .await
        .unwrap();
    assert!(second.resumed && !second.interrupted);
    // It skipped the deliveries phase and the three pull requests done.
    assert_eq!(totals, vec![(Phase::PullRequests, 5)]);
    assert_eq!(second.pull_requests, 5);
    assert_eq!(
        db.projection_rows().await,
        fresh_replay(&deliveries, &BotPolicy::default()).await
    );
}

#[tokio::test]
async fn a_rebuild_of_one_repository_leaves_the_others_alone() {
    let db = TestDb::create().await;
    let deliveries = history();
    live(&db, &deliveries).await;
    damage(&db).await;
    let report = rebuild(
        &db,
        BotPolicy::default(),
        Scope {
            repository_id: Some(10),
            since: None,
        },
    )
    .await;
    assert_eq!(report.pull_requests, 4);
    let rounds = db
        .client()
        .await
        .query(
            "SELECT repository_id, count(*) FILTER (WHERE review_rounds = 99)
             FROM pull_requests GROUP BY 1 ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get::<_, i64>(0), row.get::<_, i64>(1)))
        .collect::<Vec<_>>();
    assert_eq!(rounds, vec![(10, 0), (20, 4)]);
    let names: Vec<String> = db
        .client()
        .await
        .query("SELECT full_name FROM repositories ORDER BY github_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(names, ["acme/api-renamed", "stale/name"]);

    // --since: only pull requests with a delivery received since then (#7
    // and #8 had one in May), each from all its deliveries.
    db.client()
        .await
        .batch_execute(
            "UPDATE deliveries SET received_at = '2026-04-01T00:00:00Z';
             UPDATE deliveries SET received_at = '2026-05-10T00:00:00Z'
             WHERE pull_request_number IN (7, 8) AND event = 'pull_request_review';",
        )
        .await
        .unwrap();
    let report = rebuild(
        &db,
        BotPolicy::default(),
        Scope {
            repository_id: None,
            since: Some(at(0)),
        },
    )
    .await;
    assert_eq!(report.pull_requests, 2);
    assert_eq!(
        db.count("SELECT count(*) FROM pull_requests WHERE review_rounds = 99")
            .await,
        3
    );
}

#[tokio::test]
async fn payloads_removed_by_retention_are_reported_and_their_facts_kept() {
    let db = TestDb::create().await;
    let deliveries = history();
    live(&db, &deliveries).await;
    let before = db.pr("acme/api-renamed", 3).await;
    // Retention took #3's `opened` payload; and one delivery lost its
    // payload before prpulse recorded which pull request it was about.
    let opened_3 = &deliveries
        .iter()
        .find(|d| {
            d.event == "pull_request"
                && String::from_utf8_lossy(&d.body).contains("\"opened\"")
                && String::from_utf8_lossy(&d.body).contains("\"number\":3")
        })
        .unwrap()
        .id;
    let client = db.client().await;
    client
        .execute(
            "DELETE FROM delivery_payloads WHERE delivery_id = $1",
            &[opened_3],
        )
        .await
        .unwrap();
    client
        .batch_execute(
            "WITH lost AS (SELECT delivery_id FROM deliveries
                           WHERE repository_id = 20 AND pull_request_number = 8
                             AND event = 'pull_request_review' LIMIT 1),
                  gone AS (DELETE FROM delivery_payloads
                           WHERE delivery_id = (SELECT delivery_id FROM lost))
             UPDATE deliveries SET repository_id = NULL, pull_request_number = NULL
             WHERE delivery_id = (SELECT delivery_id FROM lost);
             UPDATE pull_requests SET review_rounds = 99 WHERE number = 3;",
        )
        .await
        .unwrap();
    let rows_before = db.projection_rows().await;
    let report = rebuild(&db, BotPolicy::default(), Scope::default()).await;
    assert_eq!(report.purged_unattributed, 1);
    // Every pull request created before that lost payload may have been
    // its pull request (here all eight): none is reset, each is reported.
    assert_eq!(report.partial.len(), 8);
    assert!(report.partial.contains(&PartialPullRequest {
        repository_id: 10,
        number: 3,
        missing: 1,
        maybe_more: true,
    }));
    // Nothing is lost: #3 keeps that it was opened as a draft (only the
    // lost payload said so), #8 the review whose payload is gone, and the
    // metrics follow the definitions again.
    assert_eq!(db.pr("acme/api-renamed", 3).await, before);
    let review_count = |rows: &[serde_json::Value]| {
        rows.iter()
            .filter(|row| row.get("submitted_state").is_some())
            .count()
    };
    let rows_after = db.projection_rows().await;
    assert_eq!(review_count(&rows_after), review_count(&rows_before));
    assert_eq!(review_count(&rows_after), 8 * 3 + 2);
}

/// `prpulse rebuild` itself, the binary (build it with `cargo build --bins`):
/// after `PRPULSE_BOT_LOGINS` names `ci-helper`, its reviews stop being
/// first reviews, exactly as a fresh replay with that list says.
#[tokio::test]
async fn changing_the_bot_logins_and_rebuilding_moves_first_review_at() {
    let db = TestDb::create().await;
    let deliveries = history();
    live(&db, &deliveries).await;
    let first_reviews = |rows: Vec<serde_json::Value>| -> Vec<serde_json::Value> {
        rows.into_iter()
            .filter(|row| row.get("first_review_at").is_some() && row.get("author").is_some())
            .map(|row| row["first_review_at"].clone())
            .collect()
    };
    let before = first_reviews(db.projection_rows().await);
    // ci-helper reviewed each at +30, grace at +40 (or +5 while a draft).
    assert_eq!(before[0], "2026-05-04T11:10:00+00:00");

    let output = tokio::process::Command::new(prpulse_e2e::stack::binary_path("prpulse"))
        .args(["rebuild"])
        .env("PRPULSE_DATABASE_URL", &db.url)
        .env("PRPULSE_BOT_LOGINS", "ci-helper")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("rebuilt 8 pull requests"), "{stdout}");
    assert!(stdout.contains("1 people reclassified"), "{stdout}");

    let bots = BotPolicy::from_list("ci-helper");
    let after = db.projection_rows().await;
    assert_eq!(after, fresh_replay(&deliveries, &bots).await);
    let after = first_reviews(after);
    assert_eq!(
        after[0], "2026-05-04T11:20:00+00:00",
        "grace's, not ci-helper's"
    );
    // #3 (second row) was reviewed by grace while a draft: unchanged.
    assert_eq!(after[1], before[1]);
    assert_ne!(after, before);
}
