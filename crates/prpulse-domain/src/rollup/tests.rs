use chrono::{TimeZone, Utc};

use super::*;

fn utc(y: i32, m: u32, d: u32, h: u32) -> Timestamp {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// March 2026: Monday the 2nd to Sunday the 15th (two weeks).
fn two_weeks() -> Range {
    Range {
        from: utc(2026, 3, 2, 0),
        until: utc(2026, 3, 16, 0),
    }
}

fn merged(key: Option<&str>, at: Timestamp, cycle: f64, rounds: f64) -> Entry {
    Entry {
        key: key.map(str::to_owned),
        merged_at: Some(at),
        first_review_at: None,
        first_approval_at: None,
        spans: [Some(cycle), None, None, None, None],
        review_rounds: Some(rounds),
    }
}

#[test]
fn percentiles_interpolate_like_percentile_cont() {
    // SELECT percentile_cont(ARRAY[0.5,0.75,0.9]) WITHIN GROUP (ORDER BY v)
    // FROM unnest('{1,2,3,4}'::float8[]) v  =>  {2.5,3.25,3.7}
    let d = Distribution::of(vec![4.0, 1.0, 3.0, 2.0]);
    assert_eq!(d.count, 4);
    assert_eq!(d.p50, Some(2.5));
    assert_eq!(d.p75, Some(3.25));
    assert!((d.p90.unwrap() - 3.7).abs() < 1e-9);
    assert_eq!(d.mean, Some(2.5));
    let one = Distribution::of(vec![7.0]);
    assert_eq!(
        (one.p50, one.p90, one.mean),
        (Some(7.0), Some(7.0), Some(7.0))
    );
    // 10 values 10..100: position 0.9*9 = 8.1 -> 90 + 0.1*10 = 91.
    let ten = Distribution::of((1..=10).map(|v| f64::from(v) * 10.0).collect());
    assert!((ten.p90.unwrap() - 91.0).abs() < 1e-9);
    assert_eq!(ten.p50, Some(55.0));
}

#[test]
fn an_empty_set_has_a_zero_count_and_no_statistics() {
    let empty = Distribution::of(Vec::new());
    assert_eq!(empty, Distribution::default());
    assert_eq!(empty.count, 0);
    assert_eq!(empty.p50, None);
    let groups = rollup(Vec::new(), Bucket::None, two_weeks(), true);
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].key, None);
    assert_eq!(groups[0].merged, 0);
    assert_eq!(groups[0].spans[0], Distribution::default());
    assert!(rollup(Vec::new(), Bucket::None, two_weeks(), false).is_empty());
}

#[test]
fn weeks_start_on_monday_and_months_on_the_first() {
    // Sunday 2026-03-08 23:00 is in the week of Monday 2 March; Monday
    // 2026-03-09 00:00 starts the next.
    assert_eq!(
        Bucket::Week.start_of(utc(2026, 3, 8, 23)),
        Some(date(2026, 3, 2))
    );
    assert_eq!(
        Bucket::Week.start_of(utc(2026, 3, 9, 0)),
        Some(date(2026, 3, 9))
    );
    // A week may start in the previous year.
    assert_eq!(
        Bucket::Week.start_of(utc(2026, 1, 1, 12)),
        Some(date(2025, 12, 29))
    );
    assert_eq!(
        Bucket::Month.start_of(utc(2026, 2, 28, 23)),
        Some(date(2026, 2, 1))
    );
    assert_eq!(Bucket::None.start_of(utc(2026, 2, 28, 23)), None);
}

#[test]
fn a_span_counts_in_the_bucket_in_which_it_ended() {
    // Reviewed in week 1, merged in week 2: the review time counts in
    // week 1, the cycle time and the merge in week 2.
    let entry = Entry {
        key: None,
        merged_at: Some(utc(2026, 3, 10, 12)),
        first_review_at: Some(utc(2026, 3, 6, 12)),
        first_approval_at: Some(utc(2026, 3, 9, 12)),
        spans: [Some(100.0), Some(10.0), Some(5.0), Some(50.0), Some(20.0)],
        review_rounds: Some(2.0),
    };
    let groups = rollup(vec![entry], Bucket::Week, two_weeks(), true);
    assert_eq!(groups.len(), 2);
    let (first, second) = (&groups[0], &groups[1]);
    assert_eq!(first.bucket, Some(date(2026, 3, 2)));
    assert_eq!(first.merged, 0);
    assert_eq!(first.spans[Span::ReviewTime.index()].p50, Some(10.0));
    assert_eq!(first.spans[Span::PickupTime.index()].p50, Some(5.0));
    assert_eq!(first.spans[Span::CycleTime.index()].count, 0);
    assert_eq!(first.review_rounds.count, 0);
    assert_eq!(second.bucket, Some(date(2026, 3, 9)));
    assert_eq!(second.merged, 1);
    assert_eq!(second.spans[Span::CycleTime.index()].p50, Some(100.0));
    assert_eq!(
        second.spans[Span::MergeAfterApproval.index()].p50,
        Some(20.0)
    );
    assert_eq!(
        second.spans[Span::TimeToFirstApproval.index()].p50,
        Some(50.0)
    );
    assert_eq!(second.review_rounds.mean, Some(2.0));
}

