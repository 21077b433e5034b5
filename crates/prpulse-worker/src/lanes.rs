//! Which transaction slot (lane) a delivery goes to. Deliveries about one
//! pull request always go to the same lane, so that two transactions of one
//! worker never wait for each other on its row: they did, and a batch that
//! waited held the rows of its other pull requests meanwhile, so waits
//! chained into convoys (the drain of 4,000 deliveries over 8 slots spent
//! more than half of Postgres's time waiting on pull-request rows). In one
//! lane, the deliveries of a pull request queue up and go into one batch,
//! where the set-based statements apply them in rounds.
//!
//! The key is read from the payload itself, so it holds whoever published
//! the message (ingest, a backfill, a replay) and for messages queued
//! before lanes existed. A delivery whose key cannot be read still goes
//! somewhere (by its delivery id): lanes are about waiting, never about
//! correctness, which the row locks keep.

use std::hash::{DefaultHasher, Hash, Hasher};

use prpulse_domain::PayloadEncoding;
use prpulse_queue::{envelope::payload_encoding, lapin::message::Delivery};
use serde::Deserialize;

/// What a delivery is about, as far as lanes care: the most specific row
/// its transaction locks for long.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LaneKey {
    /// A pull request, or a review of one: (repository id, number).
    PullRequest(i64, i64),
    /// Anything else about one repository (deployments, workflow runs).
    Repository(i64),
    /// A Jira issue, by its id.
    JiraIssue(String),
    /// Nothing readable: the delivery id spreads these evenly.
    Delivery(String),
}

impl LaneKey {
    /// The key of a delivery as the broker handed it over: its body in the
    /// encoding its `payload-encoding` header names.
    pub fn of_delivery(delivery: &Delivery, max_body: usize) -> Self {
        let encoding = payload_encoding(&delivery.properties).unwrap_or(PayloadEncoding::Identity);
        let delivery_id = delivery
            .properties
            .message_id()
            .as_ref()
            .map(|id| id.as_str())
            .unwrap_or_default();
        Self::of(encoding, &delivery.data, max_body, delivery_id)
    }

    /// The key of a message body in `encoding` (decoded up to `max_body`
    /// bytes), or of its delivery id when the body says nothing usable.
    pub fn of(encoding: PayloadEncoding, body: &[u8], max_body: usize, delivery_id: &str) -> Self {
        encoding
            .decode(body, max_body)
            .ok()
            .and_then(|json| Self::of_json(&json))
            .unwrap_or_else(|| Self::Delivery(delivery_id.to_owned()))
    }

    fn of_json(json: &[u8]) -> Option<Self> {
        let fields: KeyFields = serde_json::from_slice(json).ok()?;
        let repository = fields.repository.map(|repository| repository.id);
        let number = fields.pull_request.map(|pull_request| pull_request.number);
        match (repository, number, fields.issue) {
            (Some(repository), Some(number), _) => Some(Self::PullRequest(repository, number)),
            (Some(repository), None, _) => Some(Self::Repository(repository)),
            (None, _, Some(JiraIssue { id: Some(id) })) => Some(Self::JiraIssue(match id {
                serde_json::Value::String(id) => id,
                other => other.to_string(),
            })),
            _ => None,
        }
    }

    /// The lane of `lanes` (at least one) this key goes to.
    pub fn lane(&self, lanes: usize) -> usize {
        let mut hasher = DefaultHasher::new();
        self.hash(&mut hasher);
        let lanes = u64::try_from(lanes.max(1)).unwrap_or(u64::MAX);
        usize::try_from(hasher.finish() % lanes).expect("a lane index fits in usize")
    }
}

/// The few fields the key needs; serde skips the rest of the document.
#[derive(Deserialize)]
struct KeyFields {
    repository: Option<Identified>,
    pull_request: Option<Numbered>,
    /// Jira's issue; GitHub's `issue` events carry a repository, which wins.
    issue: Option<JiraIssue>,
}

#[derive(Deserialize)]
struct Identified {
    id: i64,
}

#[derive(Deserialize)]
struct Numbered {
    number: i64,
}

/// Jira sends the id as a string, GitHub's `issue.id` is a number: either
/// is only hashed.
#[derive(Deserialize)]
struct JiraIssue {
    id: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(json: &str) -> LaneKey {
        LaneKey::of(PayloadEncoding::Identity, json.as_bytes(), 1 << 20, "d-1")
    }

    #[test]
    fn a_pull_request_and_its_reviews_share_a_key() {
        let opened = key(
            r#"{"action":"opened","number":7,"pull_request":{"number":7,"title":"x"},
                "repository":{"id":42,"full_name":"acme/api"}}"#,
        );
        let review = key(
            r#"{"action":"submitted","review":{"id":1},"pull_request":{"number":7},
                "repository":{"id":42}}"#,
        );
        assert_eq!(opened, LaneKey::PullRequest(42, 7));
        assert_eq!(opened, review);
        assert_eq!(opened.lane(8), review.lane(8));
    }

    #[test]
    fn other_events_fall_back_to_their_repository_their_issue_or_their_id() {
        assert_eq!(
            key(r#"{"deployment":{"id":3},"repository":{"id":42}}"#),
            LaneKey::Repository(42)
        );
        assert_eq!(
            key(r#"{"webhookEvent":"jira:issue_updated","issue":{"id":"10002","key":"ENG-1"}}"#),
            LaneKey::JiraIssue("10002".into())
        );
        assert_eq!(key("not json"), LaneKey::Delivery("d-1".into()));
        assert_eq!(
            key(r#"{"repository":{"id":"not a number"}}"#),
            LaneKey::Delivery("d-1".into())
        );
    }

    #[test]
    fn a_compressed_body_gives_the_key_of_its_json() {
        let json = br#"{"pull_request":{"number":9},"repository":{"id":5}}"#;
        let compressed = PayloadEncoding::Lz4.encode(json);
        assert_eq!(
            LaneKey::of(PayloadEncoding::Lz4, &compressed, 1 << 20, "d-1"),
            LaneKey::PullRequest(5, 9)
        );
    }

    #[test]
    fn keys_spread_over_every_lane_and_stay_in_range() {
        let lanes: std::collections::BTreeSet<usize> = (0..64)
            .map(|number| LaneKey::PullRequest(1, number).lane(8))
            .collect();
        assert_eq!(lanes, (0..8).collect());
        assert_eq!(LaneKey::Repository(1).lane(0), 0);
    }
}
