//! Pull requests and reviews, written set-based: each statement takes the
//! rows of a whole batch as arrays (`unnest`). A batch may carry several
//! deliveries of one pull request; an UPDATE cannot take two source rows
//! for one target, so rows are written in rounds: round *k* holds the
//! *k*-th row of each pull request, in the order given, which is what
//! applying them one by one would do. Most batches need one round.

use deadpool_postgres::GenericClient;
use prpulse_domain::ReviewState;
use tokio_postgres::types::ToSql;

use super::{PullRequestKey, PullRequestRow, ReviewRow};
use crate::StoreError;

/// The rows of one statement, as columns, in the order of
/// [`INCOMING_PULL_REQUESTS`].
const INCOMING_PULL_REQUESTS: &str = "SELECT * FROM unnest(
         $1::bigint[], $2::bigint[], $3::int[], $4::bigint[], $5::smallint[], $6::timestamptz[],
         $7::text[], $8::smallint[], $9::text[], $10::text[], $11::bool[], $12::timestamptz[],
         $13::int[], $14::int[], $15::int[], $16::text[], $17::text[], $18::timestamptz[],
         $19::timestamptz[], $20::bool[], $21::timestamptz[])
     AS i(github_id, repository_id, number, author_id, version_rank, version_at,
          version_delivery, carried_rank, title, state, draft, closed_at,
          additions, deletions, changed_files, head_ref, base_ref, created_at,
          merged_at, opened_as_draft, ready_for_review_at)";

/// Inserts the absent pull requests in key order; returns the keys it
/// inserted (those rows are ours and hold every fact already).
static INSERT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "INSERT INTO pull_requests (
             github_id, repository_id, number, author_id,
             version_rank, version_at, version_delivery,
             carried_rank, carried_at, carried_delivery,
             title, state, draft, closed_at, additions, deletions, changed_files,
             head_ref, base_ref, created_at, merged_at,
             opened_as_draft, first_ready_for_review_at)
         SELECT github_id, repository_id, number, author_id,
                version_rank, version_at, version_delivery,
                carried_rank, version_at, version_delivery,
                title, state, coalesce(draft, false), closed_at, additions, deletions,
                changed_files, head_ref, base_ref, created_at, merged_at,
                opened_as_draft, ready_for_review_at
         FROM ({INCOMING_PULL_REQUESTS}) i
         ORDER BY repository_id, number
         ON CONFLICT (repository_id, number) DO NOTHING
         RETURNING repository_id, number"
    )
});

/// Each group of scalars is replaced only by a newer version of that
/// group; accumulated facts apply whatever the version.
static UPDATE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| {
        let carried = "(i.version_at, i.carried_rank, i.version_delivery)
                   > (pr.carried_at, pr.carried_rank, pr.carried_delivery)";
        let full = "(i.version_rank, i.version_at, i.version_delivery)
                > (pr.version_rank, pr.version_at, pr.version_delivery)";
        let newer = |group: &str, column: &str, value: &str| {
            format!("{column} = CASE WHEN {group} THEN {value} ELSE pr.{column} END")
        };
        let sets = [
        newer(carried, "carried_rank", "i.carried_rank"),
        newer(carried, "carried_at", "i.version_at"),
        newer(carried, "carried_delivery", "i.version_delivery"),
        // A deleted author shows as null in some payloads: keep who it was.
        newer(carried, "author_id", "coalesce(i.author_id, pr.author_id)"),
        newer(carried, "title", "coalesce(i.title, pr.title)"),
        newer(carried, "state", "i.state"),
        newer(carried, "draft", "coalesce(i.draft, pr.draft)"),
        newer(carried, "closed_at", "i.closed_at"),
        newer(carried, "head_ref", "coalesce(i.head_ref, pr.head_ref)"),
        newer(carried, "base_ref", "coalesce(i.base_ref, pr.base_ref)"),
        newer(full, "version_rank", "i.version_rank"),
        newer(full, "version_at", "i.version_at"),
        newer(full, "version_delivery", "i.version_delivery"),
        newer(full, "additions", "coalesce(i.additions, pr.additions)"),
        newer(full, "deletions", "coalesce(i.deletions, pr.deletions)"),
        newer(full, "changed_files", "coalesce(i.changed_files, pr.changed_files)"),
        "github_id = least(pr.github_id, i.github_id)".to_owned(),
        "created_at = least(pr.created_at, i.created_at)".to_owned(),
        "merged_at = least(pr.merged_at, i.merged_at)".to_owned(),
        "opened_as_draft = coalesce(pr.opened_as_draft, i.opened_as_draft)".to_owned(),
        "first_ready_for_review_at = least(pr.first_ready_for_review_at, i.ready_for_review_at)"
            .to_owned(),
    ];
        format!(
            "UPDATE pull_requests AS pr SET {} FROM ({INCOMING_PULL_REQUESTS}) i
         WHERE pr.repository_id = i.repository_id AND pr.number = i.number",
            sets.join(", ")
        )
    });

