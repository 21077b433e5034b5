//! The real binaries, started against a test's own database and topology.
//! What a test sends to ingest is in `requests`, how it stops or inspects
//! the processes in `processes`.

mod processes;
mod requests;

use std::{path::PathBuf, process::Stdio, time::Duration};

use prpulse_queue::Topology;
use tokio::process::{Child, Command};

pub use crate::process::{binary_path, free_port, wait_until_serving};
use crate::{
    TestDb, broker, db, eventually,
    listen::{ANY_LOCAL_PORT, AddressFile},
    unique_suffix,
};

/// The global webhook secret test stacks use.
pub const WEBHOOK_SECRET: &str = "It's a Secret to Everybody";
/// A `PRPULSE_SECRET_KEY` for tests (64 hex digits).
pub const SECRET_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

pub struct StackOptions {
    pub workers: usize,
    /// Replaces the broker URL (e.g. a closed port).
    pub amqp_url: Option<String>,
    pub webhook_secret: Option<String>,
    /// Environment for both binaries, on top of the stack's own.
    pub env: Vec<(String, String)>,
    /// Environment for ingest only (e.g. `PRPULSE_METRICS_ADDR`).
    pub ingest_env: Vec<(String, String)>,
    /// Environment for every worker only.
    pub worker_env: Vec<(String, String)>,
    /// `PRPULSE_DELIVERY_LIMIT`; low by default, so crash loops end soon.
    pub delivery_limit: u32,
    /// The retry tiers; short, so retries finish within a test.
    pub retry_delays: Vec<Duration>,
    /// The Postgres server for the test database (default: the machine's).
    pub admin_database_url: Option<String>,
    /// Binaries reach Postgres on this local port (a fault proxy) instead.
    pub database_port_for_binaries: Option<u16>,
    /// Binaries reach Postgres at this URL (its database name replaced by
    /// the test's), e.g. a primary and its standby as several hosts.
    pub database_url_for_binaries: Option<String>,
    /// Wait for `/readyz` (else only `/livez`) before returning.
    pub wait_ready: bool,
    /// Append the binaries' output to this file instead of the test's.
    pub log_file: Option<PathBuf>,
    /// Names the stack's database (`<name>_<suffix>`) and topology
    /// (`<name>-<suffix>`): `prpulse_test` for tests, so leftovers say
    /// where they came from.
    pub name: &'static str,
}

impl StackOptions {
    /// Ingest alone: deliveries stay on the work queue for the test to see.
    pub fn ingest_only() -> Self {
        Self {
            workers: 0,
            ..Self::default()
        }
    }
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            workers: 1,
            amqp_url: None,
            webhook_secret: Some(WEBHOOK_SECRET.into()),
            env: Vec::new(),
            ingest_env: Vec::new(),
            worker_env: Vec::new(),
            delivery_limit: 5,
            retry_delays: vec![
                Duration::from_millis(200),
                Duration::from_millis(400),
                Duration::from_millis(800),
            ],
            admin_database_url: None,
            database_port_for_binaries: None,
            database_url_for_binaries: None,
            wait_ready: true,
            log_file: None,
            name: "prpulse_test",
        }
    }
}