#[test]
fn the_range_selects_by_the_end_of_each_span() {
    let before = merged(None, utc(2026, 3, 1, 23), 1.0, 1.0);
    let first = merged(None, utc(2026, 3, 2, 0), 2.0, 1.0);
    let last = merged(None, utc(2026, 3, 15, 23), 3.0, 1.0);
    let after = merged(None, utc(2026, 3, 16, 0), 4.0, 1.0);
    let groups = rollup(
        vec![before, first, last, after],
        Bucket::None,
        two_weeks(),
        true,
    );
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].merged, 2);
    assert_eq!(groups[0].spans[0].mean, Some(2.5));
}

#[test]
fn each_key_gets_every_bucket_and_keys_are_sorted() {
    let entries = vec![
        merged(Some("web"), utc(2026, 3, 3, 9), 30.0, 1.0),
        merged(Some("api"), utc(2026, 3, 12, 9), 10.0, 1.0),
        merged(Some("api"), utc(2026, 3, 13, 9), 20.0, 3.0),
    ];
    let groups = rollup(entries, Bucket::Week, two_weeks(), false);
    let shape: Vec<(Option<&str>, Option<NaiveDate>, u64)> = groups
        .iter()
        .map(|g| (g.key.as_deref(), g.bucket, g.merged))
        .collect();
    assert_eq!(
        shape,
        [
            (Some("api"), Some(date(2026, 3, 2)), 0),
            (Some("api"), Some(date(2026, 3, 9)), 2),
            (Some("web"), Some(date(2026, 3, 2)), 1),
            (Some("web"), Some(date(2026, 3, 9)), 0),
        ]
    );
    assert_eq!(groups[1].spans[0].p50, Some(15.0));
    assert_eq!(groups[1].review_rounds.mean, Some(2.0));
}

#[test]
fn bucket_numbers_count_the_buckets_start_of_names() {
    let monday_before_epoch = NaiveDate::from_ymd_opt(1969, 12, 29).unwrap();
    let mut at = Utc.with_ymd_and_hms(1969, 11, 30, 23, 59, 59).unwrap();
    while at < Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0).unwrap() {
        for at in [at, at + chrono::Duration::seconds(1)] {
            let week = Bucket::Week.ordinal(at);
            assert_eq!(
                Bucket::Week.start_of(at),
                Some(monday_before_epoch + chrono::Duration::days(7 * week)),
                "{at}"
            );
            let start = Bucket::Month.start_of(at).unwrap();
            let month = Bucket::Month.ordinal(at);
            assert_eq!(
                (i64::from(start.year()), i64::from(start.month0())),
                (month.div_euclid(12), month.rem_euclid(12)),
                "{at}"
            );
        }
        at += chrono::Duration::hours(13);
    }
}

/// Entries of three keys over 2026-03-01 .. 2026-05-10, with every kind
/// of span end, missing spans and ties, from a fixed pseudo-random walk.
fn scattered_entries() -> Vec<Entry> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |below: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33) % below
    };
    let start = utc(2026, 2, 25, 0);
    (0..400)
        .map(|_| {
            let mut at = || {
                (next(4) != 0).then(|| start + chrono::Duration::seconds(next(75 * 86_400) as i64))
            };
            let (merged_at, first_review_at, first_approval_at) = (at(), at(), at());
            let mut spans = [None; 5];
            for span in &mut spans {
                *span = (next(5) != 0).then(|| (next(40) * 900) as f64);
            }
            Entry {
                key: ["core", "web", "ops"]
                    .get(next(3) as usize)
                    .map(|key| (*key).to_owned()),
                merged_at,
                first_review_at,
                first_approval_at,
                spans,
                review_rounds: Some(next(4) as f64),
            }
        })
        .collect()
}

#[test]
fn period_values_give_exactly_the_rollup_of_the_entries() {
    use super::periods::{Plan, period_range};
    let entries = scattered_entries();
    // Wednesday 2026-03-04 to Friday 2026-05-01: edges in mid-week.
    let range = Range {
        from: utc(2026, 3, 4, 0),
        until: utc(2026, 5, 2, 0),
    };
    for bucket in [Bucket::None, Bucket::Week, Bucket::Month] {
        let expected = rollup(entries.clone(), bucket, range, false);
        // Every other whole period from per-period values, the rest raw.
        let mut toggle = false;
        let plan = Plan::new(range, |_| {
            toggle = !toggle;
            toggle
        });
        assert!(plan.served.len() > 3 && plan.raw.len() > 3, "{plan:?}");
        let mut combined = Rollup::new(bucket, range, false);
        for start in &plan.served {
            let period = period_range(*start);
            let mut one = Rollup::new(Bucket::None, period, false);
            for entry in &entries {
                one.add(entry);
            }
            for (key, values) in one.into_values() {
                combined.add_values(key, period.from, values);
            }
        }
        for piece in &plan.raw {
            for entry in &entries {
                combined.add_within(entry, *piece);
            }
        }
        assert_eq!(combined.finish(), expected, "{bucket:?}");
    }
}
