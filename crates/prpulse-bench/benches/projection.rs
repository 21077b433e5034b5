//! What the worker spends on one delivery outside the database: parsing a
//! GitHub-sized payload into its projection, and computing a pull
//! request's metrics from its facts. `cargo bench -p prpulse-bench`.
//!
//! It lives here rather than in prpulse-worker because the payloads come
//! from the end-to-end harness's builders, which depend on the worker.

use std::hint::black_box;

use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prpulse_domain::{EventName, PullRequestFacts, ReviewFact, ReviewState, compute_metrics};
use prpulse_testkit::{Person, PullRequestBuilder, Repo};
use prpulse_worker::projection::Projection;

fn parse_and_compute(c: &mut Criterion) {
    let repo = Repo::new(1_000, "acme/service-0");
    let author = Person::user(10_000, "dev-0");
    let reviewer = Person::user(10_001, "dev-1");
    let created = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let pr = PullRequestBuilder::new(&repo, 7, &author, created).github_sized();
    let deliveries = [
        ("pull_request.opened", pr.opened()),
        (
            "pull_request_review.submitted",
            pr.review(70, &reviewer, "approved", created + Duration::minutes(90)),
        ),
    ];
    let mut group = c.benchmark_group("parse_delivery");
    for (name, delivery) in &deliveries {
        let event = EventName::parse(&delivery.event).unwrap();
        group.throughput(Throughput::Bytes(delivery.body.len() as u64));
        group.bench_function(*name, |b| {
            b.iter(|| Projection::parse(black_box(&event), black_box(&delivery.body)).unwrap());
        });
    }
    group.finish();

    let facts = PullRequestFacts {
        author_id: Some(author.id),
        created_at: created,
        opened_as_draft: Some(true),
        draft: false,
        first_ready_for_review_at: Some(created + Duration::minutes(30)),
        merged_at: Some(created + Duration::minutes(120)),
    };
    let reviews: Vec<ReviewFact> = (0..4)
        .map(|i| ReviewFact {
            review_id: 500 + i,
            reviewer_id: Some(reviewer.id + i),
            reviewer_is_bot: i == 3,
            submitted_at: Some(created + Duration::minutes(40 + 10 * i)),
            state: if i % 2 == 0 {
                ReviewState::ChangesRequested
            } else {
                ReviewState::Approved
            },
        })
        .collect();
    c.bench_function("compute_metrics/4_reviews", |b| {
        b.iter(|| compute_metrics(black_box(&facts), black_box(&reviews)));
    });
}

criterion_group!(benches, parse_and_compute);
criterion_main!(benches);
