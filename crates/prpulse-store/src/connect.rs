//! Reaching Postgres as `PRPULSE_DATABASE_URL` says, TLS included.
//!
//! The URL speaks libpq: `sslmode=disable` or `prefer` (the default)
//! connect in plain text; `require`, `verify-ca` and `verify-full` connect
//! over TLS and always verify the server's certificate and name (stricter
//! than libpq's `require`), against the system's roots plus the PEM file
//! named by `sslrootcert` (a managed Postgres' CA bundle, say).

use std::{path::PathBuf, str::FromStr, sync::Arc};

use rustls::{ClientConfig, RootCertStore, pki_types::CertificateDer, pki_types::pem::PemObject};
use tokio::task::JoinHandle;
use tokio_postgres::{Client, Config, NoTls, config::SslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::StoreError;

/// Where to connect and how: the parsed settings and, when TLS is asked
/// for, the connector that verifies the server.
#[derive(Clone)]
pub struct Target {
    pub config: Config,
    pub tls: Option<MakeRustlsConnect>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("hosts", &self.config.get_hosts())
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Target {
    pub fn parse(database_url: &str) -> Result<Self, StoreError> {
        let (url, root_cert) = libpq_only_options(database_url)?;
        let config = Config::from_str(&url).map_err(StoreError::BadUrl)?;
        let tls = match config.get_ssl_mode() {
            SslMode::Require => Some(connector(root_cert)?),
            _ => None,
        };
        Ok(Self { config, tls })
    }

    /// One connection outside the pool (migrations, the scheduler's lock),
    /// with the task that drives it.
    pub async fn connect(&self) -> Result<(Client, JoinHandle<()>), StoreError> {
        Ok(match &self.tls {
            Some(tls) => {
                let (client, connection) = self.config.connect(tls.clone()).await?;
                (client, spawn(connection))
            }
            None => {
                let (client, connection) = self.config.connect(NoTls).await?;
                (client, spawn(connection))
            }
        })
    }
}

fn spawn<F: Future + Send + 'static>(connection: F) -> JoinHandle<()> {
    tokio::spawn(async move {
        let _ = connection.await;
    })
}

/// tokio-postgres knows neither `sslrootcert` nor the `verify-*` modes:
/// take them out of a URL (verification is always on) and keep the file.
fn libpq_only_options(database_url: &str) -> Result<(String, Option<PathBuf>), StoreError> {
    let Ok(mut url) = url::Url::parse(database_url) else {
        // A `key=value` connection string: passed on as it is.
        return Ok((database_url.to_owned(), None));
    };
    let mut root_cert = None;
    let mut kept = Vec::new();
    for (key, value) in url.query_pairs() {
        match (key.as_ref(), value.as_ref()) {
            ("sslrootcert", path) => root_cert = Some(PathBuf::from(path)),
            ("sslmode", "verify-ca" | "verify-full") => {
                kept.push(("sslmode".to_owned(), "require".to_owned()));
            }
            _ => kept.push((key.into_owned(), value.into_owned())),
        }
    }
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    Ok((url.into(), root_cert))
}

fn connector(root_cert: Option<PathBuf>) -> Result<MakeRustlsConnect, StoreError> {
    let mut roots = RootCertStore::empty();
    // Unreadable system certificates are not fatal: sslrootcert may be all
    // that is needed.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = root_cert {
        let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&path)
            .and_then(|found| found.collect())
            .map_err(|error| StoreError::Tls(format!("sslrootcert {}: {error}", path.display())))?;
        if certificates.is_empty() {
            return Err(StoreError::Tls(format!(
                "sslrootcert {} holds no certificate",
                path.display()
            )));
        }
        roots.add_parsable_certificates(certificates);
    }
    if roots.is_empty() {
        return Err(StoreError::Tls(
            "sslmode asks for TLS but no trusted certificate was found: name a CA file with sslrootcert".into(),
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| StoreError::Tls(error.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_unless_tls_is_required() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/test",
            "postgres://postgres@127.0.0.1:5432/test?sslmode=prefer",
            "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
            "host=127.0.0.1 user=postgres dbname=test",
        ] {
            assert!(Target::parse(url).unwrap().tls.is_none(), "{url}");
        }
        for mode in ["require", "verify-ca", "verify-full"] {
            let url = format!("postgres://u@db.example.com/prpulse?sslmode={mode}");
            let target = Target::parse(&url).unwrap();
            assert!(target.tls.is_some(), "{url}");
            assert_eq!(target.config.get_ssl_mode(), SslMode::Require);
        }
    }

    #[test]
    fn libpq_options_are_taken_out_and_the_rest_kept() {
        let (url, root) = libpq_only_options(
            "postgres://u:p@db:5432/x?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=w",
        )
        .unwrap();
        assert_eq!(
            url,
            "postgres://u:p@db:5432/x?sslmode=require&application_name=w"
        );
        assert_eq!(root, Some(PathBuf::from("/etc/ca.pem")));
        let (url, root) = libpq_only_options("postgres://u@db/x?sslrootcert=/ca.pem").unwrap();
        assert_eq!(url, "postgres://u@db/x");
        assert_eq!(root, Some(PathBuf::from("/ca.pem")));
    }

    #[test]
    fn a_missing_root_certificate_file_is_named() {
        let error =
            Target::parse("postgres://u@db/x?sslmode=require&sslrootcert=/nonexistent/ca.pem")
                .unwrap_err();
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
    }
}
