//! Backfill: pull requests and their reviews from the REST API, published
//! as synthetic deliveries into the same exchange as webhooks, so the same
//! worker code projects them. Delivery ids are deterministic (the object's
//! id and version), so a second backfill of unchanged history is a no-op.

use chrono::{DateTime, Utc};
use prpulse_domain::{DeliveryId, EventName, PullRequestAction, RepoFullName, ReviewAction};
use prpulse_github_api::{GitHubClient, GitHubError, deployments, pulls};
use prpulse_queue::{Envelope, PublishError, Publisher, Source};
use serde_json::{Value, json};

mod deployments_shape;
mod drafts;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub pull_requests: usize,
    pub reviews: usize,
    /// Synthetic `opened` / `ready_for_review` deliveries from timelines.
    pub draft_events: usize,
    /// `deployment` and `deployment_status` deliveries.
    pub deployments: usize,
    pub deployment_statuses: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error("publishing a backfilled delivery: {0}")]
    Publish(#[from] PublishError),
    #[error("GitHub returned a {0} without the fields backfill needs")]
    Shape(&'static str),
}

/// Backfills `repo`'s pull requests updated since `since`. `progress` is
/// told the total once it is known, then each pull request done.
pub async fn backfill(
    github: &GitHubClient,
    publisher: &Publisher,
    repo: &RepoFullName,
    since: DateTime<Utc>,
    mut progress: impl FnMut(Progress),
) -> Result<Report, BackfillError> {
    let repository = pulls::repository(github, repo).await?;
    let numbers = pulls::updated_since(github, repo, since).await?;
    progress(Progress::Total(numbers.len()));
    let mut report = Report::default();
    for number in numbers {
        let pull_request = pulls::get(github, repo, number).await?;
        let pr_id = pull_request["id"]
            .as_i64()
            .ok_or(BackfillError::Shape("pull request"))?;
        let version = pull_request["updated_at"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let body = json!({
            "action": PullRequestAction::Backfill.as_str(),
            "number": number,
            "pull_request": pull_request,
            "repository": repository,
        });
        publish(
            publisher,
            EventName::PULL_REQUEST,
            &format!("backfill:pr:{pr_id}:{}", stamp(&version)),
            PullRequestAction::Backfill.as_str(),
            &body,
        )
        .await?;
        report.pull_requests += 1;
        // The draft history: the same `opened` and `ready_for_review`
        // deliveries webhooks bring, so ready_at comes out the same.
        let timeline = pulls::timeline(github, repo, number).await?;
        for draft in drafts::deliveries(&body["pull_request"], &timeline) {
            let body = json!({
                "action": draft.action.as_str(),
                "number": number,
                "pull_request": draft.pull_request,
                "repository": repository,
            });
            publish(
                publisher,
                EventName::PULL_REQUEST,
                &draft.id,
                draft.action.as_str(),
                &body,
            )
            .await?;
            report.draft_events += 1;
        }
        for review in pulls::reviews(github, repo, number).await? {
            // A pending review has not been submitted: not a review yet.
            if review["submitted_at"].is_null() || review["state"] == "PENDING" {
                continue;
            }
            let review_id = review["id"]
                .as_i64()
                .ok_or(BackfillError::Shape("review"))?;
            let state = review["state"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let body = json!({
                "action": ReviewAction::Submitted.as_str(),
                "review": review,
                "pull_request": body["pull_request"],
                "repository": repository,
            });
            publish(
                publisher,
                EventName::PULL_REQUEST_REVIEW,
                &format!("backfill:review:{review_id}:{state}"),
                ReviewAction::Submitted.as_str(),
                &body,
            )
            .await?;
            report.reviews += 1;
        }
        progress(Progress::Done(report.pull_requests));
    }
    for deployment in deployments::created_since(github, repo, since).await? {
        let id = deployment["id"]
            .as_i64()
            .ok_or(BackfillError::Shape("deployment"))?;
        let statuses = deployments::statuses(github, repo, id).await?;
        let synthetic = deployments_shape::deliveries(&deployment, &statuses, &repository)
            .ok_or(BackfillError::Shape("deployment status"))?;
        for delivery in synthetic {
            publish(
                publisher,
                delivery.event,
                &delivery.id,
                "created",
                &delivery.body,
            )
            .await?;
            if delivery.event == EventName::DEPLOYMENT {
                report.deployments += 1;
            } else {
                report.deployment_statuses += 1;
            }
        }
    }
    Ok(report)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    Total(usize),
    Done(usize),
}

/// A timestamp as delivery-id characters (`:` is allowed, `+` is not).
fn stamp(rfc3339: &str) -> String {
    rfc3339
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.'))
        .collect()
}

async fn publish(
    publisher: &Publisher,
    event: &str,
    id: &str,
    action: &str,
    body: &Value,
) -> Result<(), BackfillError> {
    let envelope = Envelope {
        delivery_id: DeliveryId::parse(id).map_err(|_| BackfillError::Shape("delivery id"))?,
        event: EventName::parse(event).map_err(|_| BackfillError::Shape("event"))?,
        action: Some(action.to_owned()),
        hook_id: None,
        received_at: Utc::now(),
        source: Source::Backfill,
    };
    let bytes = serde_json::to_vec(body).map_err(|_| BackfillError::Shape("payload"))?;
    Ok(publisher.publish_delivery(&envelope, &bytes).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ids_are_deterministic_and_valid() {
        let id = format!("backfill:pr:279147437:{}", stamp("2019-05-15T15:20:33Z"));
        assert_eq!(id, "backfill:pr:279147437:2019-05-15T15:20:33Z");
        assert!(DeliveryId::parse(&id).is_ok());
        assert!(DeliveryId::parse(&format!("x:{}", stamp("2019-05-15T15:20:33+02:00"))).is_ok());
    }
}