/// Locks the existing rows of a batch's keys in (repository, number) order,
/// the global order of pull-request locks.
const LOCK_PULL_REQUESTS: &str = "SELECT 1 FROM pull_requests
     WHERE (repository_id, number) IN (SELECT * FROM unnest($1::bigint[], $2::int[]))
     ORDER BY repository_id, number FOR NO KEY UPDATE";

/// Locks the existing rows of `keys` in (repository, number) order, the
/// global order of pull-request locks.
pub async fn lock_pull_requests(
    client: &impl GenericClient,
    keys: &[PullRequestKey],
) -> Result<(), StoreError> {
    if keys.is_empty() {
        return Ok(());
    }
    let statement = client.prepare_cached(LOCK_PULL_REQUESTS).await?;
    let (repositories, numbers): (Vec<i64>, Vec<i32>) = keys.iter().copied().unzip();
    client
        .execute(&statement, &[&repositories, &numbers])
        .await?;
    Ok(())
}

/// Upserts pull requests and leaves their rows locked until the
/// transaction ends, so concurrent deliveries of one pull request apply one
/// after the other and each metrics refresh sees all committed facts. The
/// rows of `rows` and `also_lock` are locked first, in key order (pass the
/// pull requests whose metrics the transaction recomputes without writing
/// them); then each round inserts the absent rows and updates the others.
pub async fn upsert_pull_requests(
    client: &impl GenericClient,
    rows: &[PullRequestRow<'_>],
    also_lock: &[PullRequestKey],
) -> Result<(), StoreError> {
    let mut keys: Vec<PullRequestKey> = rows.iter().map(PullRequestRow::key).collect();
    keys.extend_from_slice(also_lock);
    keys.sort_unstable();
    keys.dedup();
    if rows.is_empty() {
        return lock_pull_requests(client, &keys).await;
    }
    let lock = client.prepare_cached(LOCK_PULL_REQUESTS).await?;
    let insert = client.prepare_cached(&INSERT).await?;
    let update = client.prepare_cached(&UPDATE).await?;
    let (repositories, numbers): (Vec<i64>, Vec<i32>) = keys.iter().copied().unzip();
    for (index, round) in rounds(rows, PullRequestRow::key).into_iter().enumerate() {
        let columns = PullRequestColumns::of(&round);
        let params = columns.params();
        let inserted = if index == 0 {
            // The lock and the first insert in one round trip: requests
            // polled together are pipelined and run in the order first
            // polled, so every lock is still taken before any write.
            let lock_params: [&(dyn ToSql + Sync); 2] = [&repositories, &numbers];
            futures_util::try_join!(
                client.execute(&lock, &lock_params),
                client.query(&insert, &params)
            )?
            .1
        } else {
            client.query(&insert, &params).await?
        };
        if inserted.len() == round.len() {
            continue;
        }
        let inserted: Vec<PullRequestKey> = inserted
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        let rest: Vec<&PullRequestRow<'_>> = round
            .into_iter()
            .filter(|row| !inserted.contains(&row.key()))
            .collect();
        let columns = PullRequestColumns::of(&rest);
        client.execute(&update, &columns.params()).await?;
    }
    Ok(())
}

/// Splits `rows` into rounds in which each key occurs once: the *k*-th
/// row of each key (in the order given) goes into round *k*.
fn rounds<T, K: PartialEq>(rows: &[T], key: impl Fn(&T) -> K) -> Vec<Vec<&T>> {
    let mut rounds: Vec<Vec<&T>> = Vec::new();
    let mut seen: Vec<(K, usize)> = Vec::new();
    for row in rows {
        let row_key = key(row);
        let round = match seen.iter_mut().find(|(seen_key, _)| *seen_key == row_key) {
            Some((_, count)) => {
                *count += 1;
                *count - 1
            }
            None => {
                seen.push((row_key, 1));
                0
            }
        };
        if round == rounds.len() {
            rounds.push(Vec::new());
        }
        rounds[round].push(row);
    }
    rounds
}

struct PullRequestColumns<'a> {
    github_id: Vec<i64>,
    repository_id: Vec<i64>,
    number: Vec<i32>,
    author_id: Vec<Option<i64>>,
    version_rank: Vec<i16>,
    version_at: Vec<super::Timestamp>,
    version_delivery: Vec<&'a str>,
    carried_rank: Vec<i16>,
    title: Vec<Option<&'a str>>,
    state: Vec<&'a str>,
    draft: Vec<Option<bool>>,
    closed_at: Vec<Option<super::Timestamp>>,
    additions: Vec<Option<i32>>,
    deletions: Vec<Option<i32>>,
    changed_files: Vec<Option<i32>>,
    head_ref: Vec<Option<&'a str>>,
    base_ref: Vec<Option<&'a str>>,
    created_at: Vec<super::Timestamp>,
    merged_at: Vec<Option<super::Timestamp>>,
    opened_as_draft: Vec<Option<bool>>,
    ready_for_review_at: Vec<Option<super::Timestamp>>,
}

