//! GitHub teams and memberships. A deleted team stays deleted (GitHub
//! never reuses its id), whatever order its events arrive in.

use deadpool_postgres::GenericClient;

use crate::StoreError;

pub async fn upsert_team(
    client: &impl GenericClient,
    id: i64,
    organization: &str,
    slug: Option<&str>,
    name: &str,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO github_teams (github_id, organization, slug, name) VALUES ($1, lower($2), $3, $4)
             ON CONFLICT (github_id) DO UPDATE SET
                 organization = EXCLUDED.organization, slug = coalesce(EXCLUDED.slug, github_teams.slug),
                 name = EXCLUDED.name, updated_at = now()",
            &[&id, &organization, &slug, &name],
        )
        .await?;
    Ok(())
}

pub async fn mark_team_deleted(client: &impl GenericClient, id: i64) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE github_teams SET deleted = true, updated_at = now() WHERE github_id = $1",
            &[&id],
        )
        .await?;
    client
        .execute("DELETE FROM github_team_members WHERE team_id = $1", &[&id])
        .await?;
    Ok(())
}

pub async fn add_member(
    client: &impl GenericClient,
    team_id: i64,
    member_id: i64,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO github_team_members (team_id, member_id)
             SELECT $1, $2 WHERE NOT EXISTS
                 (SELECT 1 FROM github_teams WHERE github_id = $1 AND deleted)
             ON CONFLICT DO NOTHING",
            &[&team_id, &member_id],
        )
        .await?;
    Ok(())
}

pub async fn remove_member(
    client: &impl GenericClient,
    team_id: i64,
    member_id: i64,
) -> Result<(), StoreError> {
    client
        .execute(
            "DELETE FROM github_team_members WHERE team_id = $1 AND member_id = $2",
            &[&team_id, &member_id],
        )
        .await?;
    Ok(())
}

/// Makes the team's members exactly `member_ids` (members must exist).
pub async fn replace_members(
    client: &impl GenericClient,
    team_id: i64,
    member_ids: &[i64],
) -> Result<(), StoreError> {
    client
        .execute(
            "DELETE FROM github_team_members WHERE team_id = $1 AND NOT (member_id = ANY($2))",
            &[&team_id, &member_ids],
        )
        .await?;
    for member_id in member_ids {
        add_member(client, team_id, *member_id).await?;
    }
    Ok(())
}

/// Members of the team, by login, for tests and reports.
pub async fn member_logins(
    client: &impl GenericClient,
    team_id: i64,
) -> Result<Vec<String>, StoreError> {
    Ok(client
        .query(
            "SELECT m.login FROM github_team_members t JOIN members m ON m.github_id = t.member_id
             WHERE t.team_id = $1 ORDER BY lower(m.login)",
            &[&team_id],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect())
}
