//! What `GET /api/v1/dora` and `prpulse report` summarise: the deploys,
//! shipped changes and resolved incidents of a range, each with the
//! groups it counts in. A deploy counts for its repository, and for the
//! authors (and their teams) of the pull requests it shipped; an incident
//! for those of the deploy it followed.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use prpulse_domain::dora::{ChangeFact, DeployFact, RecoveryFact};

use crate::StoreError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DoraGrouping {
    None,
    Repository,
    Team,
    Author,
}

#[derive(Debug, Default)]
pub struct DoraFacts {
    pub deploys: Vec<DeployFact>,
    pub changes: Vec<ChangeFact>,
    pub recoveries: Vec<RecoveryFact>,
}

/// The people behind each deploy: logins of the authors of what it
/// shipped, and their teams (bots only with `$3`).
const SHIPPED_BY: &str = "
    shipped AS (
        SELECT l.deployment_id, l.repository_id, l.number, l.deployed_at,
               author.login, coalesce(author.is_bot, false) AS is_bot,
               ARRAY(SELECT DISTINCT t.slug FROM github_team_members tm
                     JOIN github_teams t ON t.github_id = tm.team_id
                     WHERE tm.member_id = pr.author_id AND NOT t.deleted
                       AND t.slug IS NOT NULL) AS teams
        FROM dora_pull_request_deploys l
        JOIN pull_requests pr ON pr.repository_id = l.repository_id AND pr.number = l.number
        LEFT JOIN members author ON author.github_id = pr.author_id
    ),
    people AS (
        SELECT s.deployment_id,
               array_remove(array_agg(DISTINCT s.login), NULL) AS authors,
               array_remove(array_agg(DISTINCT team.slug), NULL) AS teams
        FROM shipped s
        LEFT JOIN LATERAL unnest(s.teams) AS team (slug) ON true
        WHERE $3 OR NOT s.is_bot
        GROUP BY s.deployment_id
    )";

pub async fn dora_facts(
    client: &impl GenericClient,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    include_bots: bool,
    grouping: DoraGrouping,
) -> Result<DoraFacts, StoreError> {
    let keys = |repository: String, authors: Vec<String>, teams: Vec<String>| match grouping {
        DoraGrouping::None => vec![None],
        DoraGrouping::Repository => vec![Some(repository)],
        DoraGrouping::Author => authors.into_iter().map(Some).collect(),
        DoraGrouping::Team => teams.into_iter().map(Some).collect(),
    };
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&from, &until, &include_bots];
    let deploys = client
        .query(
            &format!(
                "WITH {SHIPPED_BY},
                 failed AS (SELECT DISTINCT deployment_id FROM dora_incidents
                            WHERE deployment_id IS NOT NULL)
                 SELECT d.repository, coalesce(p.authors, '{{}}'), coalesce(p.teams, '{{}}'),
                        d.finished_at, d.status = 'success',
                        EXISTS (SELECT FROM failed f WHERE f.deployment_id = d.deployment_id)
                 FROM deployments d
                 LEFT JOIN people p ON p.deployment_id = d.deployment_id
                 WHERE d.status IN ('success', 'failure')
                   AND d.finished_at >= $1 AND d.finished_at < $2
                 ORDER BY d.finished_at, d.deployment_id"
            ),
            &params,
        )
        .await?
        .into_iter()
        .map(|row| DeployFact {
            keys: keys(row.get(0), row.get(1), row.get(2)),
            finished_at: row.get(3),
            succeeded: row.get(4),
            failed_change: row.get(5),
        })
        .collect();
    let changes = client
        .query(
            "SELECT m.repository, m.author, ARRAY(
                        SELECT DISTINCT t.slug FROM github_team_members tm
                        JOIN github_teams t ON t.github_id = tm.team_id
                        WHERE tm.member_id = m.author_id AND NOT t.deleted
                          AND t.slug IS NOT NULL ORDER BY t.slug),
                    m.deployed_at, m.lead_time_seconds::float8
             FROM pr_metrics m
             WHERE m.deployed_at >= $1 AND m.deployed_at < $2 AND ($3 OR NOT m.author_is_bot)
             ORDER BY m.repository_id, m.number",
            &params,
        )
        .await?
        .into_iter()
        .map(|row| ChangeFact {
            keys: keys(
                row.get(0),
                row.get::<_, Option<String>>(1).into_iter().collect(),
                row.get(2),
            ),
            deployed_at: row.get(3),
            lead_time_seconds: row.get(4),
        })
        .collect();
    let recoveries = client
        .query(
            &format!(
                "WITH {SHIPPED_BY}
                 SELECT i.repository, coalesce(p.authors, '{{}}'), coalesce(p.teams, '{{}}'),
                        i.resolved_at, i.recovery_time_seconds::float8
                 FROM dora_incidents i
                 LEFT JOIN people p ON p.deployment_id = i.deployment_id
                 WHERE i.resolved_at >= $1 AND i.resolved_at < $2
                   AND i.recovery_time_seconds IS NOT NULL
                 ORDER BY i.resolved_at, i.incident_id"
            ),
            &params,
        )
        .await?
        .into_iter()
        .map(|row| RecoveryFact {
            keys: keys(row.get(0), row.get(1), row.get(2)),
            resolved_at: row.get(3),
            recovery_seconds: row.get(4),
        })
        .collect();
    Ok(DoraFacts {
        deploys,
        changes,
        recoveries,
    })
}
