//! A paced stream of deliveries posted through one fault after another,
//! and what it saw: posts, 202s, 503s, deliveries lost or applied twice,
//! and how long the pipeline took to carry a delivery again after a fault.
//!
//! `PRPULSE_FAULT_PULL_REQUESTS` scales the streams (about seven
//! deliveries per pull request, duplicates included) for longer runs.

use std::{
    collections::HashSet,
    fmt,
    sync::{
        Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{TimeZone, Utc};
use futures_util::StreamExt;
use rand::{Rng, seq::SliceRandom};

use crate::{Delivery, Person, PullRequestBuilder, Repo, Stack};

/// Pull requests per scenario: `PRPULSE_FAULT_PULL_REQUESTS`, else `default`.
pub fn pull_requests_per_scenario(default: i64) -> i64 {
    std::env::var("PRPULSE_FAULT_PULL_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// The histories of `pull_requests` pull requests in `repo`, shuffled,
/// with a fifth of them posted twice.
pub struct DeliveryStream {
    pub deliveries: Vec<Delivery>,
    pub distinct: Vec<Delivery>,
}

impl DeliveryStream {
    pub fn new(repo: &Repo, pull_requests: i64) -> Self {
        let people = [
            Person::user(1, "ada"),
            Person::user(2, "grace"),
            Person::user(3, "linus"),
            Person::bot(4, "renovate[bot]"),
        ];
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let minutes = chrono::Duration::minutes;
        let mut distinct = Vec::new();
        for number in 1..=pull_requests {
            let author = &people[(number % 4) as usize];
            let reviewer = &people[((number + 1) % 3) as usize];
            let created = start + minutes(number * 7);
            let review_id = repo.id * 1_000_000 + number * 10;
            let pr = PullRequestBuilder::new(repo, number, author, created);
            distinct.push(pr.opened());
            distinct.push(pr.review(
                review_id,
                reviewer,
                "changes_requested",
                created + minutes(45),
            ));
            distinct.push(pr.synchronize(created + minutes(60)));
            distinct.push(pr.review(review_id + 1, reviewer, "approved", created + minutes(90)));
            if number % 3 != 0 {
                distinct.push(pr.merged(created + minutes(120), reviewer));
            }
        }
        let mut rng = rand::rng();
        let mut deliveries = distinct.clone();
        for _ in 0..distinct.len() / 5 {
            deliveries.push(distinct[rng.random_range(0..distinct.len())].clone());
        }
        deliveries.shuffle(&mut rng);
        Self {
            deliveries,
            distinct,
        }
    }
}

/// What one scenario's posts saw.
#[derive(Default)]
pub struct Tally {
    pub sent: AtomicUsize,
    pub accepted: AtomicUsize,
    pub unavailable: AtomicUsize,
    /// The slowest 503, in milliseconds: ingest must answer within its
    /// publish deadline, not hang until GitHub gives up.
    pub slowest_unavailable_ms: AtomicU64,
    accepted_ids: Mutex<HashSet<String>>,
}

impl Tally {
    /// Posts `delivery` once and counts what ingest answered: `true` for
    /// 202, `false` for 503; anything else is a failure of the test.
    pub async fn post_once(&self, stack: &Stack, delivery: &Delivery) -> bool {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let asked = Instant::now();
        match stack.deliver(delivery).await.status().as_u16() {
            202 => {
                self.accepted.fetch_add(1, Ordering::Relaxed);
                self.accepted_ids
                    .lock()
                    .unwrap()
                    .insert(delivery.id.clone());
                true
            }
            503 => {
                self.unavailable.fetch_add(1, Ordering::Relaxed);
                let took = u64::try_from(asked.elapsed().as_millis()).unwrap_or(u64::MAX);
                self.slowest_unavailable_ms
                    .fetch_max(took, Ordering::Relaxed);
                false
            }
            other => panic!("{other} for delivery {}", delivery.id),
        }
    }

    /// Posts `delivery` until ingest answers 202 (a 503 is what GitHub
    /// would see; the delivery is then sent again, as a redelivery would).
    pub async fn post_until_accepted(&self, stack: &Stack, delivery: &Delivery) {
        let deadline = Instant::now() + Duration::from_secs(180);
        while !self.post_once(stack, delivery).await {
            assert!(Instant::now() < deadline, "503 for three minutes");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Posts every delivery, `lanes` at a time, each lane waiting `pace`
    /// between posts so the stream runs through the fault.
    pub async fn post_paced(
        &self,
        stack: &Stack,
        deliveries: &[Delivery],
        lanes: usize,
        pace: Duration,
    ) {
        futures_util::stream::iter(deliveries)
            .for_each_concurrent(lanes, |delivery| async move {
                self.post_until_accepted(stack, delivery).await;
                tokio::time::sleep(pace).await;
            })
            .await;
    }

    /// The delivery ids ingest answered 202 for.
    pub fn accepted_ids(&self) -> HashSet<String> {
        self.accepted_ids.lock().unwrap().clone()
    }
}

/// Fresh deliveries (one new pull request each) that find out when the
/// pipeline carries deliveries again after a fault.
pub struct Probes {
    repo: Repo,
    next_number: i64,
    /// Every probe made, for the clean run to compare with.
    pub made: Vec<Delivery>,
    /// The probes ingest answered 503, still to be redelivered.
    refused: Vec<Delivery>,
}

impl Probes {
    pub fn new(repo: Repo) -> Self {
        Self {
            repo,
            next_number: 1_000_000,
            made: Vec::new(),
            refused: Vec::new(),
        }
    }

    fn next(&mut self) -> Delivery {
        let author = Person::user(1, "ada");
        let created = Utc.with_ymd_and_hms(2026, 3, 9, 9, 0, 0).unwrap();
        let probe =
            PullRequestBuilder::new(&self.repo, self.next_number, &author, created).opened();
        self.next_number += 1;
        self.made.push(probe.clone());
        probe
    }

    /// Posts fresh probes until ingest refuses one with a 503: the fault
    /// (an alarm, a stopped application) has reached the publisher. The
    /// stream may have ended by then, so the probes keep asking. The
    /// refused probe waits for [`Self::redeliver_refused`].
    pub async fn until_refused(&mut self, stack: &Stack, tally: &Tally, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let probe = self.next();
            if !tally.post_once(stack, &probe).await {
                self.refused.push(probe);
                return;
            }
            assert!(
                Instant::now() < deadline,
                "ingest kept accepting for 60 s under a {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Posts each refused probe until it is accepted, as GitHub's
    /// redelivery would, and returns their ids. A 503 promises only that
    /// the delivery must come again: the broker may have taken it anyway
    /// (a publish it confirmed after ingest's deadline), so the clean run
    /// can only be compared once every probe has been accepted.
    pub async fn redeliver_refused(&mut self, stack: &Stack, tally: &Tally) -> HashSet<String> {
        let refused = std::mem::take(&mut self.refused);
        for probe in &refused {
            tally.post_until_accepted(stack, probe).await;
        }
        refused.into_iter().map(|probe| probe.id).collect()
    }

    /// How long after `since` a delivery posted after it was answered 202
    /// and recorded by a worker: the fault's time to recover. The probe is
    /// counted in `tally` like any other delivery.
    pub async fn time_to_recover(
        &mut self,
        stack: &Stack,
        database_url: &str,
        tally: &Tally,
        since: Instant,
    ) -> Duration {
        let probe = self.next();
        tally.post_until_accepted(stack, &probe).await;
        let deadline = Instant::now() + Duration::from_secs(120);
        while !try_recorded_ids(database_url)
            .await
            .is_some_and(|ids| ids.contains(&probe.id))
        {
            assert!(
                Instant::now() < deadline,
                "probe {} accepted but not recorded in 2 minutes",
                probe.id
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        since.elapsed()
    }
}

/// The ids in the deliveries ledger; `None` while the database is away.
pub async fn try_recorded_ids(database_url: &str) -> Option<HashSet<String>> {
    let (client, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
        .await
        .ok()?;
    let connection = tokio::spawn(connection);
    let rows = client
        .query("SELECT delivery_id FROM deliveries", &[])
        .await
        .ok();
    connection.abort();
    Some(rows?.iter().map(|row| row.get(0)).collect())
}

/// Waits until every id of `accepted` is in the ledger, up to `patience`;
/// returns those still missing then: the deliveries lost.
pub async fn missing_after(
    database_url: &str,
    accepted: &HashSet<String>,
    patience: Duration,
) -> HashSet<String> {
    let deadline = Instant::now() + patience;
    loop {
        let recorded = try_recorded_ids(database_url).await.unwrap_or_default();
        let missing: HashSet<String> = accepted.difference(&recorded).cloned().collect();
        if missing.is_empty() || Instant::now() >= deadline {
            return missing;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Counts every committed application of a delivery, independently of
/// the ledger's primary key: a row per insert into `deliveries`.
pub const APPLICATION_AUDIT: &str = "
    CREATE TABLE delivery_applications (delivery_id text NOT NULL);
    CREATE FUNCTION audit_delivery_application() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO delivery_applications VALUES (NEW.delivery_id);
        RETURN NEW;
    END $$;
    CREATE TRIGGER audit_delivery_application AFTER INSERT ON deliveries
        FOR EACH ROW EXECUTE FUNCTION audit_delivery_application();";

/// Deliveries of `ids` applied more than once, by the audit.
pub async fn applied_twice(client: &tokio_postgres::Client, ids: &HashSet<String>) -> usize {
    let ids: Vec<&String> = ids.iter().collect();
    let twice: i64 = client
        .query_one(
            "SELECT count(*) FROM (SELECT delivery_id FROM delivery_applications
              WHERE delivery_id = ANY($1) GROUP BY delivery_id HAVING count(*) > 1) t",
            &[&ids],
        )
        .await
        .unwrap()
        .get(0);
    usize::try_from(twice).unwrap()
}

/// One scenario's figures, as the report gives them.
#[derive(Debug)]
pub struct Figures {
    pub scenario: &'static str,
    pub sent: usize,
    pub accepted: usize,
    pub unavailable: usize,
    pub lost: usize,
    pub applied_twice: usize,
    pub time_to_recover: Duration,
    pub slowest_unavailable: Duration,
}

impl Figures {
    pub fn of(
        scenario: &'static str,
        tally: &Tally,
        lost: usize,
        applied_twice: usize,
        time_to_recover: Duration,
    ) -> Self {
        Self {
            scenario,
            sent: tally.sent.load(Ordering::Relaxed),
            accepted: tally.accepted.load(Ordering::Relaxed),
            unavailable: tally.unavailable.load(Ordering::Relaxed),
            lost,
            applied_twice,
            time_to_recover,
            slowest_unavailable: Duration::from_millis(
                tally.slowest_unavailable_ms.load(Ordering::Relaxed),
            ),
        }
    }
}

impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fault scenario {}: sent {}, answered 202 {}, answered 503 {} (slowest {:.1} s), lost {}, applied twice {}, time to recover {:.1} s",
            self.scenario,
            self.sent,
            self.accepted,
            self.unavailable,
            self.slowest_unavailable.as_secs_f64(),
            self.lost,
            self.applied_twice,
            self.time_to_recover.as_secs_f64()
        )
    }
}
