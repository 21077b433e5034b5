//! prpulse-api, the real binary, against a test's own database; and the
//! `prpulse` CLI against the same database.

use std::{
    path::PathBuf,
    process::{ExitStatus, Output, Stdio},
};

use tokio::process::{Child, Command};

use crate::{
    TestDb,
    listen::{ANY_LOCAL_PORT, AddressFile},
    process::{binary_path, terminate},
    stack::wait_until_serving,
};

pub struct ApiServer {
    pub url: String,
    pub metrics_url: String,
    pub log_file: PathBuf,
    database_url: String,
    child: Child,
    http: reqwest::Client,
}

impl ApiServer {
    /// Starts prpulse-api on ports it picks, logging at debug into a file
    /// of its own (so a test can read what it logged), and waits for
    /// /readyz.
    pub async fn start(db: &TestDb) -> Self {
        Self::start_with(db, &[]).await
    }

    /// The same with `env` on top (e.g. `RUST_LOG=warn` for a benchmark).
    pub async fn start_with(db: &TestDb, env: &[(&str, &str)]) -> Self {
        let log_file = std::env::temp_dir().join(format!("prpulse-api-{}.log", db.name));
        let http = crate::http_client().build().unwrap();
        let addresses = AddressFile::new("api");
        let (name, path) = addresses.env();
        let log = std::fs::File::create(&log_file).expect("creating the api log");
        let mut child = command("prpulse-api", &db.url)
            .env("PRPULSE_API_ADDR", ANY_LOCAL_PORT)
            .env("PRPULSE_METRICS_ADDR", ANY_LOCAL_PORT)
            .env(name, path)
            .env("PRPULSE_API_WORKERS", "2")
            .env("RUST_LOG", "debug")
            .envs(env.iter().copied())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting prpulse-api");
        let addr = addresses.wait_for("api", &mut child).await;
        let log = std::fs::read_to_string(&log_file).unwrap_or_default();
        let addr = addr.unwrap_or_else(|| panic!("prpulse-api exited at start:\n{log}"));
        // Its /metrics listener is bound before the API's.
        let metrics = addresses
            .read("metrics")
            .expect("prpulse-api reported its /metrics address");
        let mut server = Self {
            url: format!("http://{addr}"),
            metrics_url: format!("http://{metrics}"),
            log_file,
            database_url: db.url.clone(),
            child,
            http,
        };
        assert!(
            server.wait_ready().await,
            "prpulse-api exited before it was ready:\n{}",
            server.log()
        );
        server
    }

    async fn wait_ready(&mut self) -> bool {
        let url = format!("{}/readyz", self.url);
        wait_until_serving(&self.http, &url, &mut self.child, "prpulse-api").await
    }

    /// `GET path` with `token` as bearer (none when `None`).
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("prpulse-api answers")
    }

    /// `GET path` as JSON, asserting 200.
    pub async fn json(&self, path: &str, token: &str) -> serde_json::Value {
        let response = self.get(path, Some(token)).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Runs the `prpulse` CLI against this server's database.
    pub async fn cli(&self, args: &[&str]) -> Output {
        cli(&self.database_url, args).await
    }

    /// Makes an API token with the CLI and returns it.
    pub async fn create_token(&self, name: &str) -> String {
        let output = self.cli(&["api-token", "create", name]).await;
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// Sends SIGTERM and returns how it exited.
    pub async fn terminate(&mut self) -> ExitStatus {
        terminate(&mut self.child).await
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_file(&self.log_file);
    }
}

fn command(binary: &str, database_url: &str) -> Command {
    let mut command = Command::new(binary_path(binary));
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("PRPULSE_")) {
        command.env_remove(name);
    }
    command
        .env("PRPULSE_DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    command
}

/// Runs the `prpulse` CLI against `database_url`.
pub async fn cli(database_url: &str, args: &[&str]) -> Output {
    command("prpulse", database_url)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .expect("running prpulse")
}
