//! What SREs see: ingest's and the worker's `/metrics` after real traffic
//! count that traffic, the worker reports the depth of the dead-letter
//! queue, the sync-scheduler's say it acts and count its reconciliation, and
//! the dashboards and alerts in `deploy/` query only metrics that exist.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    time::Duration,
};

use chrono::{TimeZone, Utc};
use prpulse_domain::RepoFullName;
use prpulse_e2e::{
    Delivery, Person, PullRequestBuilder, Repo, Stack, StackOptions, eventually,
    fake_github::{FakeGitHub, RATE_LIMIT_REMAINING},
    listen::{ANY_LOCAL_PORT, AddressFile},
};
use prpulse_store::tracking;

/// One scrape of a `/metrics` endpoint, in Prometheus text format.
struct Scrape {
    text: String,
    /// `# TYPE` lines: family name → type.
    families: BTreeMap<String, String>,
    /// Every sample: series name, labels, value.
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
}

impl Scrape {
    fn parse(text: String) -> Self {
        let mut families = BTreeMap::new();
        let mut samples = Vec::new();
        for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
            if let Some(declaration) = line.strip_prefix("# TYPE ") {
                let (name, kind) = declaration.split_once(' ').expect("# TYPE name kind");
                families.insert(name.to_owned(), kind.to_owned());
            } else if !line.starts_with('#') {
                samples.push(parse_sample(line));
            }
        }
        Self {
            text,
            families,
            samples,
        }
    }

    /// The sum of the samples of `name` whose labels include `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).sum()
    }

    /// The value of the one sample of `name` with `labels`, if there is one.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let values: Vec<f64> = self.matching(name, labels).collect();
        assert!(
            values.len() <= 1,
            "{name} {labels:?} matches several series"
        );
        values.first().copied()
    }

    fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&str, &str)],
    ) -> impl Iterator<Item = f64> + 'a {
        self.samples
            .iter()
            .filter(move |(series, series_labels, _)| {
                series == name
                    && labels
                        .iter()
                        .all(|(k, v)| series_labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, value)| *value)
    }

    /// Whether a query naming `name` finds series here: a counter or gauge
    /// by its own name, a histogram only by `_bucket`, `_sum` or `_count`
    /// (its bare family name selects nothing in Prometheus).
    fn has_series(&self, name: &str) -> bool {
        self.samples.iter().any(|(series, _, _)| series == name)
    }
}

fn parse_sample(line: &str) -> (String, BTreeMap<String, String>, f64) {
    let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
    let value: f64 = value.parse().expect("a sample's value is a number");
    let Some((name, labels)) = series.split_once('{') else {
        return (series.to_owned(), BTreeMap::new(), value);
    };
    // prpulse's label values are short identifiers: no commas, quotes or
    // escapes, so splitting is enough here.
    let labels = labels
        .trim_end_matches('}')
        .split(',')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').expect("label=value");
            (key.to_owned(), value.trim_matches('"').to_owned())
        })
        .collect();
    (name.to_owned(), labels, value)
}

/// A stack with ingest's and the worker's `/metrics` endpoints on, the
/// queue depth polled fast; a scheduler once `start_scheduler` is called.
struct Observed {
    stack: Stack,
    ingest_metrics: String,
    worker_metrics: String,
    /// Known once `start_scheduler` has started it.
    scheduler_metrics: String,
    http: reqwest::Client,
}

/// A sync-scheduler of the observed stack, against a fake GitHub.
struct Scheduler {
    github: FakeGitHub,
    _process: tokio::process::Child,
}

const HOOK_URL: &str = "https://prpulse.example.com/webhooks/github";

impl Observed {
    async fn start() -> Self {
        let metrics_on = || vec![("PRPULSE_METRICS_ADDR".to_owned(), ANY_LOCAL_PORT.to_owned())];
        let mut worker_env = metrics_on();
        worker_env.push(("PRPULSE_QUEUE_DEPTH_INTERVAL_MS".into(), "200".into()));
        let mut stack = Stack::start_with(StackOptions {
            ingest_env: metrics_on(),
            worker_env,
            ..StackOptions::default()
        })
        .await;
        Self {
            ingest_metrics: stack.ingest_metrics_url(),
            worker_metrics: stack.worker_metrics_url(0).await,
            scheduler_metrics: String::new(),
            stack,
            http: prpulse_e2e::http_client().build().unwrap(),
        }
    }

