//! A backfilled pull request's draft history, from its issue timeline, as
//! the webhook deliveries GitHub would have sent: `opened` (as a draft or
//! not) and each `ready_for_review`. The worker then sets `ready_at` as it
//! does for webhooks; the pulls endpoints alone only say whether it is a
//! draft now.

use chrono::{DateTime, Utc};
use prpulse_domain::PullRequestAction;
use serde_json::Value;

/// A synthetic `pull_request` delivery: its id, action and pull request.
#[derive(Debug, PartialEq)]
pub struct DraftDelivery {
    pub id: String,
    pub action: PullRequestAction,
    pub pull_request: Value,
}

/// The deliveries that give `pull_request` (as the REST API returns it)
/// the draft history its `timeline` shows; none if it never was a draft.
pub fn deliveries(pull_request: &Value, timeline: &[Value]) -> Vec<DraftDelivery> {
    let events: Vec<(&str, DateTime<Utc>, i64)> = timeline
        .iter()
        .filter_map(|event| {
            let kind = event["event"].as_str()?;
            if !matches!(kind, "ready_for_review" | "convert_to_draft") {
                return None;
            }
            let at = event["created_at"]
                .as_str()
                .and_then(|at| DateTime::parse_from_rfc3339(at).ok())?
                .with_timezone(&Utc);
            Some((kind, at, event["id"].as_i64().unwrap_or_default()))
        })
        .collect();
    let draft_now = pull_request["draft"].as_bool().unwrap_or(false);
    if events.is_empty() && !draft_now {
        return Vec::new();
    }
    let (Some(pr_id), Some(created_at)) = (
        pull_request["id"].as_i64(),
        pull_request["created_at"].as_str(),
    ) else {
        return Vec::new();
    };
    // Opened as a draft if the first draft event made it ready (or there
    // is none and it is a draft still).
    let opened_as_draft = events
        .iter()
        .min_by_key(|(_, at, id)| (*at, *id))
        .map_or(draft_now, |(kind, ..)| *kind == "ready_for_review");
    let mut all = vec![DraftDelivery {
        id: format!("backfill:opened:{pr_id}"),
        action: PullRequestAction::Opened,
        pull_request: as_of(pull_request, created_at, opened_as_draft),
    }];
    for (kind, at, event_id) in events {
        if kind == "ready_for_review" {
            all.push(DraftDelivery {
                id: format!("backfill:ready:{pr_id}:{event_id}"),
                action: PullRequestAction::ReadyForReview,
                pull_request: as_of(
                    pull_request,
                    &at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    false,
                ),
            });
        }
    }
    all
}

/// The pull request as it was at `updated_at`: open, a draft or not. Its
/// other fields are today's, but with this older time they lose to the
/// backfilled pull request itself wherever they differ.
fn as_of(pull_request: &Value, updated_at: &str, draft: bool) -> Value {
    let mut then = pull_request.clone();
    if let Some(object) = then.as_object_mut() {
        for (key, value) in [
            ("state", Value::from("open")),
            ("draft", Value::from(draft)),
            ("updated_at", Value::from(updated_at)),
            ("closed_at", Value::Null),
            ("merged_at", Value::Null),
            ("merged", Value::from(false)),
            ("merged_by", Value::Null),
        ] {
            object.insert(key.to_owned(), value);
        }
    }
    then
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pr(draft: bool) -> Value {
        json!({"id": 77, "number": 7, "state": "closed", "draft": draft,
               "created_at": "2026-03-02T09:00:00Z", "updated_at": "2026-03-05T09:00:00Z",
               "closed_at": "2026-03-05T09:00:00Z", "merged_at": "2026-03-05T09:00:00Z"})
    }

    fn event(id: i64, kind: &str, at: &str) -> Value {
        json!({"id": id, "event": kind, "created_at": at, "actor": {"login": "ada", "id": 1}})
    }

    #[test]
    fn opened_as_a_draft_then_made_ready() {
        let timeline = [
            json!({"event": "committed", "sha": "ec26c3e"}),
            event(5, "ready_for_review", "2026-03-03T10:00:00Z"),
            event(6, "convert_to_draft", "2026-03-03T11:00:00Z"),
            event(7, "ready_for_review", "2026-03-04T10:00:00Z"),
        ];
        let all = deliveries(&pr(false), &timeline);
        let ids: Vec<&str> = all.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "backfill:opened:77",
                "backfill:ready:77:5",
                "backfill:ready:77:7"
            ]
        );
        assert_eq!(all[0].pull_request["draft"], true);
        assert_eq!(all[0].pull_request["state"], "open");
        assert_eq!(all[0].pull_request["merged_at"], Value::Null);
        assert_eq!(all[0].pull_request["updated_at"], "2026-03-02T09:00:00Z");
        assert_eq!(all[1].pull_request["updated_at"], "2026-03-03T10:00:00Z");
        assert_eq!(all[1].pull_request["draft"], false);
    }

    #[test]
    fn converted_to_draft_later_was_opened_ready() {
        let timeline = [
            event(6, "convert_to_draft", "2026-03-03T11:00:00Z"),
            event(7, "ready_for_review", "2026-03-04T10:00:00Z"),
        ];
        let all = deliveries(&pr(false), &timeline);
        assert_eq!(all[0].pull_request["draft"], false);
        assert_eq!(all.len(), 2);
    }

    #[test]
    fn never_a_draft_needs_nothing_and_a_draft_still_is_opened_as_one() {
        assert!(deliveries(&pr(false), &[json!({"event": "labeled"})]).is_empty());
        let all = deliveries(&pr(true), &[]);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].pull_request["draft"], true);
    }
}
