//! The ceiling's SQL and the connection that runs it: each shape's
//! statements, prepared once per connection, and the set-based writes.

use super::*;

const INSERT_DELIVERY: &str = "INSERT INTO ceiling_deliveries
        (delivery_id, event, action, source, received_at, outcome, payload,
         repository_id, pull_request_number)
    VALUES ($1, $2, $3, 'webhook', $4, 'projected', $5, $6, $7)";

const INSERT_DELIVERIES: &str = "INSERT INTO ceiling_deliveries
        (delivery_id, event, action, source, received_at, outcome, payload,
         repository_id, pull_request_number)
    SELECT id, event, action, 'webhook', received_at, 'projected', payload, repo, number
    FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bytea[],
                $6::bigint[], $7::integer[])
         AS d(id, event, action, received_at, payload, repo, number)";

const PULL_REQUEST_COLUMNS: &str = "repository_id, number, github_id, author_id,
    version_rank, version_at, version_delivery, title, state, draft, closed_at,
    additions, deletions, changed_files, head_ref, base_ref, created_at, merged_at";

/// Newest version wins the scalar fields; the accumulating facts keep
/// their least or first value.
const ON_CONFLICT: &str = "ON CONFLICT (repository_id, number) DO UPDATE SET
        github_id = least(p.github_id, excluded.github_id),
        author_id = coalesce(excluded.author_id, p.author_id),
        version_rank = excluded.version_rank, version_at = excluded.version_at,
        version_delivery = excluded.version_delivery, title = excluded.title,
        state = excluded.state, draft = excluded.draft, closed_at = excluded.closed_at,
        additions = excluded.additions, deletions = excluded.deletions,
        changed_files = excluded.changed_files, head_ref = excluded.head_ref,
        base_ref = excluded.base_ref,
        created_at = least(p.created_at, excluded.created_at),
        merged_at = coalesce(p.merged_at, excluded.merged_at)
    WHERE (excluded.version_rank, excluded.version_at, excluded.version_delivery)
        > (p.version_rank, p.version_at, p.version_delivery)";

fn upsert_pull_request() -> String {
    format!(
        "INSERT INTO ceiling_pull_requests AS p ({PULL_REQUEST_COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         {ON_CONFLICT}"
    )
}

/// One row per pull request (ON CONFLICT may touch a row once per
/// statement), the newest version of each, in the global lock order.
fn upsert_pull_requests() -> String {
    format!(
        "INSERT INTO ceiling_pull_requests AS p ({PULL_REQUEST_COLUMNS})
         SELECT DISTINCT ON (repository_id, number) *
         FROM unnest($1::bigint[], $2::integer[], $3::bigint[], $4::bigint[],
                     $5::smallint[], $6::timestamptz[], $7::text[], $8::text[], $9::text[],
                     $10::boolean[], $11::timestamptz[], $12::integer[], $13::integer[],
                     $14::integer[], $15::text[], $16::text[], $17::timestamptz[],
                     $18::timestamptz[])
              AS u({PULL_REQUEST_COLUMNS})
         ORDER BY repository_id, number, version_rank DESC, version_at DESC,
                  version_delivery DESC
         {ON_CONFLICT}"
    )
}

/// One connection with its statements prepared once.
pub(super) struct Connection {
    client: Client,
    insert_delivery: Statement,
    upsert_pull_request: Statement,
    insert_deliveries: Statement,
    upsert_pull_requests: Statement,
}

impl Connection {
    pub(super) async fn open(db: &TestDb) -> anyhow::Result<Self> {
        let client = db.client().await;
        Ok(Self {
            insert_delivery: client.prepare(INSERT_DELIVERY).await?,
            upsert_pull_request: client.prepare(&upsert_pull_request()).await?,
            insert_deliveries: client.prepare(INSERT_DELIVERIES).await?,
            upsert_pull_requests: client.prepare(&upsert_pull_requests()).await?,
            client,
        })
    }