    /// Starts a scheduler (reconciling every 200 ms) against a fake GitHub,
    /// with an integration for `acme` to act with, and tracks `acme/api`
    /// for it to reconcile.
    async fn start_scheduler(&mut self) -> Scheduler {
        let github = FakeGitHub::start().await;
        github.add_repository("acme/api", 10);
        let added = self
            .stack
            .cli_with(
                &["integration", "add", "acme"],
                &[(
                    "PRPULSE_GITHUB_TOKEN",
                    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
                )],
            )
            .await;
        assert!(
            added.status.success(),
            "prpulse integration add: {}",
            String::from_utf8_lossy(&added.stderr)
        );
        let addresses = AddressFile::new("scheduler");
        let (name, path) = addresses.env();
        let mut process = self
            .stack
            .scheduler_command()
            .env("PRPULSE_PUBLIC_URL", HOOK_URL)
            .env("PRPULSE_GITHUB_API_URL", github.uri())
            .env("PRPULSE_RECONCILE_INTERVAL_MS", "200")
            .env("PRPULSE_LEADER_POLL_MS", "200")
            .env("PRPULSE_METRICS_ADDR", ANY_LOCAL_PORT)
            .env(name, path)
            .spawn()
            .expect("starting prpulse-sync-scheduler");
        let metrics = addresses
            .wait_for("metrics", &mut process)
            .await
            .expect("the scheduler exited before it served /metrics");
        self.scheduler_metrics = format!("http://{metrics}/metrics");
        let pool = self.stack.db.pool();
        tracking::track(
            &pool.get().await.unwrap(),
            &RepoFullName::parse("acme/api").unwrap(),
        )
        .await
        .unwrap();
        Scheduler {
            github,
            _process: process,
        }
    }

