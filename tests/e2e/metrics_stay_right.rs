//! Issue 13: rows that do not depend on arrival order (renames, review
//! payloads' scalars, same-second ties) and the definitions a lead expects
//! (pickup after a draft review, ghosts). Applied with the worker's own
//! steps on real Postgres, one delivery at a time and in one batch.

use chrono::{DateTime, Duration, TimeZone, Utc};
use prpulse_e2e::{Delivery, Person, PrShown, PullRequestBuilder, Repo, TestDb, direct};

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 6, 9, 0, 0).unwrap() + Duration::minutes(minutes)
}

/// The projection after `deliveries` one by one, in the order given.
async fn one_by_one(db: &TestDb, deliveries: &[&Delivery]) -> Vec<serde_json::Value> {
    db.reset_projection().await;
    let processor = direct::processor(db);
    for delivery in deliveries {
        direct::apply(&processor, delivery).await;
    }
    db.projection_rows().await
}

/// The same in one batch.
async fn batched(db: &TestDb, deliveries: &[&Delivery]) -> Vec<serde_json::Value> {
    db.reset_projection().await;
    let processor = direct::processor(db);
    let owned: Vec<Delivery> = deliveries.iter().map(|d| (*d).clone()).collect();
    direct::apply_batch(&processor, &owned).await.unwrap();
    db.projection_rows().await
}

/// Applies `deliveries` in order, reversed, and as one batch, asserts all
/// three give the same rows, and returns the pr_metrics row of acme's #1.
async fn same_in_any_order(db: &TestDb, deliveries: &[&Delivery]) -> serde_json::Value {
    let forward = one_by_one(db, deliveries).await;
    let mut reversed_order = deliveries.to_vec();
    reversed_order.reverse();
    let reversed = one_by_one(db, &reversed_order).await;
    assert_eq!(forward, reversed, "in order and reversed");
    let batch = batched(db, &reversed_order).await;
    assert_eq!(forward, batch, "in order and as one batch");
    db.pr_metrics().await.into_iter().next().unwrap()
}

