//! Property: for random pull-request histories, any permutation of their
//! deliveries, with any duplicates, yields the same rows and metrics as
//! the in-order run, applied one per transaction or in batches. Applied
//! with the worker's own steps on real Postgres. Histories include
//! renamed repositories and people, reviews that show the pull request as
//! it was (closed, a draft), the `ghost` account, and steps in the same
//! second (reviews tied on `submitted_at`, deliveries tied on `updated_at`).
//! `PROPTEST_CASES` (default 24) sets how many histories are tried.

use chrono::{DateTime, TimeZone, Utc};
use proptest::{
    prelude::*,
    test_runner::{Config, TestRunner},
};
use prpulse_e2e::{Delivery, Person, PrShown, PullRequestBuilder, Repo, TestDb, direct};

#[derive(Clone, Debug)]
enum Step {
    ReadyForReview,
    ConvertToDraft,
    Synchronize,
    Review {
        reviewer: usize,
        state: usize,
    },
    DismissLastReview,
    Close,
    Reopen,
    Merge,
    RenameRepository,
    RenamePerson(usize),
    /// A new title for the later deliveries, naming Jira issue `ENG-n`
    /// (none for 0): the newest payload's keys are the ones kept.
    Retitle(usize),
}

const PEOPLE: usize = 5;

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        Just(Step::ReadyForReview),
        Just(Step::ConvertToDraft),
        Just(Step::Synchronize),
        (0..PEOPLE, 0usize..3).prop_map(|(reviewer, state)| Step::Review { reviewer, state }),
        (0..PEOPLE, 0usize..3).prop_map(|(reviewer, state)| Step::Review { reviewer, state }),
        Just(Step::DismissLastReview),
        Just(Step::Close),
        Just(Step::Reopen),
        Just(Step::Merge),
        Just(Step::RenameRepository),
        (0..PEOPLE).prop_map(Step::RenamePerson),
        (0usize..3).prop_map(Step::Retitle),
    ]
}

/// One pull request: opened as a draft or not, by one of the people, then
/// a few steps, each some minutes after the last (a merge ends it).
type History = (bool, usize, Vec<(Step, i64)>);

fn history() -> impl Strategy<Value = History> {
    (
        any::<bool>(),
        0..PEOPLE,
        // Gaps in seconds; one in three is 0, the same second as the step before.
        prop::collection::vec(
            (step(), prop_oneof![Just(0i64), 1i64..7200, 1i64..7200]),
            0..12,
        ),
    )
}

fn people() -> [Person; PEOPLE] {
    [
        Person::user(1, "ada"),
        Person::user(2, "grace"),
        Person::user(3, "linus"),
        Person::bot(4, "dependabot[bot]"),
        Person::user(10137, "ghost"),
    ]
}

