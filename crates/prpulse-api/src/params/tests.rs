use chrono::TimeZone;

use super::*;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 31).unwrap()
}

fn refused(query: &str) -> (String, String) {
    match SummaryParams::parse(query, today()) {
        Err(ApiError::BadParameter { parameter, reason }) => (parameter, reason),
        other => panic!("{query}: expected a bad parameter, got {other:?}"),
    }
}

fn refused_page(query: &str) -> String {
    match pull_request_filter(query) {
        Err(ApiError::BadParameter { parameter, .. }) => parameter,
        other => panic!("{query}: expected a bad parameter, got {other:?}"),
    }
}

#[test]
fn a_summary_defaults_to_ninety_days_ungrouped_wall_hours_without_bots() {
    let params = SummaryParams::parse("", today()).unwrap();
    assert_eq!(params.group_by, GroupBy::None);
    assert_eq!(params.bucket, Bucket::None);
    assert_eq!(params.hours, Hours::Wall);
    assert!(!params.include_bots);
    assert_eq!(params.to, today());
    assert_eq!((params.to - params.from).num_days(), 89);
}

#[test]
fn a_summary_reads_every_parameter() {
    let params = SummaryParams::parse(
        "group_by=team&bucket=week&from=2026-03-02&to=2026-03-15&bots=include&hours=business",
        today(),
    )
    .unwrap();
    assert_eq!(params.group_by, GroupBy::Team);
    for (index, value) in GROUP_BY_VALUES.iter().enumerate() {
        let grouped = SummaryParams::parse(&format!("group_by={value}"), today()).unwrap();
        assert_eq!(grouped.group_by.as_str(), *value);
        assert_eq!(grouped.group_by as usize, index);
    }
    assert_eq!(params.bucket, Bucket::Week);
    assert!(params.include_bots);
    assert_eq!(params.hours, Hours::Business);
    let range = params.range();
    assert_eq!(
        range.from,
        Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap()
    );
    // `to` is included: the range ends at the midnight after it.
    assert_eq!(
        range.until,
        Utc.with_ymd_and_hms(2026, 3, 16, 0, 0, 0).unwrap()
    );
}

#[test]
fn bad_input_names_the_parameter() {
    assert_eq!(refused("group_by=org").0, "group_by");
    assert_eq!(refused("bucket=day").0, "bucket");
    assert_eq!(refused("hours=night").0, "hours");
    assert_eq!(refused("bots=maybe").0, "bots");
    assert_eq!(refused("from=2026-13-01").0, "from");
    assert_eq!(refused("to=2026-3-1").0, "to");
    assert_eq!(refused("from=yesterday").0, "from");
    let (parameter, reason) = refused("from=2026-03-10&to=2026-03-01");
    assert_eq!(parameter, "from");
    assert!(reason.contains("after"), "{reason}");
    assert_eq!(refused("from=2020-01-01&to=2026-01-01").0, "to");
    let (parameter, reason) = refused("group=team");
    assert_eq!(parameter, "group");
    assert!(reason.contains("unknown"), "{reason}");
    assert_eq!(refused("bucket=week&bucket=month").0, "bucket");
    assert_eq!(refused("group_by=").0, "group_by");
}

#[test]
fn pull_request_filters_and_pages() {
    let filter = pull_request_filter(
        "repository=acme%2Fapi&team=core&author=ada&state=merged&from=2026-03-01&to=2026-03-31&bots=include&limit=10",
    )
    .unwrap();
    assert_eq!(filter.repository.as_deref(), Some("acme/api"));
    assert_eq!(filter.team.as_deref(), Some("core"));
    assert_eq!(filter.author.as_deref(), Some("ada"));
    assert_eq!(filter.state.as_deref(), Some("merged"));
    assert!(filter.include_bots);
    assert_eq!(filter.limit, 10);
    assert_eq!(
        filter.created_until,
        Some(Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap())
    );
    let defaults = pull_request_filter("").unwrap();
    assert_eq!(defaults.limit, DEFAULT_LIMIT);
    assert!(!defaults.include_bots);
    assert!(defaults.after.is_none());
}

#[test]
fn a_cursor_round_trips_and_a_forged_one_is_refused() {
    let key = PageKey {
        created_at: Utc.with_ymd_and_hms(2026, 3, 2, 9, 30, 15).unwrap(),
        repository_id: 42,
        number: 7,
    };
    let filter = pull_request_filter(&format!("cursor={}", encode_cursor(&key))).unwrap();
    assert_eq!(filter.after, Some(key));
    assert_eq!(refused_page("cursor=nonsense"), "cursor");
    assert_eq!(refused_page("repository=acme"), "repository", "owner/name");
    let far = URL_SAFE_NO_PAD.encode(format!("{}.1.1", i64::MAX / 2));
    assert_eq!(refused_page(&format!("cursor={far}")), "cursor");
}

#[test]
fn pull_request_input_is_checked() {
    assert_eq!(refused_page("limit=0"), "limit");
    assert_eq!(refused_page("limit=501"), "limit");
    assert_eq!(refused_page("limit=100000000000000000000"), "limit");
    assert_eq!(refused_page("limit=ten"), "limit");
    assert_eq!(refused_page("state=draft"), "state");
    assert_eq!(refused_page("author="), "author");
    assert_eq!(refused_page("author=a%00b"), "author");
    assert_eq!(refused_page(&format!("team={}", "x".repeat(201))), "team");
    assert_eq!(refused_page("from=2026-03-10&to=2026-03-01"), "from");
    assert_eq!(refused_page("sort=created_at"), "sort");
}