async fn member(db: &TestDb, id: i64) -> (String, Option<String>, bool) {
    let row = db
        .client()
        .await
        .query_one(
            "SELECT login, user_type, is_bot FROM members WHERE github_id = $1",
            &[&id],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test]
async fn a_late_delivery_from_before_a_rename_does_not_bring_the_old_names_back() {
    let db = TestDb::create().await;
    let old = PullRequestBuilder::new(
        &Repo::new(10, "acme/api"),
        1,
        &Person::user(1, "ada"),
        at(0),
    );
    let renamed = PullRequestBuilder::new(
        &Repo::new(10, "acme/platform"),
        1,
        &Person::user(1, "ada-lovelace"),
        at(0),
    );
    let opened = old.opened();
    let before_rename = old.synchronize(at(10));
    let after_rename = renamed.synchronize(at(20));
    // The redelivery of the one that failed before the rename comes last.
    let row = same_in_any_order(&db, &[&opened, &after_rename, &before_rename]).await;
    assert_eq!(row["repository"], "acme/platform");
    assert_eq!(row["author"], "ada-lovelace");
    assert_eq!(member(&db, 1).await.0, "ada-lovelace");
}

#[tokio::test]
async fn an_account_that_became_a_bot_stays_one_and_its_reviews_stop_counting() {
    let db = TestDb::create().await;
    let repo = Repo::new(10, "acme/api");
    let ada = Person::user(1, "ada");
    let first = PullRequestBuilder::new(&repo, 1, &ada, at(0));
    let second = PullRequestBuilder::new(&repo, 2, &ada, at(0));
    let human = Person::user(7, "renovate");
    let bot = Person::bot(7, "renovate[bot]");
    let opened = first.opened();
    let reviewed_as_human = first.review(70, &human, "approved", at(10));
    let later_as_bot = second.review(71, &bot, "commented", at(30));
    let opened_second = second.opened();
    let deliveries = [&opened, &opened_second, &later_as_bot, &reviewed_as_human];
    let row = same_in_any_order(&db, &deliveries).await;
    assert_eq!(
        member(&db, 7).await,
        ("renovate[bot]".to_owned(), Some("Bot".to_owned()), true)
    );
    // The newest fact says bot: its earlier review of #1 is a bot's review,
    // whichever delivery came first.
    assert_eq!(row["number"], 1);
    assert_eq!(row["first_review_at"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_review_payload_carries_newer_title_and_state_when_edited_and_closed_were_lost() {
    let db = TestDb::create().await;
    let repo = Repo::new(10, "acme/api");
    let ada = Person::user(1, "ada");
    let grace = Person::user(2, "grace");
    let pr = PullRequestBuilder::new(&repo, 1, &ada, at(0));
    let opened = pr.opened();
    // `edited` (a new title) and `closed` at 20 never arrived.
    let shown = PrShown {
        closed_at: Some(at(20)),
        ..PrShown::OPEN
    };
    let review = pr
        .clone()
        .title("Retitled")
        .review_of(shown, 5, &grace, "commented", at(30));
    let row = same_in_any_order(&db, &[&opened, &review]).await;
    assert_eq!(row["title"], "Retitled");
    assert_eq!(row["state"], "closed");
    assert_eq!(row["closed_at"], "2026-04-06T09:20:00+00:00");
    // Sizes come only from full payloads, whatever their age.
    assert_eq!(row["additions"], 10);
}

#[tokio::test]
async fn in_the_same_second_a_close_beats_a_review_that_shows_it_open() {
    let db = TestDb::create().await;
    let repo = Repo::new(10, "acme/api");
    let pr = PullRequestBuilder::new(&repo, 1, &Person::user(1, "ada"), at(0));
    let opened = pr.opened();
    // Reviewed, then closed, both at 09:30:00 (updated_at has one-second
    // precision): the review's copy still says open.
    let review = pr.review(5, &Person::user(2, "grace"), "approved", at(30));
    let closed = pr.closed(at(30));
    let row = same_in_any_order(&db, &[&opened, &closed, &review]).await;
    assert_eq!(row["state"], "closed");
    assert_eq!(row["closed_at"], "2026-04-06T09:30:00+00:00");
}

#[tokio::test]
async fn in_the_same_second_a_reopen_beats_the_close_it_follows() {
    let db = TestDb::create().await;
    let repo = Repo::new(10, "acme/api");
    let pr = PullRequestBuilder::new(&repo, 1, &Person::user(1, "ada"), at(0));
    let opened = pr.opened();
    let closed = pr.closed(at(30));
    let reopened = pr.reopened(at(30));
    let row = same_in_any_order(&db, &[&opened, &reopened, &closed]).await;
    assert_eq!(row["state"], "open");
    assert_eq!(row["closed_at"], serde_json::Value::Null);
}

#[tokio::test]
async fn review_rounds_with_reviews_in_the_same_second_follow_the_review_ids() {
    let db = TestDb::create().await;
    let repo = Repo::new(10, "acme/api");
    let pr = PullRequestBuilder::new(&repo, 1, &Person::user(1, "ada"), at(0));
    let opened = pr.opened();
    // Changes requested (id 41) then approved (id 42) in the same second:
    // one re-review, so two rounds, in any order of arrival.
    let request = pr.review(41, &Person::user(2, "grace"), "changes_requested", at(10));
    let approval = pr.review(42, &Person::user(3, "linus"), "approved", at(10));
    let row = same_in_any_order(&db, &[&opened, &approval, &request]).await;
    assert_eq!(row["review_rounds"], 2);
    // The other way round (approved first by id): the request is unanswered.
    let request_last = pr.review(43, &Person::user(2, "grace"), "changes_requested", at(10));
    let row = same_in_any_order(&db, &[&opened, &request_last, &approval]).await;
    assert_eq!(row["review_rounds"], 1);
}

#[tokio::test]
async fn a_review_while_a_draft_does_not_make_pickup_null() {
    let db = TestDb::create().await;
    let repo = Repo::new(10, "acme/api");
    let pr = PullRequestBuilder::new(&repo, 1, &Person::user(1, "ada"), at(0)).draft();
    let opened = pr.opened();
    let draft_review = pr.review_of(
        PrShown {
            draft: true,
            ..PrShown::OPEN
        },
        5,
        &Person::user(2, "grace"),
        "commented",
        at(10),
    );
    let ready = pr.ready_for_review(at(60));
    let review = pr.review(6, &Person::user(3, "linus"), "approved", at(75));
    let row = same_in_any_order(&db, &[&opened, &draft_review, &ready, &review]).await;
    assert_eq!(row["ready_at"], "2026-04-06T10:00:00+00:00");
    assert_eq!(row["first_review_at"], "2026-04-06T09:10:00+00:00");
    assert_eq!(row["review_time_seconds"], 10 * 60);
    assert_eq!(row["pickup_time_seconds"], 15 * 60);
    assert_eq!(row["time_to_first_approval_seconds"], 15 * 60);
}

#[tokio::test]
async fn a_ghost_reviewing_a_ghosts_pull_request_is_a_review() {
    let db = TestDb::create().await;
    let ghost = Person::user(10137, "ghost");
    let pr = PullRequestBuilder::new(&Repo::new(10, "acme/api"), 1, &ghost, at(0));
    let opened = pr.opened();
    let review = pr.review(5, &ghost, "approved", at(12));
    let row = same_in_any_order(&db, &[&opened, &review]).await;
    assert_eq!(row["author"], "ghost");
    assert_eq!(row["first_review_at"], "2026-04-06T09:12:00+00:00");
    assert_eq!(row["review_time_seconds"], 12 * 60);
    // Anyone else's own review is still none.
    let ada = Person::user(1, "ada");
    let own = PullRequestBuilder::new(&Repo::new(10, "acme/api"), 1, &ada, at(0));
    let (opened, review) = (own.opened(), own.review(6, &ada, "approved", at(12)));
    let row = same_in_any_order(&db, &[&opened, &review]).await;
    assert_eq!(row["first_review_at"], serde_json::Value::Null);
}