    async fn scrape(&self, url: &str) -> Option<Scrape> {
        let response = self
            .http
            .get(url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        assert_eq!(response.status(), 200, "GET {url}");
        Some(Scrape::parse(response.text().await.ok()?))
    }

    async fn scrape_ingest(&self) -> Scrape {
        self.scrape(&self.ingest_metrics)
            .await
            .expect("ingest serves /metrics once it is ready")
    }

    /// Scrapes the worker until `done` holds (its endpoint may still be
    /// starting, and it settles deliveries after ingest answered).
    async fn scrape_worker_until(&self, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
        self.scrape_until("worker", &self.worker_metrics, what, done)
            .await
    }

    /// Scrapes the scheduler until `done` holds (it starts, takes the lock,
    /// then acts every reconcile interval).
    async fn scrape_scheduler_until(&self, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
        self.scrape_until("scheduler", &self.scheduler_metrics, what, done)
            .await
    }

    async fn scrape_until(
        &self,
        binary: &str,
        url: &str,
        what: &str,
        done: impl Fn(&Scrape) -> bool,
    ) -> Scrape {
        eventually(
            &format!("the {binary}'s /metrics showing {what}"),
            Duration::from_secs(30),
            async || match self.scrape(url).await {
                Some(scrape) if done(&scrape) => Ok(scrape),
                Some(scrape) => Err(scrape.text),
                None => Err("(none: the endpoint did not answer)".to_owned()),
            },
        )
        .await
    }
}

/// What one stack receives: four deliveries projected (one pull request
/// reviewed and merged, another left open), one that can never be
/// (dead-lettered), a ping, an event prpulse ignores, a forged one.
async fn send_traffic(observed: &Observed) {
    let stack = &observed.stack;
    let ada = Person::user(1, "ada");
    let grace = Person::user(2, "grace");
    let at =
        |hours| Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap() + chrono::Duration::hours(hours);
    let pr = PullRequestBuilder::new(&Repo::new(10, "acme/api"), 1, &ada, at(0));
    let still_open = PullRequestBuilder::new(&Repo::new(11, "acme/web"), 2, &grace, at(1));
    for delivery in [
        pr.opened(),
        pr.review(101, &grace, "approved", at(1)),
        pr.merged(at(2), &grace),
        still_open.opened(),
    ] {
        assert_eq!(stack.deliver(&delivery).await.status(), 202);
    }
    // A worker that takes a delivery before its dead-letter publisher has
    // connected requeues it instead of dead-lettering it, so the one that
    // must be dead-lettered waits until the worker is well under way.
    stack.wait_for_deliveries(4).await;
    observed
        .scrape_worker_until("the first queue depths", |scrape| {
            scrape.has_series("prpulse_queue_messages")
        })
        .await;
    let wrong_shape = Delivery::new(
        "pull_request",
        &serde_json::json!({"action": "opened", "number": 2}),
    );
    assert_eq!(stack.deliver(&wrong_shape).await.status(), 202);
    let ping = Delivery::new("ping", &serde_json::json!({"zen": "Design for failure."}));
    assert_eq!(stack.deliver(&ping).await.status(), 200);
    let push = Delivery::new("push", &serde_json::json!({"ref": "refs/heads/main"}));
    assert_eq!(stack.deliver(&push).await.status(), 204);
    let forged = pr.closed(at(3));
    let answer = stack.deliver_signed(&forged, b"not the secret", None).await;
    assert_eq!(answer.status(), 401);
}

/// Starts an observed stack, sends the traffic, and returns both scrapes
/// once the worker has settled all five enqueued deliveries.
async fn observe_traffic() -> (Observed, Scrape, Scrape) {
    let observed = Observed::start().await;
    send_traffic(&observed).await;
    let ingest = observed.scrape_ingest().await;
    let worker = observed
        .scrape_worker_until("five settled deliveries", |scrape| {
            scrape.sum("prpulse_worker_deliveries_total", &[]) >= 5.0
                && scrape.sum("prpulse_worker_processing_duration_seconds_count", &[]) >= 5.0
        })
        .await;
    (observed, ingest, worker)
}

#[tokio::test]
async fn ingest_metrics_count_each_answer_by_event_status_and_reason() {
    let (_observed, ingest, _) = observe_traffic().await;
    let requests = |event, status| {
        ingest.value(
            "prpulse_ingest_requests_total",
            &[("event", event), ("status", status)],
        )
    };
    assert_eq!(
        requests("pull_request", "202"),
        Some(4.0),
        "{}",
        ingest.text
    );
    assert_eq!(requests("pull_request_review", "202"), Some(1.0));
    assert_eq!(requests("ping", "200"), Some(1.0));
    assert_eq!(requests("other", "204"), Some(1.0));
    assert_eq!(requests("pull_request", "401"), Some(1.0));
    assert_eq!(ingest.sum("prpulse_ingest_requests_total", &[]), 8.0);
    assert_eq!(
        ingest.value("prpulse_ingest_rejections_total", &[("reason", "mismatch")]),
        Some(1.0)
    );
    assert_eq!(ingest.sum("prpulse_ingest_rejections_total", &[]), 1.0);
    let answered = |status| {
        ingest.value(
            "prpulse_ingest_request_duration_seconds_count",
            &[("status", status)],
        )
    };
    assert_eq!(answered("202"), Some(5.0));
    assert_eq!(answered("401"), Some(1.0));
    // Only what went to the broker was confirmed and measured.
    assert_eq!(
        ingest.value("prpulse_ingest_publish_duration_seconds_count", &[]),
        Some(5.0)
    );
    assert!(ingest.value("prpulse_ingest_publish_duration_seconds_sum", &[]) > Some(0.0));
    assert_eq!(
        ingest.value("prpulse_ingest_payload_bytes_count", &[]),
        Some(5.0)
    );
    assert_eq!(
        ingest.value(
            "prpulse_build_info",
            &[("binary", "ingest"), ("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn worker_metrics_count_outcomes_and_the_dead_letter_queue_fills() {
    let (observed, _, worker) = observe_traffic().await;
    let outcome =
        |outcome| worker.value("prpulse_worker_deliveries_total", &[("outcome", outcome)]);
    assert_eq!(outcome("projected"), Some(4.0), "{}", worker.text);
    assert_eq!(outcome("dead_lettered"), Some(1.0));
    assert_eq!(worker.sum("prpulse_worker_deliveries_total", &[]), 5.0);
    assert_eq!(
        worker.value("prpulse_worker_processing_duration_seconds_count", &[]),
        Some(5.0)
    );
    // Lag is measured for what was committed, not for the dead letter.
    assert_eq!(
        worker.value("prpulse_worker_delivery_lag_seconds_count", &[]),
        Some(4.0)
    );
    assert_eq!(worker.value("prpulse_worker_in_flight", &[]), Some(0.0));
    assert_eq!(
        worker.value("prpulse_worker_transient_errors_total", &[]),
        Some(0.0)
    );
    assert_eq!(
        worker.value("prpulse_build_info", &[("binary", "worker")]),
        Some(1.0)
    );
    assert_eq!(observed.stack.db.deliveries().await, 4);

    // The depth comes from the broker, on the next poll after the dead
    // letter was confirmed; the work queue is empty by then.
    let depths = observed
        .scrape_worker_until("the dead letter in prpulse_queue_messages", |scrape| {
            scrape.value("prpulse_queue_messages", &[("queue", "dead")]) >= Some(1.0)
                && scrape.value("prpulse_queue_messages", &[("queue", "work")]) == Some(0.0)
        })
        .await;
    assert_eq!(
        depths.value("prpulse_queue_messages", &[("queue", "dead")]),
        Some(1.0)
    );
    assert_eq!(
        depths
            .families
            .get("prpulse_queue_messages")
            .map(String::as_str),
        Some("gauge")
    );
}

/// Whether the scheduler acts, has reconciled `acme/api` (installed its
/// hook) and finished that run: the webhook counts are set last, after the
/// rate limit GitHub reported, so every gauge a run sets is exported.
fn reconciled(scrape: &Scrape) -> bool {
    scrape.value("prpulse_scheduler_is_leader", &[]) == Some(1.0)
        && scrape.value("prpulse_scheduler_webhooks", &[("state", "tracked")]) == Some(1.0)
        && scrape.value(
            "prpulse_scheduler_job_runs_total",
            &[("task", "reconcile_hooks"), ("outcome", "ok")],
        ) >= Some(1.0)
        && scrape.has_series("prpulse_scheduler_github_rate_limit_remaining")
}

#[tokio::test]
async fn scheduler_metrics_show_the_acting_replica_and_count_reconciliation() {
    let mut observed = Observed::start().await;
    let scheduler = observed.start_scheduler().await;
    let scrape = observed
        .scrape_scheduler_until("acme/api reconciled", reconciled)
        .await;
    assert_eq!(
        scheduler.github.hooks("acme/api").len(),
        1,
        "the reconciled repository has its hook"
    );
    let runs = |outcome| {
        scrape.value(
            "prpulse_scheduler_job_runs_total",
            &[("task", "reconcile_hooks"), ("outcome", outcome)],
        )
    };
    assert!(runs("ok") >= Some(1.0), "{}", scrape.text);
    assert_eq!(runs("error").unwrap_or(0.0), 0.0, "{}", scrape.text);
    let last_success = scrape
        .value(
            "prpulse_scheduler_last_success_timestamp_seconds",
            &[("task", "reconcile_hooks")],
        )
        .expect("a last success for reconcile_hooks");
    let now = Utc::now().timestamp() as f64;
    assert!(
        (now - 60.0..=now + 1.0).contains(&last_success),
        "last success {last_success}, now {now}"
    );
    assert_eq!(
        scrape.value("prpulse_scheduler_webhooks", &[("state", "error")]),
        Some(0.0)
    );
    assert_eq!(
        scrape.value(
            "prpulse_scheduler_github_rate_limit_remaining",
            &[("account", "acme")]
        ),
        Some(RATE_LIMIT_REMAINING as f64),
        "{}",
        scrape.text
    );
    assert_eq!(
        scrape.value("prpulse_scheduler_unrecovered_deliveries", &[]),
        Some(0.0)
    );
    for (name, kind) in [
        ("prpulse_scheduler_is_leader", "gauge"),
        ("prpulse_scheduler_job_runs_total", "counter"),
        ("prpulse_scheduler_redeliveries_requested_total", "counter"),
    ] {
        assert_eq!(
            scrape.families.get(name).map(String::as_str),
            Some(kind),
            "{name}"
        );
    }
}

#[tokio::test]
async fn dashboards_and_alerts_query_only_metrics_that_exist() {
    let (mut observed, ingest, _) = observe_traffic().await;
    // The queue depth appears after the poller's first round.
    let worker = observed
        .scrape_worker_until("queue depths", |scrape| {
            scrape.has_series("prpulse_queue_messages")
        })
        .await;
    // The scheduler's gauges appear once it has acted.
    let _scheduler = observed.start_scheduler().await;
    let scheduler = observed
        .scrape_scheduler_until("acme/api reconciled", reconciled)
        .await;
    let scrapes = [&ingest, &worker, &scheduler];
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    let dashboards = files_under(&deploy.join("grafana"), "json");
    assert!(
        dashboards.len() >= 2,
        "expected the pipeline and pull-request dashboards under deploy/grafana, found {dashboards:?}"
    );
    // (file, whether the text is a query, the text)
    let mut texts = Vec::new();
    for file in &dashboards {
        let json: serde_json::Value = serde_json::from_str(&read(file))
            .unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        let mut strings = Vec::new();
        strings_in(&json, false, &mut strings);
        texts.extend(strings.into_iter().map(|(query, text)| (file, query, text)));
    }
    let alerts = deploy.join("prometheus/alerts.yml");
    texts.push((&alerts, true, read(&alerts)));

    let exists = |name: &str| scrapes.iter().any(|scrape| scrape.has_series(name));
    let is_family = |name: &str| {
        scrapes
            .iter()
            .any(|scrape| scrape.families.contains_key(name))
    };
    let mut missing = Vec::new();
    let mut checked = BTreeSet::new();
    for (file, query, text) in &texts {
        for name in metric_names(text) {
            // A description may name a histogram by its family; a query
            // must name series, or it silently selects nothing.
            if !(exists(&name) || (!query && is_family(&name))) {
                missing.push(format!("{name} (in {})", file.display()));
            }
            checked.insert(name);
        }
    }
    assert!(
        missing.is_empty(),
        "named but not exported (a histogram is queried by _bucket, _sum or _count):\n  {}",
        missing.join("\n  ")
    );
    // Not vacuous: the files do name the metrics, histograms included.
    for expected in [
        "prpulse_ingest_requests_total",
        "prpulse_ingest_request_duration_seconds_bucket",
        "prpulse_ingest_rejections_total",
        "prpulse_worker_deliveries_total",
        "prpulse_worker_delivery_lag_seconds_bucket",
        "prpulse_queue_messages",
        "prpulse_scheduler_is_leader",
        "prpulse_scheduler_job_runs_total",
        "prpulse_scheduler_last_success_timestamp_seconds",
        "prpulse_scheduler_github_rate_limit_remaining",
        "prpulse_scheduler_webhooks",
        "prpulse_scheduler_unrecovered_deliveries",
        "prpulse_scheduler_oldest_unrecovered_delivery_age_seconds",
    ] {
        assert!(
            checked.contains(expected),
            "no dashboard or alert uses {expected}"
        );
    }
}

/// The window the dashboard queries are run over; the traffic is inside it.
const FROM: &str = "2026-01-01T00:00:00Z";
const TO: &str = "2027-01-01T00:00:00Z";

#[tokio::test]
async fn the_pull_request_dashboard_queries_run_on_pr_metrics() {
    let (observed, _, _) = observe_traffic().await;
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/grafana/dashboards/prpulse-pull-requests.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut queries: Vec<(String, String)> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|variable| variable["type"] == "query")
        .map(|variable| {
            (
                format!("${}", text(&variable["name"])),
                text(&variable["query"]),
            )
        })
        .collect();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            queries.push((text(&panel["title"]), text(&target["rawSql"])));
        }
    }
    assert!(queries.len() >= 10, "{queries:?}");

    // As Grafana reads: a member of prpulse_reporting (migration V11).
    let client = observed.stack.db.client().await;
    // Business hours from 09:30: the merged pull request (09:00 to 11:00
    // UTC on a Monday) worked 1.5 h of its 2 h, half an hour of its hour
    // to the first review.
    // ada (member 1) is in team core, as the scheduler's team sync would
    // have it; grace is in no team.
    client
        .batch_execute(
            "INSERT INTO working_calendars (team_slug, time_zone, working_days, day_start, day_end)
             VALUES (NULL, 'UTC', '{1,2,3,4,5}', '09:30', '17:00');
             INSERT INTO github_teams (github_id, organization, slug, name)
             VALUES (100, 'acme', 'core', 'Core');
             INSERT INTO github_team_members (team_id, member_id) VALUES (100, 1);",
        )
        .await
        .unwrap();
    // The data is in; now read as Grafana does.
    client
        .batch_execute("SET ROLE prpulse_reporting")
        .await
        .unwrap();
    let run_all = |selection: Selection| {
        let client = &client;
        let queries = &queries;
        async move {
            let mut results = BTreeMap::new();
            for (title, raw) in queries {
                let sql = expand_grafana_macros(raw, &selection);
                let rows = client
                    .query(&sql, &[])
                    .await
                    .unwrap_or_else(|error| panic!("{title} ({selection:?}): {error:?}\n{sql}"));
                results.insert(title.clone(), rows);
            }
            results
        }
    };
    let results = run_all(Selection::ALL).await;
    // The merged pull request took 2 h from opening to merge, and 1 h to
    // its first review; the other one is still open.
    let cycle = &results["Cycle time by week"];
    assert_eq!(cycle.len(), 1);
    assert_eq!(cycle[0].get::<_, f64>("p90"), 7200.0);
    assert_eq!(
        results["Review time by week"][0].get::<_, f64>("p50"),
        3600.0
    );
    let by_repository = &results["By repository"];
    assert_eq!(by_repository.len(), 1);
    assert_eq!(by_repository[0].get::<_, &str>("repository"), "acme/api");
    assert_eq!(by_repository[0].get::<_, i64>("merged"), 1);
    let open = &results["Slowest open pull requests"];
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].get::<_, &str>("repository"), "acme/web");
    assert_eq!(results["Open now"][0].get::<_, i64>("open"), 1);
    assert_eq!(results["$repository"].len(), 2);
    assert_eq!(
        results["Pickup time by week"][0].get::<_, f64>("p75"),
        3600.0
    );
    assert_eq!(results["$author"].len(), 2);
    assert_eq!(results["$team"].len(), 1);
    let by_team = &results["By team"];
    assert_eq!(by_team.len(), 1);
    assert_eq!(by_team[0].get::<_, &str>("team"), "core");
    assert_eq!(by_team[0].get::<_, i64>("merged"), 1);
    assert_eq!(by_team[0].get::<_, f64>("cycle p75"), 7200.0);

