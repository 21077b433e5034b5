//! Repositories and people, the rows many deliveries share. The newest fact
//! wins by the payload's own time, whatever the arrival order: a delivery
//! redelivered days late must not put back a name from before a rename.
//!
//! Neither upsert locks a row it does not change: `INSERT … ON CONFLICT DO
//! UPDATE … WHERE newer` locks the existing row even when the WHERE is
//! false, until commit, so every delivery of a repository queued behind the
//! one before. An UPDATE whose WHERE is false locks nothing.

use deadpool_postgres::GenericClient;
use prpulse_domain::BotPolicy;

use super::Timestamp;
use crate::StoreError;

/// A repository as one payload shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepositoryRow<'a> {
    pub github_id: i64,
    pub full_name: &'a str,
    /// The payload's own time; `None` when it carries none.
    pub observed_at: Option<Timestamp>,
}

impl RepositoryRow<'_> {
    /// Which of two facts about one repository wins: the newer, and in the
    /// same second the greater name (arbitrary, but the same in any order).
    /// Postgres compares the same tuple with `COLLATE "C"`, byte order, as
    /// Rust compares `str`.
    pub fn version(&self) -> (Option<Timestamp>, &str) {
        (self.observed_at, self.full_name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRow<'a> {
    pub github_id: i64,
    pub login: &'a str,
    pub user_type: Option<&'a str>,
    pub is_bot: bool,
    /// The payload's own time; `None` when it carries none (membership
    /// events): such a fact never replaces a dated one.
    pub observed_at: Option<Timestamp>,
}

impl<'a> MemberRow<'a> {
    /// A GitHub account as a payload or the API shows it, a bot or not as
    /// `bots` decides.
    pub fn classified(
        github_id: i64,
        login: &'a str,
        user_type: Option<&'a str>,
        bots: &BotPolicy,
    ) -> Self {
        Self {
            github_id,
            login,
            user_type,
            is_bot: bots.is_bot(login, user_type),
            observed_at: None,
        }
    }

    /// The same account, as seen at `at` (the payload's own time).
    pub fn seen_at(self, at: Option<Timestamp>) -> Self {
        Self {
            observed_at: at,
            ..self
        }
    }

    /// Which of two facts about one person wins: the newer, then (same
    /// second) the greater login and type. The bot flag is not part of it:
    /// it follows from the login and type under the current policy.
    pub fn version(&self) -> (Option<Timestamp>, &str, Option<&str>) {
        (self.observed_at, self.login, self.user_type)
    }
}

/// Keeps the newer of `row` and what `rows` holds for its id: how a batch
/// reduces the facts of its deliveries to one per entity, as applying them
/// one by one would.
pub fn keep_newest<K: Ord, V>(
    rows: &mut std::collections::BTreeMap<K, V>,
    key: K,
    row: V,
    newer: impl Fn(&V, &V) -> bool,
) {
    match rows.entry(key) {
        std::collections::btree_map::Entry::Vacant(entry) => {
            entry.insert(row);
        }
        std::collections::btree_map::Entry::Occupied(mut entry) => {
            if newer(&row, entry.get()) {
                entry.insert(row);
            }
        }
    }
}

const NEWER_REPOSITORY: &str = "(coalesce($3::timestamptz, '-infinity'), $2 COLLATE \"C\")
     > (coalesce(observed_at, '-infinity'), full_name COLLATE \"C\")";

pub async fn upsert_repository(
    client: &impl GenericClient,
    row: &RepositoryRow<'_>,
) -> Result<(), StoreError> {
    let statement = client
        .prepare_cached(&format!(
            "WITH updated AS (
                 UPDATE repositories SET full_name = $2, observed_at = $3, updated_at = now()
                 WHERE github_id = $1 AND {NEWER_REPOSITORY}
                 RETURNING 1),
             inserted AS (
                 INSERT INTO repositories (github_id, full_name, observed_at)
                 SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM repositories WHERE github_id = $1)
                 ON CONFLICT (github_id) DO NOTHING
                 RETURNING 1)
             SELECT EXISTS (SELECT 1 FROM repositories WHERE github_id = $1)
                    OR EXISTS (SELECT 1 FROM updated) OR EXISTS (SELECT 1 FROM inserted)"
        ))
        .await?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
        [&row.github_id, &row.full_name, &row.observed_at];
    let settled: bool = client.query_one(&statement, &params).await?.get(0);
    if !settled {
        // Another transaction inserted it since our snapshot: its row is
        // committed now, so compare with it as the later writer.
        let update = client
            .prepare_cached(&format!(
                "UPDATE repositories SET full_name = $2, observed_at = $3, updated_at = now()
                 WHERE github_id = $1 AND {NEWER_REPOSITORY}"
            ))
            .await?;
        client.execute(&update, &params).await?;
    }
    Ok(())
}

