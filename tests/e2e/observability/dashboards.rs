//! The dashboards and alerts in `deploy/` name only metrics the binaries
//! export, read whole and as identifiers.

use super::*;

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