    let core = run_all(Selection {
        team: "'core'",
        ..Selection::ALL
    })
    .await;
    assert_eq!(core["Merged"][0].get::<_, i64>("merged"), 1);
    assert_eq!(
        core["Open now"][0].get::<_, i64>("open"),
        0,
        "grace's is in no team"
    );

    let business = run_all(Selection {
        author: "'ada'",
        hours: "business",
        ..Selection::ALL
    })
    .await;
    assert_eq!(
        business["Cycle time by week"][0].get::<_, f64>("p90"),
        5400.0
    );
    assert_eq!(
        business["Review time by week"][0].get::<_, f64>("p50"),
        1800.0
    );
    assert_eq!(
        business["Pickup time by week"][0].get::<_, f64>("p50"),
        1800.0
    );
    assert_eq!(
        business["By repository"][0].get::<_, f64>("pickup p75"),
        1800.0
    );
    assert_eq!(business["Merged"][0].get::<_, i64>("merged"), 1);
    assert!(business["Slowest open pull requests"].is_empty(), "grace's");

    let other_team = run_all(Selection {
        team: "'core','web'",
        author: "'grace'",
        ..Selection::ALL
    })
    .await;
    assert_eq!(other_team["Merged"][0].get::<_, i64>("merged"), 0);
    assert_eq!(other_team["Open now"][0].get::<_, i64>("open"), 0);
}

