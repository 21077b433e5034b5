use tokio_postgres::error::SqlState;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid database URL: {0}")]
    BadUrl(#[source] tokio_postgres::Error),
    #[error("no database connection available: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// Shown with Postgres' own words: tokio-postgres' display of a server
    /// error is only "db error", which would leave a dead letter's reason
    /// (and the logs) without a cause.
    #[error("database error: {}", describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] refinery::Error),
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error("database TLS: {0}")]
    Tls(String),
    /// A compare-and-set lost to other writers of the same rows every time.
    #[error("{0}: other writers kept changing the row; try again")]
    Contended(&'static str),
    /// A stored value prpulse cannot use (e.g. an unknown time zone).
    #[error("stored data is unusable: {0}")]
    Corrupt(String),
}

fn describe(error: &tokio_postgres::Error) -> String {
    match (error.as_db_error(), std::error::Error::source(error)) {
        (Some(db), _) => format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        ),
        (None, Some(source)) => format!("{error}: {source}"),
        (None, None) => error.to_string(),
    }
}

/// What a failure says about trying again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retryability {
    /// The database is away (down, restarting, unreachable, out of
    /// connections): nothing will work until it is back, whatever the data.
    Unavailable,
    /// This attempt lost a race or hit a passing limit (deadlock,
    /// serialization failure, lock or statement timeout): the same work can
    /// succeed later.
    Transient,
    /// An error in the data or the query: trying again changes nothing.
    Permanent,
}

impl StoreError {
    pub fn retryability(&self) -> Retryability {
        match self {
            Self::Pool(_) => Retryability::Unavailable,
            Self::Contended(_) => Retryability::Transient,
            Self::Postgres(error) => postgres_retryability(error),
            Self::BadUrl(_)
            | Self::Migration(_)
            | Self::Crypto(_)
            | Self::Tls(_)
            | Self::Corrupt(_) => Retryability::Permanent,
        }
    }

    /// True unless the error is permanent.
    pub fn is_transient(&self) -> bool {
        self.retryability() != Retryability::Permanent
    }
}

fn postgres_retryability(error: &tokio_postgres::Error) -> Retryability {
    let Some(code) = error.code() else {
        // No SQLSTATE: the connection broke or timed out.
        return Retryability::Unavailable;
    };
    if [
        SqlState::ADMIN_SHUTDOWN,
        SqlState::CRASH_SHUTDOWN,
        SqlState::CANNOT_CONNECT_NOW,
        SqlState::TOO_MANY_CONNECTIONS,
        // A standby (or a primary being demoted) refuses writes: the
        // writable primary is what is away, until a failover ends.
        SqlState::READ_ONLY_SQL_TRANSACTION,
    ]
    .contains(code)
        || code.code().starts_with("08")
    {
        return Retryability::Unavailable;
    }
    let class = &code.code()[..2];
    let transient = [
        SqlState::T_R_SERIALIZATION_FAILURE,
        SqlState::T_R_DEADLOCK_DETECTED,
        SqlState::LOCK_NOT_AVAILABLE,
        SqlState::QUERY_CANCELED,
    ]
    .contains(code)
        || matches!(class, "53" | "58");
    if transient {
        Retryability::Transient
    } else {
        Retryability::Permanent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the machine's Postgres (`PRPULSE_TEST_DATABASE_URL`): a
    /// write refused as on a standby holds, never dead-letters.
    #[tokio::test]
    async fn a_write_refused_by_a_standby_means_the_primary_is_away() {
        let url = std::env::var("PRPULSE_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let (client, connection) = crate::Target::parse(&url).unwrap().connect().await.unwrap();
        // Set on its own: a setting takes effect for the next transaction.
        client
            .batch_execute("SET default_transaction_read_only = on")
            .await
            .unwrap();
        let refused = client
            .batch_execute("BEGIN; CREATE TABLE prpulse_refused_write (id int); ROLLBACK")
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Some(&SqlState::READ_ONLY_SQL_TRANSACTION));
        assert_eq!(
            StoreError::from(refused).retryability(),
            Retryability::Unavailable
        );
        connection.abort();
    }
}
