//! The rows the independent ceiling writes, taken from the payloads with
//! `serde_json` before the clock starts (parsing is the worker's cost, not
//! the database's), without prpulse's payload types.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::workload::Prepared;

pub struct DeliveryRow {
    pub delivery_id: String,
    pub event: String,
    pub action: Option<String>,
    pub received_at: DateTime<Utc>,
    pub payload: Vec<u8>,
    pub pull_request: Option<PullRequestRow>,
}

pub struct PullRequestRow {
    pub repository_id: i64,
    pub number: i32,
    pub github_id: i64,
    pub author_id: Option<i64>,
    pub version_rank: i16,
    pub version_at: DateTime<Utc>,
    pub version_delivery: String,
    pub title: Option<String>,
    pub state: String,
    pub draft: bool,
    pub closed_at: Option<DateTime<Utc>>,
    pub additions: Option<i32>,
    pub deletions: Option<i32>,
    pub changed_files: Option<i32>,
    pub head_ref: Option<String>,
    pub base_ref: Option<String>,
    pub created_at: DateTime<Utc>,
    pub merged_at: Option<DateTime<Utc>>,
}

impl PullRequestRow {
    /// The lock order of pull-request rows: one for every transaction, so
    /// concurrent ones never wait on each other in a cycle.
    pub fn key(&self) -> (i64, i32) {
        (self.repository_id, self.number)
    }
}

pub fn rows(deliveries: &[Prepared]) -> Vec<DeliveryRow> {
    let received_at = Utc::now();
    deliveries
        .iter()
        .map(|prepared| {
            let delivery = &prepared.delivery;
            let payload: Value = serde_json::from_slice(&delivery.body).unwrap_or(Value::Null);
            DeliveryRow {
                delivery_id: delivery.id.clone(),
                event: delivery.event.clone(),
                action: prepared.action.clone(),
                received_at,
                payload: delivery.body.clone(),
                pull_request: pull_request(&delivery.event, &delivery.id, &payload),
            }
        })
        .collect()
}

fn pull_request(event: &str, delivery_id: &str, payload: &Value) -> Option<PullRequestRow> {
    let pr = &payload["pull_request"];
    let int = |value: &Value| value.as_i64().and_then(|n| i32::try_from(n).ok());
    let text = |value: &Value| value.as_str().map(str::to_owned);
    let created_at = time(&pr["created_at"])?;
    Some(PullRequestRow {
        repository_id: payload["repository"]["id"].as_i64()?,
        number: int(&pr["number"])?,
        github_id: pr["id"].as_i64()?,
        author_id: pr["user"]["id"].as_i64(),
        // Full pull_request payloads outrank the copies inside reviews.
        version_rank: i16::from(event == "pull_request"),
        version_at: time(&pr["updated_at"]).unwrap_or(created_at),
        version_delivery: delivery_id.to_owned(),
        title: text(&pr["title"]),
        state: text(&pr["state"]).unwrap_or_else(|| "open".into()),
        draft: pr["draft"].as_bool().unwrap_or(false),
        closed_at: time(&pr["closed_at"]),
        additions: int(&pr["additions"]),
        deletions: int(&pr["deletions"]),
        changed_files: int(&pr["changed_files"]),
        head_ref: text(&pr["head"]["ref"]),
        base_ref: text(&pr["base"]["ref"]),
        created_at,
        merged_at: time(&pr["merged_at"]),
    })
}

fn time(value: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.as_str()?)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_delivery_has_its_pull_request_row() {
        let deliveries = crate::workload::histories(20, 2, 4);
        let rows = rows(&deliveries);
        assert_eq!(rows.len(), 20);
        assert!(rows.iter().all(|row| row.pull_request.is_some()));
        let review = rows
            .iter()
            .find(|row| row.event == "pull_request_review")
            .and_then(|row| row.pull_request.as_ref())
            .expect("the workload has reviews");
        assert_eq!(review.version_rank, 0);
        assert!(rows.iter().any(|row| {
            row.pull_request
                .as_ref()
                .is_some_and(|pr| pr.merged_at.is_some() && pr.version_rank == 1)
        }));
    }
}