/// The values of the dashboard's variables a run substitutes, as Grafana
/// writes them into SQL: quoted lists, and `'__all'` (the variables'
/// custom all value) for All.
#[derive(Clone, Copy, Debug)]
struct Selection {
    team: &'static str,
    author: &'static str,
    hours: &'static str,
}

impl Selection {
    /// What the dashboard opens with: everything, in wall-clock hours.
    const ALL: Self = Self {
        team: "'__all'",
        author: "'__all'",
        hours: "wall",
    };
}

fn text(value: &serde_json::Value) -> String {
    value.as_str().expect("a string").to_owned()
}

/// What Grafana makes of the macros and variables the dashboard uses: the
/// time range, every repository selected, bots excluded, teams, authors
/// and hours as selected.
fn expand_grafana_macros(raw: &str, selection: &Selection) -> String {
    let mut sql = raw
        .replace("$repository", "'acme/api','acme/web'")
        .replace("$bots", "exclude")
        .replace("$team", selection.team)
        .replace("$author", selection.author)
        .replace("$hours", selection.hours);
    while let Some(start) = sql.find("$__timeFilter(") {
        let column_at = start + "$__timeFilter(".len();
        let end = column_at + sql[column_at..].find(')').expect("closing parenthesis");
        let column = sql[column_at..end].to_owned();
        sql.replace_range(
            start..=end,
            &format!("{column} BETWEEN '{FROM}' AND '{TO}'"),
        );
    }
    assert!(
        !sql.contains('$'),
        "a Grafana macro or variable this test does not expand:\n{sql}"
    );
    sql
}

