//! Confirmations: the facts about repositories and people that only move
//! `observed_at` forward, written outside the batch's transaction so that
//! they hold no row lock for its length.

use super::{
    INCOMING_MEMBERS, INCOMING_REPOSITORIES, MemberRow, RepositoryRow, member_columns,
    repository_columns,
};
use crate::StoreError;

/// Moves `observed_at` forward where a newer fact repeats what the row
/// holds: the commonest write by far (every delivery of a repository
/// repeats its name), and the one that queued deliveries behind each other
/// when it ran inside their transactions, since the row stayed locked
/// until the batch committed. Run in a short transaction of its own before
/// the batch's, it changes no name, so nothing the batch decides depends
/// on it: a newer fact is a true fact whether or not its delivery ever
/// commits, and the batch's own upsert then finds nothing newer and locks
/// nothing. It waits for a row a batch holds (only a rename or a new bot
/// flag holds one for a whole batch), and then finds the name changed and
/// leaves the row as it is: the batch's upsert compares the fact with the
/// renamed row instead. Both take rows in id order, repositories before
/// people, so they cannot deadlock.
static CONFIRM_REPOSITORIES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH {INCOMING_REPOSITORIES},
         locked AS (
             SELECT r.github_id FROM repositories r JOIN incoming i USING (github_id)
             WHERE r.full_name = i.full_name AND i.observed_at IS NOT NULL
               AND coalesce(r.observed_at, '-infinity') < i.observed_at
             ORDER BY r.github_id FOR NO KEY UPDATE OF r)
         UPDATE repositories r SET observed_at = i.observed_at
         FROM incoming i JOIN locked USING (github_id)
         WHERE r.github_id = i.github_id"
    )
});

/// [`CONFIRM_REPOSITORIES`] for people: the same login, type and bot flag,
/// seen later.
static CONFIRM_MEMBERS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH {INCOMING_MEMBERS},
         locked AS (
             SELECT m.github_id FROM members m JOIN incoming i USING (github_id)
             WHERE m.login = i.login AND m.user_type IS NOT DISTINCT FROM i.user_type
               AND m.is_bot = i.is_bot AND i.observed_at IS NOT NULL
               AND coalesce(m.observed_at, '-infinity') < i.observed_at
             ORDER BY m.github_id FOR NO KEY UPDATE OF m)
         UPDATE members m SET observed_at = i.observed_at
         FROM incoming i JOIN locked USING (github_id)
         WHERE m.github_id = i.github_id"
    )
});

/// Confirms, outside the batch's transaction, the facts of `repositories`
/// and `members` that only move `observed_at` forward (see
/// [`CONFIRM_REPOSITORIES`]). Each slice must hold each id once. `client`
/// must not be inside a transaction: this commits its own, without waiting
/// for the WAL flush, since the batch's commit flushes it anyway and a lost
/// confirmation is taken again by the batch's upsert.
pub async fn confirm_entities(
    client: &mut deadpool_postgres::Client,
    repositories: &[RepositoryRow<'_>],
    members: &[MemberRow<'_>],
) -> Result<(), StoreError> {
    let repositories: Vec<_> = repositories
        .iter()
        .filter(|row| row.observed_at.is_some())
        .cloned()
        .collect();
    let members: Vec<_> = members
        .iter()
        .filter(|row| row.observed_at.is_some())
        .collect();
    if repositories.is_empty() && members.is_empty() {
        return Ok(());
    }
    let transaction = client.transaction().await?;
    // Prepared first, then sent together: tokio-postgres pipelines requests
    // polled together and Postgres runs them in the order first polled (the
    // order below), so this is one round trip instead of three. An empty
    // side matches no row and costs nothing more in the same round trip.
    let confirm_repositories = transaction.prepare_cached(&CONFIRM_REPOSITORIES).await?;
    let confirm_members = transaction.prepare_cached(&CONFIRM_MEMBERS).await?;
    let (repository_ids, names, repository_times) = repository_columns(&repositories);
    let (member_ids, logins, types, bots, member_times) = member_columns(&members);
    let repository_params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
        [&repository_ids, &names, &repository_times];
    let member_params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
        [&member_ids, &logins, &types, &bots, &member_times];
    futures_util::try_join!(
        transaction.batch_execute("SET LOCAL synchronous_commit = off"),
        transaction.execute(&confirm_repositories, &repository_params),
        transaction.execute(&confirm_members, &member_params)
    )?;
    transaction.commit().await?;
    Ok(())
}
