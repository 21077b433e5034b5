//! Reading a binary's `/metrics`, for tests that wait on a counter
//! instead of sleeping to see that nothing (more) happened. The text is
//! parsed by `prometheus-parse`; [`Scrape`] flattens what it gives back
//! into the series a Prometheus query would see.

use std::{collections::BTreeMap, time::Duration};

use prometheus_parse::Value;

/// One scrape of `url` (a `/metrics` endpoint) as text; empty if the
/// endpoint did not answer.
pub async fn scrape(url: &str) -> String {
    let answer = crate::http_client()
        .build()
        .unwrap()
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    match answer {
        Ok(answer) => answer.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// A parsed scrape: every series (a histogram's as `_bucket` with `le`,
/// `_sum` and `_count`, as exported) and the type of each family.
#[derive(Clone, Debug)]
pub struct Scrape {
    pub text: String,
    /// Family name → `counter`, `gauge`, `histogram`, `summary` or
    /// `untyped`.
    pub families: BTreeMap<String, String>,
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
}

impl Scrape {
    pub fn parse(text: String) -> Self {
        let parsed = prometheus_parse::Scrape::parse(text.lines().map(|line| Ok(line.to_owned())))
            .expect("reading lines of a string cannot fail");
        // prometheus-parse gives a histogram's `_sum` and `_count` untyped,
        // and before its buckets: know the histograms first.
        let histograms: std::collections::BTreeSet<String> = parsed
            .samples
            .iter()
            .filter(|sample| matches!(sample.value, Value::Histogram(_)))
            .map(|sample| sample.metric.clone())
            .collect();
        let mut families = BTreeMap::new();
        let mut samples = Vec::new();
        for sample in parsed.samples {
            let labels: BTreeMap<String, String> = sample
                .labels
                .iter()
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            let mut family = |kind: &str| {
                families
                    .entry(sample.metric.clone())
                    .or_insert_with(|| kind.to_owned());
            };
            match sample.value {
                Value::Counter(value) => {
                    family("counter");
                    samples.push((sample.metric, labels, value));
                }
                Value::Gauge(value) => {
                    family("gauge");
                    samples.push((sample.metric, labels, value));
                }
                Value::Untyped(value) => {
                    // A histogram's `_sum` and `_count` come back untyped.
                    let of_histogram = ["_sum", "_count"].iter().any(|suffix| {
                        sample
                            .metric
                            .strip_suffix(suffix)
                            .is_some_and(|name| histograms.contains(name))
                    });
                    if !of_histogram {
                        families
                            .entry(sample.metric.clone())
                            .or_insert_with(|| "untyped".to_owned());
                    }
                    samples.push((sample.metric, labels, value));
                }
                Value::Histogram(buckets) => {
                    family("histogram");
                    for bucket in buckets {
                        let mut labels = labels.clone();
                        labels.insert("le".to_owned(), le(bucket.less_than));
                        samples.push((format!("{}_bucket", sample.metric), labels, bucket.count));
                    }
                }
                Value::Summary(quantiles) => {
                    family("summary");
                    for quantile in quantiles {
                        let mut labels = labels.clone();
                        labels.insert("quantile".to_owned(), quantile.quantile.to_string());
                        samples.push((sample.metric.clone(), labels, quantile.count));
                    }
                }
            }
        }
        Self {
            text,
            families,
            samples,
        }
    }

    /// The sum of the samples of `name` whose labels include `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).sum()
    }

    /// The value of the one sample of `name` with `labels`, if there is one.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
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
    pub fn has_series(&self, name: &str) -> bool {
        self.samples.iter().any(|(series, _, _)| series == name)
    }
}

/// A bucket bound as Prometheus writes it.
fn le(bound: f64) -> String {
    if bound == f64::INFINITY {
        "+Inf".to_owned()
    } else {
        bound.to_string()
    }
}

/// The value of the one series `name` with `labels` in a scrape's text.
pub fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    Scrape::parse(metrics.to_owned()).value(name, labels)
}

/// `prpulse_worker_deliveries_total{outcome="<outcome>"}` at the worker
/// whose `/metrics` is `url`; 0 before its first.
pub async fn worker_settled(url: &str, outcome: &str) -> f64 {
    sample(
        &scrape(url).await,
        "prpulse_worker_deliveries_total",
        &[("outcome", outcome)],
    )
    .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_is_found_by_its_name_and_labels() {
        let text = "# TYPE t counter\nt{outcome=\"duplicate\"} 2\nt{outcome=\"projected\"} 5\n\
                    # TYPE u counter\nu 1\n";
        assert_eq!(sample(text, "t", &[("outcome", "projected")]), Some(5.0));
        assert_eq!(sample(text, "t", &[("outcome", "acked")]), None);
        assert_eq!(sample(text, "u", &[]), Some(1.0));
        assert_eq!(Scrape::parse(text.to_owned()).sum("t", &[]), 7.0);
    }

    #[test]
    fn a_histogram_is_its_buckets_sum_and_count() {
        let scrape = Scrape::parse(
            "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.7\nh_count 2\n"
                .to_owned(),
        );
        assert_eq!(scrape.value("h_bucket", &[("le", "+Inf")]), Some(2.0));
        assert_eq!(scrape.value("h_bucket", &[("le", "0.5")]), Some(1.0));
        assert_eq!(scrape.value("h_count", &[]), Some(2.0));
        assert!(!scrape.has_series("h"));
        assert_eq!(scrape.families["h"], "histogram");
        assert!(!scrape.families.contains_key("h_count"));
    }
}
