//! The Jira side of the projection: an issue delivery becomes its
//! `jira_issues` row and its `jira_issue_transitions` (status and assignee
//! changes found in `changelog.items`, whatever the event was named), and a
//! pull request's title, head branch and body become the issue keys it
//! mentions. Writes go through `prpulse_store::jira`; the integration is
//! read back from the delivery id (`prpulse_jira::delivery`).

use prpulse_domain::DeliveryId;
use prpulse_github::payload::PullRequestEvent;
use prpulse_jira::{IssueEvent, JiraEventKind, issue_keys_in};
use prpulse_store::{
    GenericClient, StoreError,
    jira::{IssueRow, MentionRow, TransitionRow, apply_issue},
};
use tracing::debug;

pub async fn apply(
    client: &impl GenericClient,
    event: &IssueEvent,
    delivery_id: &DeliveryId,
) -> Result<(), StoreError> {
    let (Some(integration), Some(kind)) = (prpulse_jira::integration_of(delivery_id), event.kind)
    else {
        debug!(%delivery_id, "a Jira delivery prpulse does not project; kept raw");
        return Ok(());
    };
    let issue = &event.issue;
    let row = IssueRow {
        integration: integration.as_str(),
        issue_id: issue.id,
        key: &issue.key,
        project_key: &issue.project_key,
        issue_type: issue.issue_type.as_deref(),
        summary: issue.summary.as_deref(),
        status_id: issue.status_id.as_deref(),
        status: issue.status.as_deref(),
        status_category: issue.status_category.as_deref(),
        assignee: issue.assignee.as_deref(),
        assignee_name: issue.assignee_name.as_deref(),
        created_at: issue.created_at,
        resolved_at: issue.resolved_at,
        deleted_at: (kind == JiraEventKind::Deleted).then_some(event.at),
        version_at: event.at,
        version_delivery: delivery_id.as_str(),
        created_status_category: (kind == JiraEventKind::Created)
            .then_some(issue.status_category.as_deref())
            .flatten(),
    };
    let transitions: Vec<TransitionRow> = match event.changelog_id {
        None => Vec::new(),
        Some(changelog_id) => event
            .changes
            .iter()
            .map(|change| TransitionRow {
                changelog_id,
                field: change.field.as_str(),
                at: event.at,
                from_value: change.from.as_deref(),
                from_name: change.from_name.as_deref(),
                to_value: change.to.as_deref(),
                to_name: change.to_name.as_deref(),
                to_category: change.to_category.as_deref(),
            })
            .collect(),
    };
    if !apply_issue(client, &row, &transitions).await? {
        debug!(%delivery_id, %integration, "no such Jira integration (removed?); nothing projected");
    }
    Ok(())
}

/// Which issue keys the pull request's title, head branch and body name,
/// as of this payload.
pub fn mention_row<'a>(
    event: &PullRequestEvent,
    number: i32,
    delivery_id: &'a DeliveryId,
) -> MentionRow<'a> {
    let pr = &event.pull_request;
    let keys = issue_keys_in(
        pr.title.as_deref(),
        pr.head.as_ref().map(|head| head.name.as_str()),
        pr.body.as_deref(),
    );
    MentionRow {
        pull_request: (event.repository.id, number),
        version_at: pr.updated_at.unwrap_or(pr.created_at),
        version_delivery: delivery_id.as_str(),
        keys,
    }
}
