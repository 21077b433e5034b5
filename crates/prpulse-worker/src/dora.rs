//! The DORA part of the projection: `deployment`, `deployment_status`,
//! `workflow_run` and `issues` deliveries to their facts, and the merge
//! commit of a merged pull request. Each write is order-independent
//! (`prpulse_store::dora`); what the facts mean (production or not, which
//! deploy shipped what) is decided by views at read time.

use prpulse_domain::{DeliveryId, EventName, IssueAction};
use prpulse_github::dora_events::{
    Deployment, DeploymentEvent, DeploymentStatusEvent, IssuesEvent, WorkflowRunEvent,
};
use prpulse_github::payload::{PullRequestEvent, Repository};
use prpulse_store::{
    GenericClient, StoreError,
    dora::{
        DeploymentRow, IssueRow, MergeRow, WorkflowRunRow, insert_deployment_status,
        upsert_deployment, upsert_issue, upsert_workflow_run,
    },
    projection::Timestamp,
};

#[derive(Debug)]
pub enum DoraEvent {
    Deployment(DeploymentEvent),
    DeploymentStatus(DeploymentStatusEvent),
    WorkflowRun(WorkflowRunEvent),
    Issues(IssuesEvent),
}

impl DoraEvent {
    /// `None` if `event` is not one of the DORA events.
    pub fn parse(event: &EventName, body: &[u8]) -> Option<Result<Self, serde_json::Error>> {
        let parsed = match event.as_str() {
            EventName::DEPLOYMENT => serde_json::from_slice(body).map(Self::Deployment),
            EventName::DEPLOYMENT_STATUS => {
                serde_json::from_slice(body).map(Self::DeploymentStatus)
            }
            EventName::WORKFLOW_RUN => serde_json::from_slice(body).map(Self::WorkflowRun),
            EventName::ISSUES => serde_json::from_slice(body).map(Self::Issues),
            _ => return None,
        };
        Some(parsed)
    }

    pub fn repository(&self) -> &Repository {
        match self {
            Self::Deployment(event) => &event.repository,
            Self::DeploymentStatus(event) => &event.repository,
            Self::WorkflowRun(event) => &event.repository,
            Self::Issues(event) => &event.repository,
        }
    }

    /// The payload's own time, for the repository's newest name.
    pub fn observed_at(&self) -> Timestamp {
        match self {
            Self::Deployment(event) => deployment_version(&event.deployment),
            Self::DeploymentStatus(event) => event
                .deployment_status
                .created_at
                .max(deployment_version(&event.deployment)),
            Self::WorkflowRun(event) => event.workflow_run.updated_at,
            Self::Issues(event) => event.issue.updated_at,
        }
    }

    /// Issue numbers and run attempts that do not fit the columns.
    pub fn out_of_range(&self) -> Option<(&'static str, i64)> {
        let too_big = |value: i64| i32::try_from(value).is_err();
        match self {
            Self::Issues(event) if too_big(event.issue.number) => {
                Some(("issue.number", event.issue.number))
            }
            Self::WorkflowRun(event) => event
                .workflow_run
                .run_attempt
                .filter(|attempt| too_big(*attempt))
                .map(|attempt| ("workflow_run.run_attempt", attempt)),
            _ => None,
        }
    }

    /// Writes the facts; the repository row must exist already.
    pub async fn apply(
        &self,
        client: &impl GenericClient,
        delivery_id: &DeliveryId,
    ) -> Result<(), StoreError> {
        let delivery = delivery_id.as_str();
        match self {
            Self::Deployment(event) => {
                record_deployment(client, event.repository.id, &event.deployment, delivery).await
            }
            Self::DeploymentStatus(event) => {
                record_deployment(client, event.repository.id, &event.deployment, delivery).await?;
                let status = &event.deployment_status;
                insert_deployment_status(
                    client,
                    status.id,
                    event.deployment.id,
                    &status.state,
                    status.created_at,
                )
                .await
            }
            Self::WorkflowRun(event) => {
                let run = &event.workflow_run;
                let completed = run.status.as_deref() == Some("completed");
                upsert_workflow_run(
                    client,
                    &WorkflowRunRow {
                        github_id: run.id,
                        repository_id: event.repository.id,
                        workflow_path: event.workflow_path(),
                        head_branch: run.head_branch.as_deref(),
                        head_sha: &run.head_sha,
                        status: run.status.as_deref(),
                        conclusion: run.conclusion.as_deref(),
                        started_at: run.run_started_at,
                        created_at: run.created_at,
                        updated_at: run.updated_at,
                        attempt: run
                            .run_attempt
                            .and_then(|attempt| i32::try_from(attempt).ok())
                            .unwrap_or(1),
                        rank: i16::from(completed),
                        delivery,
                    },
                )
                .await
            }
            // A pull request's labels and state come with `pull_request`
            // events; as an issue it is no incident.
            Self::Issues(event) if event.issue.pull_request.is_some() => Ok(()),
            Self::Issues(event) => {
                let issue = &event.issue;
                let action = event.issue_action();
                // `edited`, `assigned` and the like touch nothing an
                // incident is read by.
                let changes = matches!(
                    action,
                    IssueAction::Labeled
                        | IssueAction::Unlabeled
                        | IssueAction::Closed
                        | IssueAction::Reopened
                        | IssueAction::Deleted
                );
                upsert_issue(
                    client,
                    &IssueRow {
                        github_id: issue.id,
                        repository_id: event.repository.id,
                        number: i32::try_from(issue.number).unwrap_or(i32::MAX),
                        title: issue.title.as_deref(),
                        labels: event.labels_after(),
                        created_at: issue.created_at,
                        resolved_at: event.resolved_at(),
                        deleted: action == IssueAction::Deleted,
                        version_at: issue.updated_at,
                        version_rank: i16::from(changes),
                        version_delivery: delivery,
                    },
                )
                .await
            }
        }
    }
}

fn deployment_version(deployment: &Deployment) -> Timestamp {
    deployment.updated_at.unwrap_or(deployment.created_at)
}

async fn record_deployment(
    client: &impl GenericClient,
    repository_id: i64,
    deployment: &Deployment,
    delivery: &str,
) -> Result<(), StoreError> {
    upsert_deployment(
        client,
        &DeploymentRow {
            github_id: deployment.id,
            repository_id,
            sha: &deployment.sha,
            git_ref: deployment.git_ref.as_deref(),
            environment: &deployment.environment,
            production_environment: deployment.production_environment,
            created_at: deployment.created_at,
            version_at: deployment_version(deployment),
            version_delivery: delivery,
        },
    )
    .await
}

/// The merge commit of a merged pull request (any payload that shows it
/// merged; before the merge `merge_commit_sha` is a test merge), if this
/// payload shows one.
pub fn merge_row(event: &PullRequestEvent, number: i32) -> Option<MergeRow<'_>> {
    let pr = &event.pull_request;
    let (Some(_), Some(sha)) = (pr.merged_at, pr.merge_commit_sha.as_deref()) else {
        return None;
    };
    let into_default_branch = match (&pr.base, &event.repository.default_branch) {
        (Some(base), Some(default)) => base.name == *default,
        _ => false,
    };
    Some(MergeRow {
        pull_request: (event.repository.id, number),
        merge_commit_sha: sha,
        into_default_branch,
    })
}
