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

mod confirm;
pub use confirm::confirm_entities;

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

/// The incoming facts, one row per repository (a batch keeps the newest of
/// each first: an UPDATE cannot take two rows for one target).
const INCOMING_REPOSITORIES: &str = "incoming AS (
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::timestamptz[])
         AS i(github_id, full_name, observed_at))";

const NEWER_REPOSITORY: &str = "(coalesce(i.observed_at, '-infinity'), i.full_name COLLATE \"C\")
     > (coalesce(r.observed_at, '-infinity'), r.full_name COLLATE \"C\")";

/// Takes the newer facts for existing rows. Only rows that change are
/// locked, and in id order (`locked` is sorted before the UPDATE takes
/// them), so concurrent batches cannot deadlock on repositories. `NO KEY
/// UPDATE` is the lock the UPDATE itself takes: `FOR UPDATE` would also
/// block the foreign-key checks (`KEY SHARE`) of other transactions writing
/// pull requests of the repository, and deadlocked with them. `also` narrows
/// which rows are taken.
fn update_repositories(also: &str) -> String {
    format!(
        "WITH {INCOMING_REPOSITORIES},
         locked AS (
             SELECT r.github_id FROM repositories r JOIN incoming i USING (github_id)
             WHERE {NEWER_REPOSITORY} {also} ORDER BY r.github_id FOR NO KEY UPDATE OF r)
         UPDATE repositories r SET full_name = i.full_name, observed_at = i.observed_at,
                                   updated_at = now()
         FROM incoming i JOIN locked USING (github_id)
         WHERE r.github_id = i.github_id AND {NEWER_REPOSITORY} {also}"
    )
}

/// Every newer fact: for rows another transaction inserted meanwhile.
static UPDATE_REPOSITORIES: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| update_repositories(""));

/// Newer facts that rename: a batch's own transaction takes only these, and
/// leaves the ones that repeat the name to [`confirm_entities`], run before
/// it.
static RENAME_REPOSITORIES: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| update_repositories("AND r.full_name <> i.full_name"));

/// Whether an upsert takes the facts that only repeat a row (the same name,
/// seen later) or leaves them to [`confirm_entities`], which ran before it
/// outside the transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeats {
    /// Take them here, like any newer fact.
    Take,
    /// `confirm_entities` took them already: take only changes.
    Confirmed,
}

/// Inserts the absent rows in id order; returns the ids that another
/// transaction inserted since this statement's snapshot (neither seen nor
/// inserted): those are compared again with [`UPDATE_REPOSITORIES`].
static INSERT_REPOSITORIES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH {INCOMING_REPOSITORIES},
         inserted AS (
             INSERT INTO repositories (github_id, full_name, observed_at)
             SELECT github_id, full_name, observed_at FROM incoming i
             WHERE NOT EXISTS (SELECT 1 FROM repositories r WHERE r.github_id = i.github_id)
             ORDER BY github_id
             ON CONFLICT (github_id) DO NOTHING
             RETURNING github_id)
         SELECT i.github_id FROM incoming i
         WHERE NOT EXISTS (SELECT 1 FROM repositories r WHERE r.github_id = i.github_id)
           AND NOT EXISTS (SELECT 1 FROM inserted n WHERE n.github_id = i.github_id)"
    )
});

pub async fn upsert_repository(
    client: &impl GenericClient,
    row: &RepositoryRow<'_>,
) -> Result<(), StoreError> {
    upsert_repositories(client, std::slice::from_ref(row), Repeats::Take).await
}

/// Upserts repositories, the newest fact winning: one statement for the
/// existing rows that change and one for the absent ones. `rows` must hold
/// each id once.
pub async fn upsert_repositories(
    client: &impl GenericClient,
    rows: &[RepositoryRow<'_>],
    repeats: Repeats,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut rows = rows.to_vec();
    rows.sort_by_key(|row| row.github_id);
    let (ids, names, times) = repository_columns(&rows);
    let update = client
        .prepare_cached(match repeats {
            Repeats::Take => &UPDATE_REPOSITORIES,
            Repeats::Confirmed => &RENAME_REPOSITORIES,
        })
        .await?;
    let insert = client.prepare_cached(&INSERT_REPOSITORIES).await?;
    // One round trip: requests polled together are pipelined and run in
    // the order first polled, the update first.
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&ids, &names, &times];
    let (_, inserted) = futures_util::try_join!(
        client.execute(&update, &params),
        client.query(&insert, &params)
    )?;
    let raced: Vec<i64> = inserted.iter().map(|row| row.get(0)).collect();
    if !raced.is_empty() {
        // Committed by another transaction since our snapshot: compare with
        // its row as the later writer (this statement's snapshot sees it).
        rows.retain(|row| raced.contains(&row.github_id));
        // Every newer fact: nobody confirmed against a row that was not there.
        let (ids, names, times) = repository_columns(&rows);
        let update = client.prepare_cached(&UPDATE_REPOSITORIES).await?;
        client.execute(&update, &[&ids, &names, &times]).await?;
    }
    Ok(())
}

type RepositoryColumns<'a> = (Vec<i64>, Vec<&'a str>, Vec<Option<Timestamp>>);

fn repository_columns<'a>(rows: &[RepositoryRow<'a>]) -> RepositoryColumns<'a> {
    (
        rows.iter().map(|row| row.github_id).collect(),
        rows.iter().map(|row| row.full_name).collect(),
        rows.iter().map(|row| row.observed_at).collect(),
    )
}