/// Every `prpulse_*` identifier in a dashboard or rule file.
fn metric_names(text: &str) -> BTreeSet<String> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut names = BTreeSet::new();
    for (start, _) in text.match_indices("prpulse_") {
        if text[..start].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let rest = &text[start..];
        let end = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
        names.insert(rest[..end].to_owned());
    }
    names
}

/// Every string in a dashboard, and whether it is a PromQL query (`expr`).
fn strings_in(value: &serde_json::Value, is_query: bool, out: &mut Vec<(bool, String)>) {
    match value {
        serde_json::Value::String(text) => out.push((is_query, text.clone())),
        serde_json::Value::Array(items) => {
            for item in items {
                strings_in(item, is_query, out);
            }
        }
        serde_json::Value::Object(fields) => {
            for (key, field) in fields {
                strings_in(field, key == "expr", out);
            }
        }
        _ => {}
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

fn files_under(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path, extension));
        } else if path.extension().is_some_and(|e| e == extension) {
            found.push(path);
        }
    }
    found.sort();
    found
}

#[test]
fn metric_names_are_read_whole_and_only_as_identifiers() {
    let names = metric_names(
        r#"sum(rate(prpulse_a_total{x="y"}[5m])) / xprpulse_no + histogram_quantile(0.9, prpulse_b_bucket)"#,
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["prpulse_a_total", "prpulse_b_bucket"]
    );
}

