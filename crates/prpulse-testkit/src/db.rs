use tokio_postgres::{Client, NoTls};

use crate::unique_suffix;

/// Where tests create their databases; the machine's Postgres by default.
pub fn admin_url() -> String {
    std::env::var("PRPULSE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database of its own for one test, migrated, dropped when dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
    admin_url: String,
}

impl TestDb {
    pub async fn create() -> Self {
        Self::create_on(&admin_url()).await
    }

    /// A database on the server `admin_url` points at.
    pub async fn create_on(admin_url: &str) -> Self {
        Self::create_named_on(admin_url, "prpulse_test").await
    }

    /// A database named `<prefix>_<random suffix>` on that server.
    pub async fn create_named_on(admin_url: &str, prefix: &str) -> Self {
        let name = format!("{prefix}_{}", unique_suffix());
        let admin = connect(admin_url).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("creating the test database");
        let url = with_dbname(admin_url, &name);
        prpulse_store::migrate::migrate(&url)
            .await
            .expect("migrating the test database");
        Self {
            name,
            url,
            admin_url: admin_url.to_owned(),
        }
    }

    pub async fn client(&self) -> Client {
        connect(&self.url).await
    }

    pub fn pool(&self) -> prpulse_store::Pool {
        prpulse_store::connect_pool(&self.url, &prpulse_store::PoolSettings::default()).unwrap()
    }

    /// `pr_metrics` as JSON rows ordered by repository and number: what
    /// dashboards see, in a form tests can compare whole.
    pub async fn pr_metrics(&self) -> Vec<serde_json::Value> {
        self.client()
            .await
            .query(
                "SELECT row_to_json(m)::text FROM pr_metrics m ORDER BY repository, number",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| serde_json::from_str(row.get::<_, &str>(0)).unwrap())
            .collect()
    }

    /// Every row the projection holds, as JSON (`pr_metrics` and each
    /// projection table, minus the bookkeeping times `now()` sets): what
    /// "the same rows" means for order independence and rebuilds.
    pub async fn projection_rows(&self) -> Vec<serde_json::Value> {
        let client = self.client().await;
        let mut rows = Vec::new();
        for sql in [
            "SELECT row_to_json(m)::text FROM pr_metrics m ORDER BY repository_id, number",
            "SELECT row_to_json(p)::text FROM pull_requests p ORDER BY repository_id, number",
            "SELECT row_to_json(r)::text FROM reviews r ORDER BY github_id",
            "SELECT json_build_object('id', github_id, 'login', login, 'type', user_type,
                     'bot', is_bot, 'at', observed_at)::text FROM members ORDER BY github_id",
            "SELECT json_build_object('id', github_id, 'name', full_name, 'at', observed_at)::text
             FROM repositories ORDER BY github_id",
            // The rows kept beside pull requests: what a payload names is
            // kept whether or not a Jira integration knows the project.
            "SELECT row_to_json(j)::text FROM pull_request_jira_mentions j
             ORDER BY repository_id, number",
            "SELECT row_to_json(m)::text FROM pull_request_merges m ORDER BY repository_id, number",
        ] {
            for row in client.query(sql, &[]).await.unwrap() {
                rows.push(serde_json::from_str(row.get::<_, &str>(0)).unwrap());
            }
        }
        rows
    }

    /// The `pr_metrics` row of `repository#number`.
    pub async fn pr(&self, repository: &str, number: i64) -> serde_json::Value {
        self.pr_metrics()
            .await
            .into_iter()
            .find(|row| row["repository"] == repository && row["number"] == number)
            .unwrap_or_else(|| panic!("no pr_metrics row for {repository}#{number}"))
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.client()
            .await
            .query_one(sql, &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    }

    /// Waits until `sql` (one boolean) holds, asking every 50 ms; a failed
    /// assertion naming `what` after 60 s.
    pub async fn wait_until_true(&self, sql: &str, what: &str) {
        let client = self.client().await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !client.query_one(sql, &[]).await.unwrap().get::<_, bool>(0) {
            assert!(std::time::Instant::now() < deadline, "{what} within 60 s");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Runs `action` (PL/pgSQL) before pull request `number` is inserted,
    /// until [`Self::clear_pull_request_fault`]: how a test makes that pull
    /// request's writes fail or hang. `setup` (SQL) runs first, for what
    /// `action` refers to.
    pub async fn inject_pull_request_fault(&self, number: i64, setup: &str, action: &str) {
        self.client()
            .await
            .batch_execute(&format!(
                "{setup}
                 CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                     IF NEW.number = {number} THEN {action} END IF;
                     RETURN NEW;
                 END $$;
                 CREATE TRIGGER injected_fault BEFORE INSERT ON pull_requests
                     FOR EACH ROW EXECUTE FUNCTION injected_fault();"
            ))
            .await
            .unwrap();
    }

    /// Fixes what [`Self::inject_pull_request_fault`] broke.
    pub async fn clear_pull_request_fault(&self) {
        self.client()
            .await
            .batch_execute("DROP TRIGGER injected_fault ON pull_requests")
            .await
            .unwrap();
    }

    /// Empties every table the worker writes, as if no delivery had come.
    pub async fn reset_projection(&self) {
        self.client()
            .await
            .batch_execute(
                "TRUNCATE deliveries, reviews, pull_requests, github_team_members, github_teams,
                          members, repositories, github_deployments, github_deployment_statuses,
                          github_workflow_runs, github_issues, pull_request_merges,
                          pull_request_jira_mentions",
            )
            .await
            .unwrap();
    }

    pub async fn deliveries(&self) -> i64 {
        self.count("SELECT count(*) FROM deliveries").await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin_url = self.admin_url.clone();
        // Drop runs outside any runtime guarantee: clean up on a thread of
        // its own with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let Ok((admin, connection)) = tokio_postgres::connect(&admin_url, NoTls).await
                else {
                    return; // the server is gone, and the database with it
                };
                tokio::spawn(connection);
                let _ = admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            });
        })
        .join();
    }
}

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|error| {
            panic!(
                "cannot reach Postgres at {url}: {error} (is it running? scripts/test starts it)"
            )
        });
    tokio::spawn(connection);
    client
}

/// `url` with its database name replaced by `name`.
pub fn with_dbname(url: &str, name: &str) -> String {
    let (base, _) = url
        .rsplit_once('/')
        .expect("a database URL ends in /dbname");
    let query = url
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{base}/{name}{query}")
}
