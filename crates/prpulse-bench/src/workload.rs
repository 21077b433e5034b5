//! The deliveries a run sends: pull-request histories over a few
//! repositories and people, built by the project's own payload builders in
//! GitHub's full shape (15-25 KB, like real deliveries).

use chrono::{DateTime, TimeZone, Utc};
use prpulse_domain::{DeliveryId, EventName};
use prpulse_queue::{Envelope, Source};
use prpulse_testkit::stack::WEBHOOK_SECRET;
use prpulse_testkit::{Delivery, Person, PullRequestBuilder, Repo};

/// One delivery, ready to publish or post.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub delivery: Delivery,
    /// The body again, cheap to hand to each request.
    pub body: bytes::Bytes,
    pub action: Option<String>,
    /// `X-Hub-Signature-256` with the stack's webhook secret.
    pub signature: String,
}

impl Prepared {
    fn new(delivery: Delivery) -> Self {
        let action = serde_json::from_slice::<serde_json::Value>(&delivery.body)
            .ok()
            .and_then(|body| body["action"].as_str().map(str::to_owned));
        let signature = prpulse_github::sign(WEBHOOK_SECRET.as_bytes(), &delivery.body);
        Self {
            body: bytes::Bytes::from(delivery.body.clone()),
            delivery,
            action,
            signature,
        }
    }

    /// The envelope ingest would publish, under `delivery_id`.
    pub fn envelope(&self, delivery_id: &str) -> Envelope {
        Envelope {
            delivery_id: DeliveryId::parse(delivery_id).expect("a uuid is a delivery id"),
            event: EventName::parse(&self.delivery.event).expect("the builders' events parse"),
            action: self.action.clone(),
            hook_id: None,
            received_at: Utc::now(),
            source: Source::Webhook,
        }
    }

    pub fn len(&self) -> usize {
        self.delivery.body.len()
    }

    pub fn is_empty(&self) -> bool {
        self.delivery.body.is_empty()
    }
}

/// About `count` deliveries: the histories of `count / 5` pull requests
/// (opened, changes requested, pushed, approved, merged or closed), spread
/// over `repositories` and `people`, in the order the events happened, so
/// that pull requests of one repository interleave as they do on GitHub.
pub fn histories(count: usize, repositories: usize, people: usize) -> Vec<Prepared> {
    let repositories = repositories.max(1);
    let people = people.max(2);
    let repos: Vec<Repo> = (0..repositories)
        .map(|i| Repo::new(1_000 + i as i64, &format!("acme/service-{i}")))
        .collect();
    let persons: Vec<Person> = (0..people)
        .map(|i| Person::user(10_000 + i as i64, &format!("dev-{i}")))
        .collect();
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let minutes = chrono::Duration::minutes;
    let mut timed: Vec<(DateTime<Utc>, Delivery)> = Vec::new();
    let pull_requests = count.div_ceil(5).max(1);
    for i in 0..pull_requests {
        let repo = &repos[i % repositories];
        let number = (i / repositories + 1) as i64;
        let author = &persons[i % people];
        let reviewer = &persons[(i * 7 + 1) % people];
        let reviewer = if reviewer.id == author.id {
            &persons[(i + 1) % people]
        } else {
            reviewer
        };
        let created = start + minutes(i as i64 * 3);
        let pr = PullRequestBuilder::new(repo, number, author, created).github_sized();
        let review_id = (i as i64 + 1) * 10;
        timed.push((created, pr.opened()));
        timed.push((
            created + minutes(45),
            pr.review(
                review_id,
                reviewer,
                "changes_requested",
                created + minutes(45),
            ),
        ));
        timed.push((created + minutes(60), pr.synchronize(created + minutes(60))));
        timed.push((
            created + minutes(90),
            pr.review(review_id + 1, reviewer, "approved", created + minutes(90)),
        ));
        let end = created + minutes(120);
        timed.push((
            end,
            if i % 4 == 0 {
                pr.closed(end)
            } else {
                pr.merged(end, reviewer)
            },
        ));
    }
    timed.sort_by_key(|(at, _)| *at);
    timed
        .into_iter()
        .take(count)
        .map(|(_, delivery)| Prepared::new(delivery))
        .collect()
}

/// Mean and largest body size, in bytes.
pub fn sizes(deliveries: &[Prepared]) -> (usize, usize) {
    let total: usize = deliveries.iter().map(Prepared::len).sum();
    let largest = deliveries.iter().map(Prepared::len).max().unwrap_or(0);
    (total / deliveries.len().max(1), largest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_are_github_sized_and_spread() {
        let deliveries = histories(50, 4, 8);
        assert_eq!(deliveries.len(), 50);
        let (mean, largest) = sizes(&deliveries);
        assert!((8_000..=30_000).contains(&mean), "mean {mean} bytes");
        assert!(largest <= 30_000, "largest {largest} bytes");
        assert!(
            deliveries
                .iter()
                .any(|d| d.delivery.event == "pull_request_review")
        );
    }
}