/// Newer fact, or the same fact classified differently (the bot policy
/// changed): the row takes it.
const MEMBER_TAKES: &str = "((coalesce($5::timestamptz, '-infinity'), $2 COLLATE \"C\", coalesce($3, '') COLLATE \"C\")
       > (coalesce(observed_at, '-infinity'), login COLLATE \"C\", coalesce(user_type, '') COLLATE \"C\")
     OR (observed_at IS NOT DISTINCT FROM $5 AND login = $2 AND user_type IS NOT DISTINCT FROM $3
         AND is_bot <> $4))";

/// Upserts members in ascending id order, so that two transactions that
/// touch the same people lock them in the same order and cannot deadlock.
/// Returns the ids of existing members whose bot flag changed: the
/// metrics of pull requests they reviewed must be recomputed.
pub async fn upsert_members(
    client: &impl GenericClient,
    members: &mut [MemberRow<'_>],
) -> Result<Vec<i64>, StoreError> {
    members.sort_by_key(|member| member.github_id);
    let statement = client
        .prepare_cached(&format!(
            "WITH old AS (SELECT is_bot FROM members WHERE github_id = $1),
             updated AS (
                 UPDATE members SET login = $2, user_type = $3, is_bot = $4, observed_at = $5,
                                    updated_at = now()
                 WHERE github_id = $1 AND {MEMBER_TAKES}
                 RETURNING is_bot),
             inserted AS (
                 INSERT INTO members (github_id, login, user_type, is_bot, observed_at)
                 SELECT $1, $2, $3, $4, $5
                 WHERE NOT EXISTS (SELECT 1 FROM members WHERE github_id = $1)
                 ON CONFLICT (github_id) DO NOTHING
                 RETURNING 1)
             SELECT EXISTS (SELECT 1 FROM members WHERE github_id = $1)
                    OR EXISTS (SELECT 1 FROM updated) OR EXISTS (SELECT 1 FROM inserted),
                    (SELECT is_bot FROM old), (SELECT is_bot FROM updated)"
        ))
        .await?;
    let update = client
        .prepare_cached(&format!(
            "UPDATE members SET login = $2, user_type = $3, is_bot = $4, observed_at = $5,
                                updated_at = now()
             WHERE github_id = $1 AND {MEMBER_TAKES}"
        ))
        .await?;
    let mut flipped = Vec::new();
    let mut previous = None;
    for member in members.iter() {
        if previous == Some(member.github_id) {
            continue;
        }
        previous = Some(member.github_id);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] = [
            &member.github_id,
            &member.login,
            &member.user_type,
            &member.is_bot,
            &member.observed_at,
        ];
        let row = client.query_one(&statement, &params).await?;
        let (settled, was_bot, is_bot): (bool, Option<bool>, Option<bool>) =
            (row.get(0), row.get(1), row.get(2));
        if !settled {
            // Inserted by another transaction since our snapshot: nobody
            // reviewed as them before that, so no flag flipped for us.
            client.execute(&update, &params).await?;
        } else if let (Some(was), Some(is)) = (was_bot, is_bot)
            && was != is
        {
            flipped.push(member.github_id);
        }
    }
    Ok(flipped)
}

/// Recomputes every member's bot flag under `bots`, from the login and type
/// it holds; returns the ids whose flag changed. For `prpulse rebuild` after
/// `PRPULSE_BOT_LOGINS` changed.
pub async fn reclassify_members(
    client: &impl GenericClient,
    bots: &BotPolicy,
) -> Result<Vec<i64>, StoreError> {
    let rows = client
        .query(
            "SELECT github_id, login, user_type, is_bot FROM members ORDER BY github_id",
            &[],
        )
        .await?;
    let update = client
        .prepare_cached(
            // Only if the row still holds the fact the flag was computed from.
            "UPDATE members SET is_bot = $4, updated_at = now()
             WHERE github_id = $1 AND login = $2 AND user_type IS NOT DISTINCT FROM $3
               AND is_bot <> $4",
        )
        .await?;
    let mut flipped = Vec::new();
    for row in &rows {
        let (id, login, user_type, was): (i64, &str, Option<&str>, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let is_bot = bots.is_bot(login, user_type);
        if is_bot != was
            && client
                .execute(&update, &[&id, &login, &user_type, &is_bot])
                .await?
                == 1
        {
            flipped.push(id);
        }
    }
    Ok(flipped)
}
