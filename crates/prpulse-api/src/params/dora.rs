//! `GET /api/v1/dora` takes the summary's parameters but `hours`: the
//! DORA keys are measured in wall time (deploys and incidents keep no
//! office hours).

use chrono::NaiveDate;

use super::{GroupBy, Params, SummaryParams};
use crate::error::ApiError;

pub const DORA_PARAMETERS: [&str; 5] = ["group_by", "bucket", "from", "to", "bots"];
/// The summary's groupings but `jira_project`: deploys and incidents
/// belong to repositories, not to Jira projects.
pub const DORA_GROUP_BY_VALUES: [&str; 4] = ["none", "repository", "team", "author"];

/// The summary's parameters, checked the summary's way, without `hours`
/// and without `group_by=jira_project`.
pub fn dora_params(query: &str, today: NaiveDate) -> Result<SummaryParams, ApiError> {
    Params::parse(query, &DORA_PARAMETERS)?;
    let params = SummaryParams::parse(query, today)?;
    if params.group_by == GroupBy::JiraProject {
        return Err(ApiError::bad(
            "group_by",
            format!("expected one of {}", DORA_GROUP_BY_VALUES.join(", ")),
        ));
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 16).unwrap()
    }

    #[test]
    fn the_summarys_parameters_but_hours() {
        let params =
            dora_params("group_by=repository&bucket=week&from=2026-03-02", today()).unwrap();
        assert_eq!(params.group_by, super::super::GroupBy::Repository);
        assert!(dora_params("hours=business", today()).is_err());
        let refused = dora_params("group_by=jira_project", today()).unwrap_err();
        assert_eq!(
            refused.to_string(),
            ApiError::bad("group_by", "expected one of none, repository, team, author").to_string()
        );
        assert!(dora_params("bucket=day", today()).is_err());
        assert!(dora_params("from=2026-03-20&to=2026-03-02", today()).is_err());
    }
}
