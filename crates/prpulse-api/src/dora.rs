//! `GET /api/v1/dora`: the four DORA keys per group and time bucket, each
//! with its 2023 performance band (`prpulse_domain::dora`), over the
//! `deployments`, `dora_incidents` and `pr_metrics` views.

use chrono::NaiveDate;
use prpulse_domain::{
    dora::{DoraGroup, dora_rollup},
    rollup::Bucket,
};
use prpulse_store::{
    Pool, StoreError,
    dora::read::{DoraGrouping, dora_facts},
};
use serde::Serialize;

use crate::params::{GroupBy, SummaryParams};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DoraSummary {
    pub group_by: &'static str,
    pub bucket: &'static str,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub bots: &'static str,
    pub groups: Vec<DoraGroup>,
}

pub async fn dora_summary(pool: &Pool, params: &SummaryParams) -> Result<DoraSummary, StoreError> {
    let client = pool.get().await?;
    let range = params.range();
    let grouping = match params.group_by {
        GroupBy::None => DoraGrouping::None,
        GroupBy::Repository => DoraGrouping::Repository,
        GroupBy::Team => DoraGrouping::Team,
        GroupBy::Author => DoraGrouping::Author,
        // `dora_params` refuses it; the page asks for its DORA keys
        // ungrouped whatever its table is grouped by.
        GroupBy::JiraProject => DoraGrouping::None,
    };
    let facts = dora_facts(
        &client,
        range.from,
        range.until,
        params.include_bots,
        grouping,
    )
    .await?;
    drop(client);
    Ok(DoraSummary {
        group_by: params.group_by.as_str(),
        bucket: match params.bucket {
            Bucket::None => "none",
            Bucket::Week => "week",
            Bucket::Month => "month",
        },
        from: params.from,
        to: params.to,
        bots: if params.include_bots {
            "include"
        } else {
            "exclude"
        },
        groups: dora_rollup(
            params.bucket,
            range,
            params.group_by == GroupBy::None,
            &facts.deploys,
            &facts.changes,
            &facts.recoveries,
        ),
    })
}
