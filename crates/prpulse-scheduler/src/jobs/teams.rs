//! Team sync: every team of each organisation integration and its members,
//! listed from the REST API. Listing is the source of truth; events only
//! keep the tables fresh between runs.

use prpulse_domain::BotPolicy;
use prpulse_github_api::{GitHubClient, GitHubError, orgs};
use prpulse_store::{
    Pool, StoreError, integrations,
    projection::{MemberRow, Repeats, upsert_members},
    teams::{replace_members, upsert_team},
};
use tracing::{error, info};

use crate::round::{JobError, Ran, Round};

#[derive(Debug, thiserror::Error)]
pub enum TeamSyncError {
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Returns how many teams were synced.
pub async fn sync_teams(
    github: &GitHubClient,
    pool: &Pool,
    org: &str,
    bots: &BotPolicy,
) -> Result<usize, TeamSyncError> {
    let teams = orgs::teams(github, org).await?;
    for team in &teams {
        let members = orgs::team_members(github, org, &team.slug).await?;
        let mut client = pool.get().await.map_err(StoreError::from)?;
        let transaction = client.transaction().await.map_err(StoreError::from)?;
        upsert_team(&transaction, team.id, org, Some(&team.slug), &team.name).await?;
        // The listing shows the accounts as they are now: a fact of now,
        // newer than any payload already received.
        let now = Some(chrono::Utc::now());
        let mut rows: Vec<MemberRow<'_>> = members
            .iter()
            .map(|member| {
                MemberRow::classified(member.id, &member.login, member.kind.as_deref(), bots)
                    .seen_at(now)
            })
            .collect();
        upsert_members(&transaction, &mut rows, Repeats::Take).await?;
        let ids: Vec<i64> = members.iter().map(|member| member.id).collect();
        replace_members(&transaction, team.id, &ids).await?;
        transaction.commit().await.map_err(StoreError::from)?;
    }
    Ok(teams.len())
}

/// The `team_sync` job, for every organisation integration.
pub async fn run(round: &mut Round<'_>) -> Result<Ran, JobError> {
    let scheduler = round.scheduler;
    let organizations = {
        let client = scheduler.pool.get().await.map_err(StoreError::from)?;
        integrations::organizations(&client).await?
    };
    let mut failed = 0;
    for org in organizations
        .iter()
        .map(|integration| integration.account.as_str())
    {
        round.go_on().await?;
        let result = async {
            let github = round.github(org).await?;
            anyhow::Ok(sync_teams(github, &scheduler.pool, org, &scheduler.config.bots).await?)
        }
        .await;
        match result {
            Ok(count) => info!(organization = %org, teams = count, "teams synced"),
            Err(error) => {
                failed += 1;
                error!(organization = %org, error = %format!("{error:#}"), "team sync failed");
            }
        }
    }
    if failed > 0 {
        return Err(anyhow::anyhow!("team sync failed for {failed} organisations").into());
    }
    Ok(Ran::Done)
}
