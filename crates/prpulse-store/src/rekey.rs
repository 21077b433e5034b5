//! Every sealed value at once. `check` proves each one opens with the
//! current key and is bound to its place; `reseal_all` (behind `prpulse
//! secrets rotate-key` and `reseal`) rewrites the ones that are not, in the
//! caller's transaction, and fails unless afterwards none needs the
//! previous key. The columns come from `SealedColumn::ALL`, so a sealed
//! column cannot be left out of a rotation.

use std::fmt;

use deadpool_postgres::{GenericClient, Transaction};
use secrecy::ExposeSecret;
use tokio_postgres::types::ToSql;

use crate::{
    Keyring, StoreError,
    crypto::{CryptoError, KeyUsed},
    sealed::{SealedColumn, SealedPlace},
};

/// A sealed value that is not as `Keyring::seal` writes it now.
#[derive(Debug, PartialEq, Eq)]
pub struct Stale {
    pub place: SealedPlace,
    pub problem: Problem,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Problem {
    /// Opens only with `PRPULSE_PREVIOUS_SECRET_KEY`.
    PreviousKey,
    /// Opens with the current key, but was sealed before values were bound
    /// to their place, so it would open in any row.
    Legacy,
    /// Opens with no configured key here: another key, another place, or
    /// corrupt.
    Unreadable(CryptoError),
}

impl fmt::Display for Stale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Problem::PreviousKey => write!(
                f,
                "{}: opens only with PRPULSE_PREVIOUS_SECRET_KEY",
                self.place
            ),
            Problem::Legacy => write!(
                f,
                "{}: sealed without its place (before the binding); re-seal it",
                self.place
            ),
            Problem::Unreadable(error) => write!(f, "{error}"),
        }
    }
}

/// The stale values, one per line.
pub struct Listing<'a>(pub &'a [Stale]);

impl fmt::Display for Listing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for stale in self.0 {
            writeln!(f, "  {stale}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RekeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "{} sealed value(s) open with neither PRPULSE_SECRET_KEY nor \
         PRPULSE_PREVIOUS_SECRET_KEY; nothing was changed:\n{}",
        .0.len(),
        Listing(.0)
    )]
    Unreadable(Vec<Stale>),
    #[error(
        "after re-sealing, {} value(s) still do not open with PRPULSE_SECRET_KEY alone \
         (is a service still writing with the old key?); nothing was changed:\n{}",
        .0.len(),
        Listing(.0)
    )]
    StillStale(Vec<Stale>),
}

/// How long `reseal_all` waits for the sealed tables' writers to finish.
const LOCK_TIMEOUT: &str = "10s";

/// What `reseal_all` did to one column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnResealed {
    pub column: SealedColumn,
    pub resealed: usize,
    pub up_to_date: usize,
}

/// Every sealed value that does not open with the current key, bound to
/// its place; empty when the previous key can be dropped.
pub async fn check(
    client: &impl GenericClient,
    keyring: &Keyring,
) -> Result<Vec<Stale>, StoreError> {
    let mut stale = Vec::new();
    for column in SealedColumn::ALL {
        for value in sealed_values(client, column).await? {
            let problem = match keyring.inspect(&value.place, &value.sealed) {
                Ok(opened) if opened.is_up_to_date() => continue,
                Ok(opened) if opened.key == KeyUsed::Previous => Problem::PreviousKey,
                // Under the current key but not up to date: unbound.
                Ok(_) => Problem::Legacy,
                Err(error) => Problem::Unreadable(error),
            };
            stale.push(Stale {
                place: value.place,
                problem,
            });
        }
    }
    Ok(stale)
}

/// Seals every value again under the current key, bound to its place, in
/// `transaction` (the caller commits). Writers of the sealed tables wait
/// for it; readers (ingest's hook-secret lookups) do not, and keep opening
/// the old values with the previous key until the commit. Any value that
/// opens with neither key fails the whole run, listing every such value.
pub async fn reseal_all(
    transaction: &Transaction<'_>,
    keyring: &Keyring,
) -> Result<Vec<ColumnResealed>, RekeyError> {
    let mut tables: Vec<&str> = SealedColumn::ALL.iter().map(|c| c.table()).collect();
    tables.dedup();
    // SHARE ROW EXCLUSIVE: no insert or update can slip a value sealed
    // under the old key in behind the scan, yet plain SELECTs go on. The
    // timeout keeps the scheduler's writes from queueing for long behind a
    // rotation that itself waits on some long transaction.
    transaction
        .batch_execute(&format!(
            "SET LOCAL lock_timeout = '{LOCK_TIMEOUT}';
             LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
            tables.join(", ")
        ))
        .await
        .map_err(StoreError::from)?;
    let mut unreadable = Vec::new();
    let mut report = Vec::new();
    for column in SealedColumn::ALL {
        let mut counts = ColumnResealed {
            column,
            resealed: 0,
            up_to_date: 0,
        };
        for value in sealed_values(transaction, column).await? {
            let opened = match keyring.inspect(&value.place, &value.sealed) {
                Ok(opened) if opened.is_up_to_date() => {
                    counts.up_to_date += 1;
                    continue;
                }
                Ok(opened) => opened,
                Err(error) => {
                    unreadable.push(Stale {
                        place: value.place,
                        problem: Problem::Unreadable(error),
                    });
                    continue;
                }
            };
            let resealed = keyring.seal(&value.place, opened.plaintext.expose_secret());
            transaction
                .execute(
                    &format!(
                        "UPDATE {} SET {} = $2 WHERE {} = $1",
                        column.table(),
                        column.column(),
                        column.row_key_column()
                    ),
                    &[value.key.as_sql(), &resealed],
                )
                .await
                .map_err(StoreError::from)?;
            counts.resealed += 1;
        }
        report.push(counts);
    }
    if !unreadable.is_empty() {
        return Err(RekeyError::Unreadable(unreadable));
    }
    let stale = check(transaction, keyring).await?;
    if !stale.is_empty() {
        return Err(RekeyError::StillStale(stale));
    }
    Ok(report)
}

struct SealedValue {
    key: RowKey,
    place: SealedPlace,
    sealed: Vec<u8>,
}

enum RowKey {
    HookId(i64),
    Account(String),
}

impl RowKey {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Self::HookId(id) => id,
            Self::Account(account) => account,
        }
    }
}

async fn sealed_values(
    client: &impl GenericClient,
    column: SealedColumn,
) -> Result<Vec<SealedValue>, StoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT {key}, {value} FROM {table} WHERE {value} IS NOT NULL ORDER BY {key}",
                key = column.row_key_column(),
                value = column.column(),
                table = column.table(),
            ),
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let (key, place) = match column {
                SealedColumn::Hook(slot) => {
                    let id: i64 = row.get(0);
                    (RowKey::HookId(id), SealedPlace::hook_secret(slot, id))
                }
                SealedColumn::Integration(credential) => {
                    let account: String = row.get(0);
                    let place = SealedPlace::credential(credential, &account);
                    (RowKey::Account(account), place)
                }
                SealedColumn::Jira(secret) => {
                    let name: String = row.get(0);
                    let place = SealedPlace::jira(secret, &name);
                    (RowKey::Account(name), place)
                }
            };
            SealedValue {
                key,
                place,
                sealed: row.get(1),
            }
        })
        .collect())
}