pub struct Stack {
    pub db: TestDb,
    pub topology: Topology,
    pub ingest_url: String,
    pub secret: Option<String>,
    ingest: Option<Child>,
    /// Where ingest reported its listeners.
    ingest_addresses: AddressFile,
    workers: Vec<Child>,
    /// Where each worker (same index) reported its `/metrics` listener.
    worker_addresses: Vec<AddressFile>,
    amqp_url: String,
    binaries_database_url: String,
    log_file: Option<PathBuf>,
    extra_env: Vec<(String, String)>,
    worker_env: Vec<(String, String)>,
    http: reqwest::Client,
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_with(StackOptions::default()).await
    }

    pub async fn start_with(options: StackOptions) -> Self {
        let admin_url = options
            .admin_database_url
            .clone()
            .unwrap_or_else(db::admin_url);
        let db = TestDb::create_named_on(&admin_url, options.name).await;
        let binaries_database_url = match (
            options.database_port_for_binaries,
            &options.database_url_for_binaries,
        ) {
            (Some(port), _) => db::with_dbname(
                &format!("postgres://postgres@127.0.0.1:{port}/postgres"),
                &db.name,
            ),
            (None, Some(url)) => db::with_dbname(url, &db.name),
            (None, None) => db.url.clone(),
        };
        let prefix = match options.name {
            "prpulse_test" => "test".to_owned(),
            name => name.replace('_', "-"),
        };
        let topology = Topology::new(
            format!("{prefix}-{}", unique_suffix()),
            options.delivery_limit,
        )
        .with_retry_delays(options.retry_delays.clone());
        let mut stack = Self {
            db,
            topology,
            ingest_url: String::new(),
            secret: options.webhook_secret.clone(),
            ingest: None,
            ingest_addresses: AddressFile::new("ingest"),
            workers: Vec::new(),
            worker_addresses: Vec::new(),
            amqp_url: options.amqp_url.unwrap_or_else(broker::amqp_url),
            binaries_database_url,
            log_file: options.log_file.clone(),
            extra_env: options.env,
            worker_env: options.worker_env,
            http: crate::http_client().build().unwrap(),
        };
        let mut ingest = stack.command("prpulse-ingest");
        let (name, path) = stack.ingest_addresses.env();
        ingest
            .env("PRPULSE_INGEST_ADDR", ANY_LOCAL_PORT)
            .env(name, path);
        if let Some(secret) = &options.webhook_secret {
            ingest.env("PRPULSE_WEBHOOK_SECRET", secret);
        }
        ingest.envs(options.ingest_env.iter().cloned());
        let mut ingest = ingest.spawn().expect("starting prpulse-ingest");
        let addr = stack
            .ingest_addresses
            .wait_for("ingest", &mut ingest)
            .await
            .expect("prpulse-ingest exited at start");
        stack.ingest_url = format!("http://{addr}");
        stack.ingest = Some(ingest);
        let path = if options.wait_ready {
            "/readyz"
        } else {
            "/livez"
        };
        assert!(
            stack.wait_for(path).await,
            "prpulse-ingest exited before it answered {path}"
        );
        for _ in 0..options.workers {
            stack.spawn_worker();
        }
        stack
    }

    fn command(&self, binary: &str) -> Command {
        let mut command = Command::new(binary_path(binary));
        for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("PRPULSE_")) {
            command.env_remove(name);
        }
        command
            .env("PRPULSE_DATABASE_URL", &self.binaries_database_url)
            .env("PRPULSE_AMQP_URL", &self.amqp_url)
            .env("PRPULSE_TOPOLOGY_PREFIX", self.topology.prefix())
            .env(
                "PRPULSE_DELIVERY_LIMIT",
                self.topology.delivery_limit().to_string(),
            )
            .env("PRPULSE_RETRY_DELAYS", retry_delays(&self.topology))
            .env("PRPULSE_SECRET_KEY", SECRET_KEY)
            .env("PRPULSE_METRICS_ADDR", "off")
            .env("PRPULSE_INGEST_WORKERS", "2")
            .env(
                "RUST_LOG",
                std::env::var("PRPULSE_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .envs(self.extra_env.iter().cloned())
            .stdout(self.output())
            .stderr(self.output())
            .kill_on_drop(true);
        command
    }

    fn output(&self) -> Stdio {
        match &self.log_file {
            Some(path) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("opening the log file")
                .into(),
            None => Stdio::inherit(),
        }
    }

    pub fn spawn_worker(&mut self) {
        self.spawn_worker_with(&[]);
    }

    /// A command that starts a sync-scheduler of this stack.
    pub fn scheduler_command(&self) -> Command {
        self.command("prpulse-sync-scheduler")
    }

    /// A command that starts a worker of this stack, for tests that manage
    /// worker processes themselves.
    pub fn worker_command(&self) -> Command {
        let mut command = self.command("prpulse-worker");
        command.envs(self.worker_env.iter().cloned());
        command
    }

    /// Starts one more worker, with `env` on top of the stack's.
    pub fn spawn_worker_with(&mut self, env: &[(&str, &str)]) {
        let addresses = AddressFile::new("worker");
        let (name, path) = addresses.env();
        let worker = self
            .command("prpulse-worker")
            .env(name, path)
            .envs(self.worker_env.iter().cloned())
            .envs(env.iter().copied())
            .spawn()
            .expect("starting prpulse-worker");
        self.workers.push(worker);
        self.worker_addresses.push(addresses);
    }

    /// `http://<addr>/metrics` of ingest's endpoint, for a stack whose
    /// `ingest_env` turned it on (`PRPULSE_METRICS_ADDR=127.0.0.1:0`).
    /// Ingest binds it before its webhook port, so it is known by now.
    pub fn ingest_metrics_url(&self) -> String {
        let addr = self
            .ingest_addresses
            .read("metrics")
            .expect("ingest reported a /metrics address: set PRPULSE_METRICS_ADDR in ingest_env");
        format!("http://{addr}/metrics")
    }

    /// `http://<addr>/metrics` of the `index`th running worker's endpoint
    /// (turned on in `worker_env`), once it has bound it.
    pub async fn worker_metrics_url(&mut self, index: usize) -> String {
        let addr = self.worker_addresses[index]
            .wait_for("metrics", &mut self.workers[index])
            .await
            .expect("the worker exited before it served /metrics");
        format!("http://{addr}/metrics")
    }

    /// Waits for ingest to answer `path`; false if it exited first.
    async fn wait_for(&mut self, path: &str) -> bool {
        let url = format!("{}{path}", self.ingest_url);
        let ingest = self.ingest.as_mut().expect("ingest was started");
        wait_until_serving(&self.http, &url, ingest, "ingest").await
    }

    /// Waits until `n` deliveries are recorded in Postgres.
    pub async fn wait_for_deliveries(&self, n: i64) {
        let seen = eventually(
            &format!("{n} deliveries recorded"),
            Duration::from_secs(60),
            async || {
                let seen = self.db.deliveries().await;
                if seen >= n { Ok(seen) } else { Err(seen) }
            },
        )
        .await;
        assert_eq!(seen, n, "more deliveries recorded than expected");
    }

    pub fn amqp_url(&self) -> &str {
        &self.amqp_url
    }

    /// Runs the `prpulse` operator CLI against this stack.
    pub async fn cli(&self, args: &[&str]) -> std::process::Output {
        self.cli_with(args, &[]).await
    }

    /// Runs the `prpulse` operator CLI with `env` on top of the stack's.
    pub async fn cli_with(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        self.command("prpulse")
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await
            .expect("running prpulse")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for child in self.ingest.iter_mut().chain(self.workers.iter_mut()) {
            let _ = child.start_kill();
        }
        let topology = self.topology.clone();
        let amqp_url = self.amqp_url.clone();
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(broker::delete_topology_at(&amqp_url, &topology));
        })
        .join();
    }
}

fn retry_delays(topology: &Topology) -> String {
    topology
        .retry_delays()
        .iter()
        .map(|delay| format!("{}ms", delay.as_millis()))
        .collect::<Vec<_>>()
        .join(",")
}