impl<'a> PullRequestColumns<'a> {
    fn of(rows: &[&PullRequestRow<'a>]) -> Self {
        macro_rules! column {
            ($field:ident) => {
                rows.iter().map(|row| row.$field).collect()
            };
        }
        Self {
            github_id: column!(github_id),
            repository_id: column!(repository_id),
            number: column!(number),
            author_id: column!(author_id),
            version_rank: column!(version_rank),
            version_at: column!(version_at),
            version_delivery: column!(version_delivery),
            carried_rank: column!(carried_rank),
            title: column!(title),
            state: column!(state),
            draft: column!(draft),
            closed_at: column!(closed_at),
            additions: column!(additions),
            deletions: column!(deletions),
            changed_files: column!(changed_files),
            head_ref: column!(head_ref),
            base_ref: column!(base_ref),
            created_at: column!(created_at),
            merged_at: column!(merged_at),
            opened_as_draft: column!(opened_as_draft),
            ready_for_review_at: column!(ready_for_review_at),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 21] {
        [
            &self.github_id,
            &self.repository_id,
            &self.number,
            &self.author_id,
            &self.version_rank,
            &self.version_at,
            &self.version_delivery,
            &self.carried_rank,
            &self.title,
            &self.state,
            &self.draft,
            &self.closed_at,
            &self.additions,
            &self.deletions,
            &self.changed_files,
            &self.head_ref,
            &self.base_ref,
            &self.created_at,
            &self.merged_at,
            &self.opened_as_draft,
            &self.ready_for_review_at,
        ]
    }
}

/// Upserts reviews, in rounds like the pull requests (a batch may carry a
/// review's submission and its dismissal). Their pull requests' rows must
/// be locked already (by [`upsert_pull_requests`]), which orders the
/// writers of one review.
pub async fn upsert_reviews(
    client: &impl GenericClient,
    rows: &[ReviewRow],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let statement = client
        .prepare_cached(
            "INSERT INTO reviews AS r
                 (github_id, repository_id, pull_request_number, reviewer_id,
                  submitted_state, dismissed, submitted_at)
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::bigint[],
                                  $5::text[], $6::bool[], $7::timestamptz[])
             ORDER BY 1
             ON CONFLICT (github_id) DO UPDATE SET
                 reviewer_id = coalesce(r.reviewer_id, EXCLUDED.reviewer_id),
                 submitted_state = coalesce(r.submitted_state, EXCLUDED.submitted_state),
                 dismissed = r.dismissed OR EXCLUDED.dismissed,
                 submitted_at = least(r.submitted_at, EXCLUDED.submitted_at)",
        )
        .await?;
    for round in rounds(rows, |row| row.github_id) {
        let ids: Vec<i64> = round.iter().map(|row| row.github_id).collect();
        let repositories: Vec<i64> = round.iter().map(|row| row.repository_id).collect();
        let numbers: Vec<i32> = round.iter().map(|row| row.pull_request_number).collect();
        let reviewers: Vec<Option<i64>> = round.iter().map(|row| row.reviewer_id).collect();
        let states: Vec<Option<&str>> = round
            .iter()
            .map(|row| row.submitted_state.map(ReviewState::as_str))
            .collect();
        let dismissed: Vec<bool> = round.iter().map(|row| row.dismissed).collect();
        let submitted: Vec<Option<super::Timestamp>> =
            round.iter().map(|row| row.submitted_at).collect();
        client
            .execute(
                &statement,
                &[
                    &ids,
                    &repositories,
                    &numbers,
                    &reviewers,
                    &states,
                    &dismissed,
                    &submitted,
                ],
            )
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::rounds;

    #[test]
    fn each_round_holds_a_key_once_and_keeps_the_order_within_a_key() {
        let rows = [("a", 1), ("b", 1), ("a", 2), ("a", 3), ("c", 1), ("b", 2)];
        let split = rounds(&rows, |row| row.0);
        let shown: Vec<Vec<(&str, i32)>> = split
            .iter()
            .map(|round| round.iter().map(|row| **row).collect())
            .collect();
        assert_eq!(
            shown,
            vec![
                vec![("a", 1), ("b", 1), ("c", 1)],
                vec![("a", 2), ("b", 2)],
                vec![("a", 3)],
            ]
        );
    }
}
