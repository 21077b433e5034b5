//! Every metric the scheduler exports, declared once.

use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use crate::round::Job;

#[derive(Clone)]
pub struct SchedulerMetrics {
    /// `prpulse_scheduler_job_runs_total{task, outcome}`: `task` is
    /// `reconcile_hooks`, `redeliver`, `backfill`, `team_sync`,
    /// `retention` or `meta`; `outcome` is `ok` or `error`.
    pub job_runs: IntCounterVec,
    /// `prpulse_scheduler_last_success_timestamp_seconds{task}`. Not `job`:
    /// Prometheus would rename it `exported_job` beside its own.
    pub last_success: IntGaugeVec,
    /// `prpulse_scheduler_is_leader`: 1 on the replica that acts.
    pub is_leader: IntGauge,
    /// `prpulse_scheduler_github_rate_limit_remaining{account}`.
    pub rate_limit_remaining: IntGaugeVec,
    /// `prpulse_scheduler_webhooks{state}`: tracked repositories by state
    /// (`pending`, `tracked`, `untracking`, `error`).
    pub webhooks: IntGaugeVec,
    /// `prpulse_scheduler_redeliveries_requested_total`.
    pub redeliveries: IntCounter,
    /// `prpulse_scheduler_unrecovered_deliveries`: failed deliveries of
    /// consumed events GitHub still holds that prpulse has not stored.
    pub unrecovered: IntGauge,
    /// `prpulse_scheduler_oldest_unrecovered_delivery_age_seconds`: alert
    /// well before it reaches GitHub's 3 days.
    pub oldest_unrecovered_age: IntGauge,
}

impl SchedulerMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = Self {
            job_runs: IntCounterVec::new(
                Opts::new(
                    "prpulse_scheduler_job_runs_total",
                    "Scheduler job runs, by job and outcome.",
                ),
                &["task", "outcome"],
            )?,
            last_success: IntGaugeVec::new(
                Opts::new(
                    "prpulse_scheduler_last_success_timestamp_seconds",
                    "When each job last succeeded (Unix seconds).",
                ),
                &["task"],
            )?,
            is_leader: IntGauge::new(
                "prpulse_scheduler_is_leader",
                "1 on the scheduler replica that holds the lock and acts.",
            )?,
            rate_limit_remaining: IntGaugeVec::new(
                Opts::new(
                    "prpulse_scheduler_github_rate_limit_remaining",
                    "GitHub API requests left in the current window, by account.",
                ),
                &["account"],
            )?,
            webhooks: IntGaugeVec::new(
                Opts::new(
                    "prpulse_scheduler_webhooks",
                    "Tracked repositories by webhook state.",
                ),
                &["state"],
            )?,
            redeliveries: IntCounter::new(
                "prpulse_scheduler_redeliveries_requested_total",
                "Redeliveries of failed deliveries asked of GitHub.",
            )?,
            unrecovered: IntGauge::new(
                "prpulse_scheduler_unrecovered_deliveries",
                "Failed deliveries of consumed events, within GitHub's 3 days, not yet stored.",
            )?,
            oldest_unrecovered_age: IntGauge::new(
                "prpulse_scheduler_oldest_unrecovered_delivery_age_seconds",
                "Age of the oldest unrecovered failed delivery (0 when none).",
            )?,
        };
        registry.register(Box::new(metrics.redeliveries.clone()))?;
        registry.register(Box::new(metrics.unrecovered.clone()))?;
        registry.register(Box::new(metrics.oldest_unrecovered_age.clone()))?;
        registry.register(Box::new(metrics.job_runs.clone()))?;
        registry.register(Box::new(metrics.last_success.clone()))?;
        registry.register(Box::new(metrics.is_leader.clone()))?;
        registry.register(Box::new(metrics.rate_limit_remaining.clone()))?;
        registry.register(Box::new(metrics.webhooks.clone()))?;
        Ok(metrics)
    }

    /// Counts one run of `job`, and when it last succeeded.
    pub fn record(&self, job: Job, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.job_runs
            .with_label_values(&[job.label(), outcome])
            .inc();
        if ok {
            self.last_success
                .with_label_values(&[job.label()])
                .set(chrono::Utc::now().timestamp());
        }
    }

    /// A replica that stops acting drops the gauges only the acting one
    /// keeps current, so no stale value outlives its leadership.
    pub fn stand_down(&self) {
        self.is_leader.set(0);
        self.rate_limit_remaining.reset();
        self.webhooks.reset();
        self.unrecovered.set(0);
        self.oldest_unrecovered_age.set(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standing_down_leaves_no_acting_gauge_behind() {
        let registry = Registry::new();
        let metrics = SchedulerMetrics::register(&registry).unwrap();
        metrics.is_leader.set(1);
        metrics.webhooks.with_label_values(&["tracked"]).set(3);
        metrics
            .rate_limit_remaining
            .with_label_values(&["acme"])
            .set(4_000);
        metrics.unrecovered.set(2);
        metrics.oldest_unrecovered_age.set(600);
        metrics
            .last_success
            .with_label_values(&["retention"])
            .set(1);

        metrics.stand_down();
        let value = |name: &str| -> Vec<i64> {
            registry
                .gather()
                .iter()
                .filter(|family| family.name() == name)
                .flat_map(|family| {
                    family
                        .get_metric()
                        .iter()
                        .map(|m| m.get_gauge().get_value() as i64)
                })
                .collect()
        };
        assert_eq!(value("prpulse_scheduler_is_leader"), [0]);
        assert!(value("prpulse_scheduler_webhooks").is_empty());
        assert!(value("prpulse_scheduler_github_rate_limit_remaining").is_empty());
        assert_eq!(value("prpulse_scheduler_unrecovered_deliveries"), [0]);
        assert_eq!(
            value("prpulse_scheduler_oldest_unrecovered_delivery_age_seconds"),
            [0]
        );
        // When each job last succeeded stays true after leadership moves.
        assert_eq!(
            value("prpulse_scheduler_last_success_timestamp_seconds"),
            [1]
        );
    }
}