fn deliveries(histories: &[History]) -> Vec<Delivery> {
    let start: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let mut all = Vec::new();
    for (index, (draft, author, steps)) in histories.iter().enumerate() {
        // Renames apply to this history's later deliveries only; other
        // histories still show the old names at their own times.
        let mut people = people();
        let mut repo = Repo::new(10, "acme/api");
        let number = index as i64 + 1;
        let mut title = "a change".to_owned();
        let pr = |repo: &Repo, people: &[Person; PEOPLE], title: &str| {
            let builder =
                PullRequestBuilder::new(repo, number, &people[*author], start).title(title);
            if *draft { builder.draft() } else { builder }
        };
        let mut builder = pr(&repo, &people, &title);
        all.push(builder.opened());
        let mut at = start;
        let mut shown = PrShown {
            draft: *draft,
            ..PrShown::OPEN
        };
        let mut reviews: Vec<(i64, usize, DateTime<Utc>)> = Vec::new();
        for (k, (step, gap)) in steps.iter().enumerate() {
            at += chrono::Duration::seconds(*gap);
            all.push(match step {
                Step::ReadyForReview => {
                    shown.draft = false;
                    builder.ready_for_review(at)
                }
                Step::ConvertToDraft => {
                    shown.draft = true;
                    builder.converted_to_draft(at)
                }
                Step::Synchronize => builder.synchronize(at),
                Step::Review { reviewer, state } => {
                    // Ids grow with time but not with the order of the
                    // steps, so ties in one second are broken by id alone.
                    let id = number * 1000 + 97 * (reviews.len() as i64 + 1) % 89;
                    reviews.push((id, *reviewer, at));
                    let state = ["approved", "changes_requested", "commented"][*state];
                    builder.review_of(shown, id, &people[*reviewer], state, at)
                }
                Step::DismissLastReview => match reviews.last() {
                    Some((id, reviewer, submitted)) => {
                        builder.review_dismissed(*id, &people[*reviewer], *submitted)
                    }
                    None => continue,
                },
                Step::Close => {
                    shown.closed_at = Some(at);
                    shown.draft = false;
                    builder.closed(at)
                }
                Step::Reopen => {
                    shown.closed_at = None;
                    builder.reopened(at)
                }
                Step::Merge => {
                    all.push(builder.merged(at, &people[1]));
                    break;
                }
                Step::RenameRepository => {
                    repo = Repo::new(10, &format!("acme/api-{index}-{k}"));
                    builder = pr(&repo, &people, &title);
                    continue;
                }
                Step::Retitle(issue) => {
                    title = match issue {
                        0 => "a change".to_owned(),
                        n => format!("ENG-{n} a change"),
                    };
                    builder = pr(&repo, &people, &title);
                    continue;
                }
                Step::RenamePerson(who) => {
                    let person = &mut people[*who];
                    person.login = format!("{}-{index}-{k}", person.login);
                    builder = pr(&repo, &people, &title);
                    continue;
                }
            });
        }
    }
    all
}

/// The deliveries in another order, some of them twice.
fn scrambled(deliveries: Vec<Delivery>) -> impl Strategy<Value = Vec<Delivery>> {
    let len = deliveries.len();
    prop::collection::vec(0..len.max(1), 0..=len / 2).prop_flat_map(move |repeats| {
        let mut all = deliveries.clone();
        all.extend(repeats.iter().map(|&i| deliveries[i].clone()));
        Just(all).prop_shuffle()
    })
}

async fn rows_after(db: &TestDb, deliveries: &[Delivery]) -> (Vec<serde_json::Value>, i64) {
    db.reset_projection().await;
    let processor = direct::processor(db);
    for delivery in deliveries {
        direct::apply(&processor, delivery).await;
    }
    (db.projection_rows().await, db.deliveries().await)
}

/// The same, in batches of `size` (the worker's batch step).
async fn rows_after_batches(
    db: &TestDb,
    deliveries: &[Delivery],
    size: usize,
) -> (Vec<serde_json::Value>, i64) {
    db.reset_projection().await;
    let processor = direct::processor(db);
    for batch in deliveries.chunks(size) {
        direct::apply_batch(&processor, batch)
            .await
            .unwrap_or_else(|error| panic!("a batch of {}: {error}", batch.len()));
    }
    (db.projection_rows().await, db.deliveries().await)
}

#[test]
fn any_order_with_any_duplicates_gives_the_in_order_rows() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (in_order_db, scrambled_db, batched_db) = runtime.block_on(async {
        (
            TestDb::create().await,
            TestDb::create().await,
            TestDb::create().await,
        )
    });
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24);
    let strategy = prop::collection::vec(history(), 1..4)
        .prop_map(|histories| deliveries(&histories))
        .prop_flat_map(|ordered| (Just(ordered.clone()), scrambled(ordered), 2usize..10));
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategy, |(ordered, scrambled, batch_size)| {
        let (expected, expected_count) = runtime.block_on(rows_after(&in_order_db, &ordered));
        let (actual, actual_count) = runtime.block_on(rows_after(&scrambled_db, &scrambled));
        prop_assert_eq!(&actual, &expected);
        prop_assert_eq!(actual_count, expected_count, "each delivery recorded once");
        let (batched, batched_count) =
            runtime.block_on(rows_after_batches(&batched_db, &scrambled, batch_size));
        prop_assert_eq!(batched, expected, "in batches of {}", batch_size);
        prop_assert_eq!(batched_count, expected_count, "each delivery recorded once");
        Ok(())
    });
    drop(runtime.enter());
    if let Err(error) = result {
        panic!("{error}");
    }
    eprintln!(
        "projection property: {cases} random histories, each in order, scrambled with duplicates, and in batches"
    );
}