#[test]
fn a_histogram_is_found_by_its_series_not_its_family_name() {
    let scrape = Scrape::parse(
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 0.5\nh_count 2\n# TYPE c counter\nc{k=\"v\"} 3\n"
            .to_owned(),
    );
    assert!(scrape.has_series("h_count") && scrape.has_series("h_bucket"));
    assert!(!scrape.has_series("h"), "the bare family selects nothing");
    assert!(!scrape.has_series("c_count"));
    assert_eq!(scrape.value("c", &[("k", "v")]), Some(3.0));
    assert_eq!(scrape.families["h"], "histogram");
}

async fn status(url: &str) -> Option<u16> {
    let response = prpulse_e2e::http_client()
        .build()
        .unwrap()
        .get(url)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    Some(response.status().as_u16())
}

/// Waits until `url` answers `expected` (20 s at most).
async fn wait_for_status(url: &str, expected: u16) {
    eventually(
        &format!("{url} answering {expected}"),
        Duration::from_secs(20),
        async || {
            let last = status(url).await;
            if last == Some(expected) {
                Ok(())
            } else {
                Err(last)
            }
        },
    )
    .await;
}

/// A worker of `stack` serving `/metrics` on a port it picks, and the
/// `http://<addr>` it bound.
async fn worker_serving(stack: &Stack, env: &[(&str, &str)]) -> (tokio::process::Child, String) {
    let addresses = AddressFile::new("worker");
    let (name, path) = addresses.env();
    let mut worker = stack
        .worker_command()
        .env("PRPULSE_METRICS_ADDR", ANY_LOCAL_PORT)
        .env(name, path)
        .envs(env.iter().copied())
        .spawn()
        .unwrap();
    let addr = addresses
        .wait_for("metrics", &mut worker)
        .await
        .expect("the worker exited before it served /metrics");
    (worker, format!("http://{addr}"))
}

#[tokio::test]
async fn the_worker_is_live_at_once_and_ready_while_it_consumes() {
    let stack = Stack::start_with(StackOptions::ingest_only()).await;
    // Its broker is away: the process answers, but consumes nothing.
    let (mut away, base) = worker_serving(
        &stack,
        &[("PRPULSE_AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f")],
    )
    .await;
    wait_for_status(&format!("{base}/livez"), 200).await;
    assert_eq!(status(&format!("{base}/readyz")).await, Some(503));
    let _ = away.start_kill();

    let (mut consuming, base) = worker_serving(&stack, &[]).await;
    wait_for_status(&format!("{base}/readyz"), 200).await;
    assert_eq!(status(&format!("{base}/livez")).await, Some(200));
    let _ = consuming.start_kill();
    let _ = consuming.wait().await;
    let _ = away.wait().await;
}

#[tokio::test]
async fn grafanas_reporting_role_reads_pr_metrics_and_nothing_else() {
    let db = prpulse_e2e::TestDb::create().await;
    let client = db.client().await;
    client
        .batch_execute("SET ROLE prpulse_reporting")
        .await
        .unwrap();
    client
        .query("SELECT * FROM pr_metrics", &[])
        .await
        .expect("the reporting role reads pr_metrics");
    for sql in [
        "SELECT payload FROM deliveries",
        "SELECT payload FROM delivery_payloads",
        "SELECT * FROM pull_requests",
        "SELECT * FROM webhook_secrets",
        "SELECT * FROM integrations",
        "INSERT INTO repositories DEFAULT VALUES",
        "DELETE FROM pull_requests",
    ] {
        let error = client
            .batch_execute(sql)
            .await
            .expect_err(&format!("the reporting role may not: {sql}"));
        assert_eq!(
            error.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {error:?}"
        );
    }
}

