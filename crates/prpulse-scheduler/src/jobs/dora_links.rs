//! The `dora_links` job: for each tracked repository, asks GitHub which
//! commits each new production deploy added (the compare API, from the
//! deploy before it in its environment) and when each merged pull request's
//! first commit was made. The link itself is a view over those facts
//! (`dora_pull_request_deploys`), so a deploy that arrives before its pull
//! requests links them as soon as their merge is known, with no second
//! call; a deploy whose predecessor changed (one arrived late) is compared
//! again. Recording replaces, so a rerun changes nothing. Every call goes
//! through the GitHub client, paced by its rate limit.

use prpulse_github_api::{GitHubClient, GitHubError, deployments};
use prpulse_store::{
    Pool, StoreError,
    dora::links::{self, PendingComparison},
    tracking::{self, TrackState},
};
use tracing::{error, warn};

use crate::round::{JobError, Ran, Round};

/// Comparisons and first-commit look-ups per repository and round: the
/// rest waits for the next round rather than spend the rate limit at once.
pub const PER_ROUND: i64 = 100;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Linked {
    pub comparisons: usize,
    pub first_commits: usize,
}

/// One pass over `repository`'s pending comparisons and first commits.
pub async fn link_repository(
    pool: &Pool,
    github: &GitHubClient,
    repository: &str,
    limit: i64,
) -> Result<Linked, LinkError> {
    let (comparisons, first_commits) = {
        let client = pool.get().await.map_err(StoreError::from)?;
        (
            links::pending_comparisons(&client, repository, limit).await?,
            links::pending_first_commits(&client, repository, limit).await?,
        )
    };
    let mut linked = Linked::default();
    for comparison in &comparisons {
        let commits = added_commits(github, comparison).await?;
        let mut client = pool.get().await.map_err(StoreError::from)?;
        let transaction = client.transaction().await.map_err(StoreError::from)?;
        links::record_comparison(&transaction, comparison, &commits).await?;
        transaction.commit().await.map_err(StoreError::from)?;
        linked.comparisons += 1;
    }
    for pending in &first_commits {
        let first = match deployments::first_commit_at(
            github,
            &pending.repository,
            i64::from(pending.number),
        )
        .await
        {
            Ok(first) => first,
            // The pull request is gone (or hidden): nothing to learn.
            Err(GitHubError::NotFound { .. }) => None,
            Err(error) => return Err(error.into()),
        };
        let client = pool.get().await.map_err(StoreError::from)?;
        links::record_first_commit(&client, pending.repository_id, pending.number, first).await?;
        linked.first_commits += 1;
    }
    Ok(linked)
}

async fn added_commits(
    github: &GitHubClient,
    comparison: &PendingComparison,
) -> Result<Vec<String>, GitHubError> {
    let Some(base) = &comparison.base_sha else {
        return Ok(Vec::new());
    };
    match deployments::added_commits(github, &comparison.repository, base, &comparison.head_sha)
        .await
    {
        // A commit GitHub no longer has (a force-push removed it): the
        // deploy's own commit still links; asking again would not help.
        Err(GitHubError::NotFound { .. }) => {
            warn!(deployment = %comparison.deployment_id, base, head = %comparison.head_sha, "GitHub cannot compare these commits; only the deployed commit links");
            Ok(Vec::new())
        }
        other => other,
    }
}

/// Counted only when some tracked repository had work.
pub async fn run(round: &mut Round<'_>) -> Result<Ran, JobError> {
    let scheduler = round.scheduler;
    let repositories = {
        let client = scheduler.pool.get().await.map_err(StoreError::from)?;
        tracking::repositories(&client).await?
    };
    let (mut worked, mut failed) = (false, 0);
    for repo in repositories
        .iter()
        .filter(|repo| repo.state == TrackState::Tracked)
    {
        round.go_on().await?;
        let result = async {
            let github = round.github(&repo.account).await?;
            anyhow::Ok(link_repository(&scheduler.pool, github, &repo.full_name, PER_ROUND).await?)
        }
        .await;
        match result {
            Ok(linked) => worked |= linked != Linked::default(),
            Err(error) => {
                failed += 1;
                error!(repository = %repo.full_name, error = %format!("{error:#}"), "linking deploys failed; it is tried again next round");
            }
        }
    }
    if failed > 0 {
        return Err(anyhow::anyhow!("linking deploys failed for {failed} repositories").into());
    }
    Ok(if worked { Ran::Done } else { Ran::NothingToDo })
}
