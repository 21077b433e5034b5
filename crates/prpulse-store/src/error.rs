use tokio_postgres::error::SqlState;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid database URL: {0}")]
    BadUrl(#[source] tokio_postgres::Error),
    #[error("no database connection available: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] refinery::Error),
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
}

impl StoreError {
    /// True when trying again later can succeed: the database is away,
    /// restarting, overloaded, or chose this transaction as a deadlock or
    /// serialization victim. False for errors in the data or the query.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Pool(_) => true,
            Self::Postgres(error) => is_transient_postgres(error),
            Self::BadUrl(_) | Self::Migration(_) | Self::Crypto(_) => false,
        }
    }
}

fn is_transient_postgres(error: &tokio_postgres::Error) -> bool {
    let Some(code) = error.code() else {
        // No SQLSTATE: the connection broke or timed out.
        return true;
    };
    let class = &code.code()[..2];
    matches!(
        class,
        "08" // connection exception
        | "53" // insufficient resources
        | "57" // operator intervention: shutdown, cancel
        | "58" // system error (I/O)
    ) || [
        SqlState::T_R_SERIALIZATION_FAILURE,
        SqlState::T_R_DEADLOCK_DETECTED,
        SqlState::LOCK_NOT_AVAILABLE,
    ]
    .contains(code)
}