type MemberColumns<'a> = (
    Vec<i64>,
    Vec<&'a str>,
    Vec<Option<&'a str>>,
    Vec<bool>,
    Vec<Option<Timestamp>>,
);

fn member_columns<'a>(rows: &[&MemberRow<'a>]) -> MemberColumns<'a> {
    (
        rows.iter().map(|row| row.github_id).collect(),
        rows.iter().map(|row| row.login).collect(),
        rows.iter().map(|row| row.user_type).collect(),
        rows.iter().map(|row| row.is_bot).collect(),
        rows.iter().map(|row| row.observed_at).collect(),
    )
}

const INCOMING_MEMBERS: &str = "incoming AS (
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bool[], $5::timestamptz[])
         AS i(github_id, login, user_type, is_bot, observed_at))";

/// Newer fact, or the same fact classified differently (the bot policy
/// changed): the row takes it.
const MEMBER_TAKES: &str = "((coalesce(i.observed_at, '-infinity'), i.login COLLATE \"C\",
        coalesce(i.user_type, '') COLLATE \"C\")
       > (coalesce(m.observed_at, '-infinity'), m.login COLLATE \"C\",
          coalesce(m.user_type, '') COLLATE \"C\")
     OR (m.observed_at IS NOT DISTINCT FROM i.observed_at AND m.login = i.login
         AND m.user_type IS NOT DISTINCT FROM i.user_type AND m.is_bot <> i.is_bot))";

/// Like [`update_repositories`]; returns each changed row's bot flag before
/// and after.
fn update_members(also: &str) -> String {
    format!(
        "WITH {INCOMING_MEMBERS},
         locked AS (
             SELECT m.github_id, m.is_bot AS was_bot FROM members m JOIN incoming i USING (github_id)
             WHERE {MEMBER_TAKES} {also} ORDER BY m.github_id FOR NO KEY UPDATE OF m)
         UPDATE members m SET login = i.login, user_type = i.user_type, is_bot = i.is_bot,
                              observed_at = i.observed_at, updated_at = now()
         FROM incoming i JOIN locked l USING (github_id)
         WHERE m.github_id = i.github_id AND {MEMBER_TAKES} {also}
         RETURNING m.github_id, l.was_bot, m.is_bot"
    )
}

static UPDATE_MEMBERS: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| update_members(""));

/// Like [`RENAME_REPOSITORIES`]: what a batch's own transaction takes,
/// leaving facts that repeat the row to [`confirm_entities`].
static CHANGE_MEMBERS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    update_members(
        "AND (m.login <> i.login OR m.user_type IS DISTINCT FROM i.user_type
              OR m.is_bot <> i.is_bot)",
    )
});

static INSERT_MEMBERS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH {INCOMING_MEMBERS},
         inserted AS (
             INSERT INTO members (github_id, login, user_type, is_bot, observed_at)
             SELECT github_id, login, user_type, is_bot, observed_at FROM incoming i
             WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.github_id = i.github_id)
             ORDER BY github_id
             ON CONFLICT (github_id) DO NOTHING
             RETURNING github_id)
         SELECT i.github_id FROM incoming i
         WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.github_id = i.github_id)
           AND NOT EXISTS (SELECT 1 FROM inserted n WHERE n.github_id = i.github_id)"
    )
});

/// Upserts members (each id once: the first of `members` in id order), so
/// that two transactions that touch the same people lock them in the same
/// order and cannot deadlock. Returns the ids of existing members whose bot
/// flag changed: the metrics of pull requests they reviewed must be
/// recomputed.
pub async fn upsert_members(
    client: &impl GenericClient,
    members: &mut [MemberRow<'_>],
    repeats: Repeats,
) -> Result<Vec<i64>, StoreError> {
    members.sort_by_key(|member| member.github_id);
    let mut unique: Vec<&MemberRow<'_>> = Vec::with_capacity(members.len());
    for member in members.iter() {
        if unique
            .last()
            .is_none_or(|last| last.github_id != member.github_id)
        {
            unique.push(member);
        }
    }
    if unique.is_empty() {
        return Ok(Vec::new());
    }
    let change = client
        .prepare_cached(match repeats {
            Repeats::Take => &UPDATE_MEMBERS,
            Repeats::Confirmed => &CHANGE_MEMBERS,
        })
        .await?;
    let insert = client.prepare_cached(&INSERT_MEMBERS).await?;
    let (ids, logins, types, bots, times) = member_columns(&unique);
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
        [&ids, &logins, &types, &bots, &times];
    // One round trip, the change first (see `upsert_repositories`).
    let (changed, inserted) = futures_util::try_join!(
        client.query(&change, &params),
        client.query(&insert, &params)
    )?;
    let flipped = changed
        .iter()
        .filter(|row| row.get::<_, bool>(1) != row.get::<_, bool>(2))
        .map(|row| row.get(0))
        .collect();
    let raced: Vec<i64> = inserted.iter().map(|row| row.get(0)).collect();
    if !raced.is_empty() {
        // Inserted by another transaction since our snapshot: nobody
        // reviewed as them before that, so no flag flipped for us.
        unique.retain(|row| raced.contains(&row.github_id));
        let (ids, logins, types, bots, times) = member_columns(&unique);
        let update = client.prepare_cached(&UPDATE_MEMBERS).await?;
        client
            .query(&update, &[&ids, &logins, &types, &bots, &times])
            .await?;
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
