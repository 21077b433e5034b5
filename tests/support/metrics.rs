//! Reading a binary's `/metrics`, for tests that wait on a counter
//! instead of sleeping to see that nothing (more) happened.

use std::time::Duration;

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

/// The value of one series in a scrape, its name and labels written as
/// they are exported (`prpulse_worker_deliveries_total{outcome="duplicate"}`).
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// `prpulse_worker_deliveries_total{outcome="<outcome>"}` at the worker
/// whose `/metrics` is `url`; 0 before its first.
pub async fn worker_settled(url: &str, outcome: &str) -> f64 {
    let series = format!(r#"prpulse_worker_deliveries_total{{outcome="{outcome}"}}"#);
    sample(&scrape(url).await, &series).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_is_found_by_its_exact_name_and_labels() {
        let text =
            "# TYPE t counter\nt{outcome=\"duplicate\"} 2\nt{outcome=\"projected\"} 5\nt_total 1\n";
        assert_eq!(sample(text, r#"t{outcome="projected"}"#), Some(5.0));
        assert_eq!(sample(text, "t"), None);
        assert_eq!(sample(text, "t_total"), Some(1.0));
    }
}
