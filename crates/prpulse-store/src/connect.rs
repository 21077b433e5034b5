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
use tokio_postgres::{
    Client, Config, NoTls,
    config::{SslMode, TargetSessionAttrs},
};
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
        let options = libpq_only_options(database_url)?;
        let mut config = Config::from_str(&options.url).map_err(StoreError::BadUrl)?;
        // Several hosts are a primary and its standbys: unless the URL says
        // otherwise, every connection goes to the one that takes writes, so
        // after a failover new connections find the promoted server (libpq's
        // default, `any`, would as soon take a standby).
        if config.get_hosts().len() > 1 && !options.session_attrs_given {
            config.target_session_attrs(TargetSessionAttrs::ReadWrite);
        }
        let tls = match config.get_ssl_mode() {
            SslMode::Require => Some(connector(options.root_cert)?),
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

/// What [`libpq_only_options`] takes out of a URL before tokio-postgres
/// reads it.
struct LibpqOptions {
    url: String,
    root_cert: Option<PathBuf>,
    /// The URL says which sessions it wants (`target_session_attrs`).
    session_attrs_given: bool,
}

/// tokio-postgres knows neither `sslrootcert` nor the `verify-*` modes:
/// take them out of a URL (verification is always on) and keep the file.
/// The query is read by hand, not with a URL parser: a URL naming several
/// hosts (`postgres://u@db-0:5432,db-1:5432/prpulse`) is no valid URL.
fn libpq_only_options(database_url: &str) -> Result<LibpqOptions, StoreError> {
    let is_url =
        database_url.starts_with("postgres://") || database_url.starts_with("postgresql://");
    let Some((base, query)) = database_url.split_once('?').filter(|_| is_url) else {
        // A `key=value` connection string, or a URL without options: passed
        // on as it is.
        return Ok(LibpqOptions {
            url: database_url.to_owned(),
            root_cert: None,
            session_attrs_given: database_url.contains("target_session_attrs"),
        });
    };
    let mut root_cert = None;
    let mut session_attrs_given = false;
    let mut kept = url::form_urlencoded::Serializer::new(String::new());
    let mut any_kept = false;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match (key.as_ref(), value.as_ref()) {
            ("sslrootcert", path) => root_cert = Some(PathBuf::from(path)),
            ("sslmode", "verify-ca" | "verify-full") => {
                kept.append_pair("sslmode", "require");
                any_kept = true;
            }
            (key, value) => {
                session_attrs_given |= key == "target_session_attrs";
                kept.append_pair(key, value);
                any_kept = true;
            }
        }
    }
    let url = if any_kept {
        format!("{base}?{}", kept.finish())
    } else {
        base.to_owned()
    };
    Ok(LibpqOptions {
        url,
        root_cert,
        session_attrs_given,
    })
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
        let options = libpq_only_options(
            "postgres://u:p@db:5432/x?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=w",
        )
        .unwrap();
        assert_eq!(
            options.url,
            "postgres://u:p@db:5432/x?sslmode=require&application_name=w"
        );
        assert_eq!(options.root_cert, Some(PathBuf::from("/etc/ca.pem")));
        let options = libpq_only_options("postgres://u@db/x?sslrootcert=/ca.pem").unwrap();
        assert_eq!(options.url, "postgres://u@db/x");
        assert_eq!(options.root_cert, Some(PathBuf::from("/ca.pem")));
    }

    #[test]
    fn several_hosts_keep_their_tls_options_and_go_to_the_primary() {
        let target = Target::parse(
            "postgres://u@db-0:5432,db-1:5433/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        );
        // The CA file is looked for, so the TLS options were read.
        let error = target.unwrap_err().to_string();
        assert!(error.contains("/nonexistent/ca.pem"), "{error}");

        let target = Target::parse("postgres://u@db-0:5432,db-1:5433/x?connect_timeout=2").unwrap();
        assert_eq!(target.config.get_hosts().len(), 2);
        assert_eq!(target.config.get_ports(), [5432, 5433]);
        assert_eq!(
            target.config.get_target_session_attrs(),
            TargetSessionAttrs::ReadWrite
        );
        let explicit = Target::parse("postgres://u@db-0,db-1/x?target_session_attrs=any").unwrap();
        assert_eq!(
            explicit.config.get_target_session_attrs(),
            TargetSessionAttrs::Any
        );
        let single = Target::parse("postgres://u@db-0/x").unwrap();
        assert_eq!(
            single.config.get_target_session_attrs(),
            TargetSessionAttrs::Any
        );
        let keywords = Target::parse("host=db-0,db-1 user=u dbname=x").unwrap();
        assert_eq!(
            keywords.config.get_target_session_attrs(),
            TargetSessionAttrs::ReadWrite
        );
    }

    #[test]
    fn a_missing_root_certificate_file_is_named() {
        let error =
            Target::parse("postgres://u@db/x?sslmode=require&sslrootcert=/nonexistent/ca.pem")
                .unwrap_err();
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
    }
}
