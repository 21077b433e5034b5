//! Keeps the maintained summary rollup (migrations/V17) in step, in the
//! background of prpulse-api: triggers mark the periods a write touched,
//! and each round rebuilds a few of them from the raw rows with the very
//! code a raw summary runs ([`entries`], [`Rollup`]), so a served period
//! holds exactly what reading it raw would give.

use std::time::Duration;

use chrono::Days;
use prpulse_domain::rollup::{
    Bucket, Range, Rollup,
    periods::{midnight, period_end, period_range},
};
use prpulse_store::{
    Pool, StoreError, Transaction,
    calendars::all_calendars,
    read::each_span_row,
    summary_rollup::{Claim, RollupRow, claim, refresh_transaction, replace_period},
};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::{Clocks, ROLLED_UP, entries};
use crate::params::{Hours, SummaryParams};

/// Periods rebuilt per transaction, newest first: a round stays short
/// (about a week of pull requests each), and recent weeks, which change
/// and are read most, come back first.
pub const PERIODS_PER_ROUND: i64 = 8;

const HOURS: [Hours; 2] = [Hours::Wall, Hours::Business];

/// What one round did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    /// Another refresher (another prpulse-api) is at work.
    Busy,
    Idle,
    /// Everything was stale; each built period is marked for what follows.
    MarkedAll,
    Refreshed(usize),
}

/// Refreshes rounds in the background: at once while there is work,
/// then every `every`. A failed round leaves the marks in place, so
/// summaries stay exact (reading raw rows) until one succeeds.
pub fn spawn(pool: Pool, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match refresh_round(&pool).await {
                Ok(Round::Refreshed(periods)) => {
                    debug!(periods, "summary rollup refreshed");
                    continue;
                }
                Ok(Round::MarkedAll) => continue,
                Ok(Round::Idle | Round::Busy) => {}
                Err(error) => warn!(
                    %error,
                    "refreshing the summary rollup failed; summaries read raw rows meanwhile"
                ),
            }
            tokio::time::sleep(every).await;
        }
    })
}

/// Rounds until nothing is dirty; how many periods were rebuilt. Stops
/// early when another refresher holds the rollup.
pub async fn refresh_until_idle(pool: &Pool) -> Result<usize, StoreError> {
    let mut periods = 0;
    loop {
        match refresh_round(pool).await? {
            Round::Refreshed(more) => periods += more,
            Round::MarkedAll => {}
            Round::Idle | Round::Busy => return Ok(periods),
        }
    }
}

pub async fn refresh_round(pool: &Pool) -> Result<Round, StoreError> {
    let mut client = pool.get().await?;
    let tx = refresh_transaction(&mut client).await?;
    let periods = match claim(&tx, PERIODS_PER_ROUND).await? {
        Claim::Busy => return Ok(Round::Busy),
        Claim::Idle => {
            tx.commit().await?;
            return Ok(Round::Idle);
        }
        Claim::MarkedAll => {
            tx.commit().await?;
            return Ok(Round::MarkedAll);
        }
        Claim::Periods(periods) => periods,
    };
    let calendars = all_calendars(&tx).await?;
    let (Some(first), Some(last)) = (periods.iter().min(), periods.iter().max()) else {
        return Ok(Round::Idle);
    };
    let span = Range {
        from: midnight(*first),
        until: midnight(period_end(*last)),
    };
    let clocks = Clocks::new(&calendars, span);
    for period in &periods {
        let rows = build_period(&tx, *period, &clocks).await?;
        replace_period(&tx, *period, &rows).await?;
    }
    tx.commit().await?;
    Ok(Round::Refreshed(periods.len()))
}

/// Every group's values in the period starting `start`: for each
/// grouping the rollup keeps and both kinds of hours, human and bot
/// authors apart.
async fn build_period(
    tx: &Transaction<'_>,
    start: chrono::NaiveDate,
    clocks: &Clocks<'_>,
) -> Result<Vec<RollupRow>, StoreError> {
    let period = period_range(start);
    let shapes: Vec<SummaryParams> = ROLLED_UP
        .iter()
        .flat_map(|group_by| {
            HOURS.map(|hours| SummaryParams {
                group_by: *group_by,
                bucket: Bucket::None,
                from: start,
                to: period_end(start) - Days::new(1),
                include_bots: true,
                hours,
            })
        })
        .collect();
    let mut rollups: Vec<[Rollup; 2]> = shapes
        .iter()
        .map(|_| std::array::from_fn(|_| Rollup::new(Bucket::None, period, false)))
        .collect();
    each_span_row(tx, period.from, period.until, true, |row| {
        for (shape, pair) in shapes.iter().zip(&mut rollups) {
            let rollup = &mut pair[usize::from(row.author_is_bot)];
            for entry in entries(&row, shape, clocks) {
                rollup.add(&entry);
            }
        }
    })
    .await?;
    let mut rows = Vec::new();
    for (shape, pair) in shapes.iter().zip(rollups) {
        for (author_is_bot, rollup) in [false, true].into_iter().zip(pair) {
            rows.extend(
                rollup
                    .into_values()
                    .into_iter()
                    .map(|(key, values)| RollupRow {
                        kind: shape.group_by.as_str(),
                        key,
                        hours: shape.hours.as_str(),
                        author_is_bot,
                        values,
                    }),
            );
        }
    }
    Ok(rows)
}
