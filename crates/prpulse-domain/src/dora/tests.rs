use chrono::{TimeZone, Utc};

use super::*;

fn at(day: u32, hour: u32) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
}

fn march_2_to_15() -> Range {
    Range {
        from: at(2, 0),
        until: at(16, 0),
    }
}

#[test]
fn the_2023_bands_and_their_edges() {
    assert_eq!(Band::of_deploy_frequency(14, 14.0), Some(Band::Elite));
    assert_eq!(Band::of_deploy_frequency(2, 14.0), Some(Band::High));
    assert_eq!(Band::of_deploy_frequency(1, 14.0), Some(Band::Medium));
    assert_eq!(Band::of_deploy_frequency(0, 14.0), Some(Band::Low));
    assert_eq!(Band::of_lead_time(Some(23.0 * HOUR)), Some(Band::Elite));
    assert_eq!(Band::of_lead_time(Some(DAY)), Some(Band::High));
    assert_eq!(Band::of_lead_time(Some(WEEK)), Some(Band::Medium));
    assert_eq!(Band::of_lead_time(Some(MONTH)), Some(Band::Low));
    assert_eq!(Band::of_lead_time(None), None);
    assert_eq!(Band::of_change_failure_rate(Some(0.05)), Some(Band::Elite));
    assert_eq!(Band::of_change_failure_rate(Some(0.10)), Some(Band::High));
    assert_eq!(Band::of_change_failure_rate(Some(0.15)), Some(Band::Medium));
    assert_eq!(Band::of_change_failure_rate(Some(0.16)), Some(Band::Low));
    assert_eq!(Band::of_recovery_time(Some(59.0 * 60.0)), Some(Band::Elite));
    assert_eq!(Band::of_recovery_time(Some(HOUR)), Some(Band::High));
    assert_eq!(Band::of_recovery_time(Some(DAY)), Some(Band::Medium));
    assert_eq!(Band::of_recovery_time(Some(WEEK)), Some(Band::Low));
}

#[test]
fn weeks_count_deploys_days_failures_and_spans_where_they_ended() {
    let deploy = |day, hour, succeeded, failed_change| DeployFact {
        keys: vec![None],
        finished_at: at(day, hour),
        succeeded,
        failed_change,
    };
    let deploys = [
        deploy(2, 10, true, false),
        deploy(2, 15, true, true),
        deploy(3, 9, false, true),
        deploy(10, 9, true, false),
        // Outside the range: not counted anywhere.
        deploy(20, 9, true, true),
    ];
    let changes = [
        ChangeFact {
            keys: vec![None],
            deployed_at: at(2, 10),
            lead_time_seconds: Some(2.0 * HOUR),
        },
        ChangeFact {
            keys: vec![None],
            deployed_at: at(2, 15),
            lead_time_seconds: Some(4.0 * HOUR),
        },
        ChangeFact {
            keys: vec![None],
            deployed_at: at(10, 9),
            lead_time_seconds: None,
        },
    ];
    let recoveries = [RecoveryFact {
        keys: vec![None],
        resolved_at: at(9, 12),
        recovery_seconds: 30.0 * 60.0,
    }];
    let groups = dora_rollup(
        Bucket::Week,
        march_2_to_15(),
        true,
        &deploys,
        &changes,
        &recoveries,
    );
    assert_eq!(groups.len(), 2);
    let (first, second) = (&groups[0], &groups[1]);
    assert_eq!(first.bucket, NaiveDate::from_ymd_opt(2026, 3, 2));
    assert_eq!(first.deployment_frequency.deploys, 2);
    assert_eq!(first.deployment_frequency.deploy_days, 1);
    assert_eq!(first.deployment_frequency.band, Some(Band::High));
    // Three finished (one failed to deploy), two followed by an incident.
    assert_eq!(first.change_failure_rate.deploys, 3);
    assert_eq!(first.change_failure_rate.failed, 2);
    assert_eq!(first.change_failure_rate.band, Some(Band::Low));
    assert_eq!(first.lead_time_seconds.value.p50, Some(3.0 * HOUR));
    assert_eq!(first.lead_time_seconds.band, Some(Band::Elite));
    assert_eq!(first.recovery_time_seconds.value.count, 0);
    assert_eq!(second.deployment_frequency.deploys, 1);
    assert_eq!(second.change_failure_rate.rate, Some(0.0));
    assert_eq!(second.lead_time_seconds.value.count, 0);
    assert_eq!(second.recovery_time_seconds.value.p50, Some(1800.0));
    assert_eq!(second.recovery_time_seconds.band, Some(Band::Elite));
}

#[test]
fn a_partial_bucket_is_measured_over_its_days_in_the_range() {
    let range = Range {
        from: at(4, 0),
        until: at(9, 0),
    };
    let buckets = buckets_of(Bucket::Week, range);
    // Wednesday 4 to Sunday 8: five days of the week of Monday 2.
    assert_eq!(buckets, [(NaiveDate::from_ymd_opt(2026, 3, 2), 5.0)]);
    assert_eq!(buckets_of(Bucket::None, range), [(None, 5.0)]);
}

#[test]
fn without_anything_an_ungrouped_summary_still_has_its_buckets() {
    let groups = dora_rollup(Bucket::Week, march_2_to_15(), true, &[], &[], &[]);
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].change_failure_rate.rate, None);
    assert_eq!(groups[0].deployment_frequency.band, Some(Band::Low));
    assert!(dora_rollup(Bucket::Week, march_2_to_15(), false, &[], &[], &[]).is_empty());
}