    pub(super) async fn apply(
        &mut self,
        shape: Shape,
        batch: &[DeliveryRow],
    ) -> anyhow::Result<()> {
        let transaction = self.client.transaction().await?;
        let mut pull_requests: Vec<&PullRequestRow> = batch
            .iter()
            .filter_map(|row| row.pull_request.as_ref())
            .collect();
        pull_requests.sort_by_key(|pr| pr.key());
        if shape == Shape::SetBased {
            insert_set(&transaction, &self.insert_deliveries, batch).await?;
            upsert_set(&transaction, &self.upsert_pull_requests, &pull_requests).await?;
        } else {
            for row in batch {
                let pr = row.pull_request.as_ref();
                transaction
                    .execute(
                        &self.insert_delivery,
                        &[
                            &row.delivery_id,
                            &row.event,
                            &row.action,
                            &row.received_at,
                            &row.payload,
                            &pr.map(|pr| pr.repository_id),
                            &pr.map(|pr| pr.number),
                        ],
                    )
                    .await?;
            }
            for pr in pull_requests {
                transaction
                    .execute(&self.upsert_pull_request, &pull_request_params(pr))
                    .await?;
            }
        }
        transaction.commit().await?;
        Ok(())
    }
}

fn pull_request_params(pr: &PullRequestRow) -> [&(dyn ToSql + Sync); 18] {
    [
        &pr.repository_id,
        &pr.number,
        &pr.github_id,
        &pr.author_id,
        &pr.version_rank,
        &pr.version_at,
        &pr.version_delivery,
        &pr.title,
        &pr.state,
        &pr.draft,
        &pr.closed_at,
        &pr.additions,
        &pr.deletions,
        &pr.changed_files,
        &pr.head_ref,
        &pr.base_ref,
        &pr.created_at,
        &pr.merged_at,
    ]
}

async fn insert_set(
    transaction: &Transaction<'_>,
    statement: &Statement,
    batch: &[DeliveryRow],
) -> anyhow::Result<()> {
    let column = |f: fn(&DeliveryRow) -> Option<i64>| batch.iter().map(f).collect::<Vec<_>>();
    let ids: Vec<&str> = batch.iter().map(|row| row.delivery_id.as_str()).collect();
    let events: Vec<&str> = batch.iter().map(|row| row.event.as_str()).collect();
    let actions: Vec<Option<&str>> = batch.iter().map(|row| row.action.as_deref()).collect();
    let received: Vec<_> = batch.iter().map(|row| row.received_at).collect();
    let payloads: Vec<&[u8]> = batch.iter().map(|row| row.payload.as_slice()).collect();
    let repos = column(|row| row.pull_request.as_ref().map(|pr| pr.repository_id));
    let numbers: Vec<Option<i32>> = batch
        .iter()
        .map(|row| row.pull_request.as_ref().map(|pr| pr.number))
        .collect();
    transaction
        .execute(
            statement,
            &[
                &ids, &events, &actions, &received, &payloads, &repos, &numbers,
            ],
        )
        .await?;
    Ok(())
}

async fn upsert_set(
    transaction: &Transaction<'_>,
    statement: &Statement,
    prs: &[&PullRequestRow],
) -> anyhow::Result<()> {
    fn column<'a, T>(prs: &[&'a PullRequestRow], f: impl Fn(&'a PullRequestRow) -> T) -> Vec<T> {
        prs.iter().map(|pr| f(pr)).collect()
    }
    let repository_ids = column(prs, |pr| pr.repository_id);
    let numbers = column(prs, |pr| pr.number);
    let github_ids = column(prs, |pr| pr.github_id);
    let author_ids = column(prs, |pr| pr.author_id);
    let ranks = column(prs, |pr| pr.version_rank);
    let version_ats = column(prs, |pr| pr.version_at);
    let version_deliveries = column(prs, |pr| pr.version_delivery.as_str());
    let titles = column(prs, |pr| pr.title.as_deref());
    let states = column(prs, |pr| pr.state.as_str());
    let drafts = column(prs, |pr| pr.draft);
    let closed_ats = column(prs, |pr| pr.closed_at);
    let additions = column(prs, |pr| pr.additions);
    let deletions = column(prs, |pr| pr.deletions);
    let changed_files = column(prs, |pr| pr.changed_files);
    let head_refs = column(prs, |pr| pr.head_ref.as_deref());
    let base_refs = column(prs, |pr| pr.base_ref.as_deref());
    let created_ats = column(prs, |pr| pr.created_at);
    let merged_ats = column(prs, |pr| pr.merged_at);
    transaction
        .execute(
            statement,
            &[
                &repository_ids,
                &numbers,
                &github_ids,
                &author_ids,
                &ranks,
                &version_ats,
                &version_deliveries,
                &titles,
                &states,
                &drafts,
                &closed_ats,
                &additions,
                &deletions,
                &changed_files,
                &head_refs,
                &base_refs,
                &created_ats,
                &merged_ats,
            ],
        )
        .await
        .context("the set-based pull-request upsert")?;
    Ok(())
}
