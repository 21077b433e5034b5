//! The four DORA keys on the leads' page, over the page's range: the
//! numbers `GET /api/v1/dora` gives without grouping, each with its 2023
//! band.

use std::fmt::Write;

use prpulse_domain::dora::{Band, DoraGroup};

use super::render::{duration, escape};

fn band(band: Option<Band>) -> &'static str {
    match band {
        Some(Band::Elite) => "elite",
        Some(Band::High) => "high",
        Some(Band::Medium) => "medium",
        Some(Band::Low) => "low",
        None => "no data",
    }
}

/// One card per key; `group` is the ungrouped, unbucketed summary.
pub fn section(body: &mut String, group: Option<&DoraGroup>) {
    body.push_str(r#"<section class="charts" id="dora"><h2 class="wide">DORA keys</h2>"#);
    let Some(group) = group else {
        body.push_str(r#"<p class="muted">No deploys in this period.</p></section>"#);
        return;
    };
    let frequency = &group.deployment_frequency;
    let failure = &group.change_failure_rate;
    let cards = [
        (
            "frequency",
            "Deployment frequency",
            format!(
                "{} deploys on {} days",
                frequency.deploys, frequency.deploy_days
            ),
            frequency.band,
        ),
        (
            "lead-time",
            "Lead time for changes (p50)",
            duration(group.lead_time_seconds.value.p50),
            group.lead_time_seconds.band,
        ),
        (
            "failure-rate",
            "Change failure rate",
            failure.rate.map_or("-".to_owned(), |rate| {
                format!(
                    "{:.0} % ({} of {})",
                    rate * 100.0,
                    failure.failed,
                    failure.deploys
                )
            }),
            failure.band,
        ),
        (
            "recovery",
            "Failed deployment recovery (p50)",
            duration(group.recovery_time_seconds.value.p50),
            group.recovery_time_seconds.band,
        ),
    ];
    for (id, title, value, key_band) in cards {
        let _ = write!(
            body,
            r#"<div class="card" id="dora-{id}"><h2>{title}</h2><p class="big">{value}</p><p class="muted">2023 band: <b data-band="{band}">{band}</b></p></div>"#,
            value = escape(&value),
            band = band(key_band),
        );
    }
    body.push_str("</section>");
}
