//! The OpenAPI document served at `/api/v1/openapi.json`, written by hand
//! (openapi.json beside Cargo.toml) and kept true by the tests below: the
//! parameters and their values are the ones `params` accepts, and every
//! schema has exactly the fields the answers serialise.

pub const DOCUMENT: &str = include_str!("../openapi.json");

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::{TimeZone, Utc};
    use prpulse_domain::rollup::{Bucket, Group, Range, rollup};
    use prpulse_store::read::{PageKey, PullRequestRow};
    use serde_json::Value;

    use super::*;
    use crate::{params::*, summary::GroupOut};

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
    }

    fn parameters(path: &str) -> Vec<(String, Value)> {
        document()["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["name"].as_str().unwrap().to_owned(), p["schema"].clone()))
            .collect()
    }

    fn enum_of(schema: &Value) -> Vec<String> {
        schema["enum"]
            .as_array()
            .map(|values| {
                values
                    .iter()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn required(schema: &str) -> BTreeSet<String> {
        document()["components"]["schemas"][schema]["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    fn properties(schema: &str) -> BTreeSet<String> {
        let schema = &document()["components"]["schemas"][schema];
        let required: BTreeSet<String> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        let listed: BTreeSet<String> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert!(required.is_subset(&listed));
        listed
    }

    fn keys(value: &Value) -> BTreeSet<String> {
        value.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn the_parameters_are_the_ones_the_api_accepts() {
        let summary = parameters("/api/v1/summary");
        let names: Vec<&str> = summary.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, SUMMARY_PARAMETERS);
        let values = |name: &str| enum_of(&summary.iter().find(|(n, _)| n == name).unwrap().1);
        assert_eq!(values("group_by"), GROUP_BY_VALUES);
        assert_eq!(values("bucket"), BUCKET_VALUES);
        assert_eq!(values("bots"), BOTS_VALUES);
        assert_eq!(values("hours"), HOURS_VALUES);

        let dora = parameters("/api/v1/dora");
        let names: Vec<&str> = dora.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, DORA_PARAMETERS);
        let dora_group_by = &dora.iter().find(|(n, _)| n == "group_by").unwrap().1;
        assert_eq!(enum_of(dora_group_by), DORA_GROUP_BY_VALUES);
        let answered = |schema: &str| {
            enum_of(&document()["components"]["schemas"][schema]["properties"]["group_by"])
        };
        assert_eq!(answered("Summary"), GROUP_BY_VALUES);
        assert_eq!(answered("DoraSummary"), DORA_GROUP_BY_VALUES);

        let pulls = parameters("/api/v1/pull-requests");
        let names: Vec<&str> = pulls.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, PULL_REQUEST_PARAMETERS);
        let schema = |name: &str| pulls.iter().find(|(n, _)| n == name).unwrap().1.clone();
        assert_eq!(enum_of(&schema("state")), STATE_VALUES);
        assert_eq!(schema("limit")["maximum"], MAX_LIMIT);
        assert_eq!(schema("limit")["default"], DEFAULT_LIMIT);
        let text = &document()["components"]["schemas"]["Text"];
        assert_eq!(text["maxLength"], MAX_TEXT_LEN);
    }

    #[test]
    fn the_schemas_have_the_fields_the_answers_serialise() {
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let groups: Vec<Group> = rollup(
            Vec::new(),
            Bucket::None,
            Range {
                from: at,
                until: at,
            },
            true,
        );
        let group = GroupOut::from(groups[0].clone());
        let by_project =
            serde_json::to_value(group.clone().with_issues(Default::default())).unwrap();
        assert_eq!(keys(&by_project), properties("Group"));
        assert_eq!(
            keys(&by_project["issue_lead_time_seconds"]),
            properties("Distribution")
        );
        // Other groupings have no issue fields: exactly the required ones.
        let group = serde_json::to_value(group).unwrap();
        assert_eq!(keys(&group), required("Group"));
        assert_eq!(
            keys(&group["cycle_time_seconds"]),
            properties("Distribution")
        );
        let row = PullRequestRow {
            repository: "acme/api".into(),
            number: 1,
            title: None,
            author: None,
            author_is_bot: false,
            teams: Vec::new(),
            state: "open".into(),
            draft: false,
            created_at: at,
            ready_at: None,
            first_review_at: None,
            first_approval_at: None,
            merged_at: None,
            closed_at: None,
            cycle_time_seconds: None,
            review_time_seconds: None,
            pickup_time_seconds: None,
            time_to_first_approval_seconds: None,
            merge_after_approval_seconds: None,
            review_rounds: 0,
            additions: None,
            deletions: None,
            changed_files: None,
            page_key: PageKey {
                created_at: at,
                repository_id: 1,
                number: 1,
            },
        };
        assert_eq!(
            keys(&serde_json::to_value(&row).unwrap()),
            properties("PullRequest")
        );
        let summary = crate::summary::Summary {
            group_by: "none",
            bucket: "none",
            from: at.date_naive(),
            to: at.date_naive(),
            hours: "wall",
            bots: "exclude",
            groups: Vec::new(),
        };
        assert_eq!(
            keys(&serde_json::to_value(&summary).unwrap()),
            properties("Summary")
        );
        let dora_groups = prpulse_domain::dora::dora_rollup(
            Bucket::None,
            Range {
                from: at,
                until: at + chrono::Duration::days(1),
            },
            true,
            &[],
            &[],
            &[],
        );
        let dora = serde_json::to_value(crate::dora::DoraSummary {
            group_by: "none",
            bucket: "none",
            from: at.date_naive(),
            to: at.date_naive(),
            bots: "exclude",
            groups: dora_groups,
        })
        .unwrap();
        assert_eq!(keys(&dora), properties("DoraSummary"));
        let group = &dora["groups"][0];
        assert_eq!(keys(group), properties("DoraGroup"));
        assert_eq!(
            keys(&group["lead_time_seconds"]),
            properties("KeyedDistribution")
        );
        let error = serde_json::json!({"error": "", "reason": "", "parameter": ""});
        assert_eq!(keys(&error), properties("Error"));
    }
}