/// The DORA dashboard's queries, as the reporting role runs them, over a
/// small history worked out by hand (2026-03, UTC): deploy 1 (a0) Sun 1
/// 12:00; #1 (first commit Mon 2 08:00) merged as a1 at 10:00 and shipped
/// by deploy 2 at 11:00; deploy 3 (a1) failed Tue 3 10:00, deploy 4
/// succeeded at 11:00; incident issue Wed 4 09:00 → 11:00.
#[tokio::test]
async fn the_dora_dashboard_queries_run_as_the_reporting_role() {
    use prpulse_e2e::dora_payloads::{DeploymentBuilder, IssueBuilder, merged_with_commit};

    let db = prpulse_e2e::TestDb::create().await;
    let processor = prpulse_e2e::direct::processor(&db);
    let at = |day, hour| Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap();
    let repo = Repo::new(10, "acme/api");
    let ada = Person::user(1, "ada");
    let pr = PullRequestBuilder::new(&repo, 1, &ada, at(2, 9));
    let mut deliveries = vec![pr.opened(), merged_with_commit(&pr, at(2, 10), &ada, "a1")];
    for (id, sha, state, finished) in [
        (1, "a0", "success", at(1, 12)),
        (2, "a1", "success", at(2, 11)),
        (3, "a1", "failure", at(3, 10)),
        (4, "a1", "success", at(3, 11)),
    ] {
        let deploy = DeploymentBuilder::new(&repo, id, sha, "production", finished);
        deliveries.push(deploy.status(id * 10, state, finished));
    }
    let incident = IssueBuilder::new(&repo, 7, "Checkout is down", at(4, 9));
    deliveries.push(incident.opened(&["incident"]));
    deliveries.push(incident.closed(&["incident"], at(4, 11)));
    for delivery in &deliveries {
        prpulse_e2e::direct::apply(&processor, delivery).await;
    }
    let pool = db.pool();
    prpulse_store::dora::links::record_first_commit(
        &pool.get().await.unwrap(),
        10,
        1,
        Some(at(2, 8)),
    )
    .await
    .unwrap();
    let client = db.client().await;

    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/grafana/dashboards/prpulse-dora.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut queries: Vec<(String, String)> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|variable| variable["type"] == "query")
        .map(|variable| {
            (
                format!("${}", text(&variable["name"])),
                text(&variable["query"]),
            )
        })
        .collect();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            queries.push((text(&panel["title"]), text(&target["rawSql"])));
        }
    }
    client
        .batch_execute("SET ROLE prpulse_reporting")
        .await
        .unwrap();
    let mut results = BTreeMap::new();
    for (title, raw) in &queries {
        let sql = expand_grafana_macros(raw, &Selection::ALL);
        let rows = client
            .query(&sql, &[])
            .await
            .unwrap_or_else(|error| panic!("{title}: {error:?}\n{sql}"));
        results.insert(title.clone(), rows);
    }
    assert_eq!(results["$repository"].len(), 1);
    assert_eq!(results["Deploys"][0].get::<_, i64>("deploys"), 3);
    assert_eq!(results["Deploy days"][0].get::<_, i64>("deploy days"), 3);
    // Mon 08:00 → deployed 11:00.
    assert_eq!(
        results["Lead time for changes (p50)"][0].get::<_, f64>("p50"),
        10_800.0
    );
    // Deploy 3 failed itself; the issue followed deploy 4: 2 of 4.
    assert_eq!(results["Change failure rate"][0].get::<_, f64>("rate"), 0.5);
    // 1 h (deploy 3 → 4) and 2 h (the issue).
    assert_eq!(
        results["Failed deployment recovery time (p50)"][0].get::<_, f64>("p50"),
        5400.0
    );
    assert_eq!(results["Open incidents"][0].get::<_, i64>("open"), 0);
    assert_eq!(
        results["Deploys by week"].len(),
        2,
        "the weeks of Feb 23 and Mar 2"
    );
    assert_eq!(results["Recent deployments"].len(), 4);
    assert_eq!(results["Incidents"].len(), 2);
}
