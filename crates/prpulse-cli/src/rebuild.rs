//! `prpulse rebuild`: the command around `prpulse_worker::rebuild`, with a
//! progress bar and a report. Ctrl-C stops at the next checkpoint; running
//! the same command again resumes.

use anyhow::Context;
use clap::Args;
use prpulse_domain::BotPolicy;
use prpulse_runtime::{Env, ServiceConfig};
use prpulse_store::{
    connect_pool,
    rebuild::{Phase, Scope},
};
use prpulse_worker::rebuild::{Progress, Rebuild, Report};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// Only this repository's pull requests (owner/name).
    #[arg(long)]
    repository: Option<String>,
    /// Only pull requests with a delivery received since then (YYYY-MM-DD
    /// or an RFC 3339 time); each is rebuilt from all its deliveries.
    #[arg(long)]
    since: Option<String>,
    /// Start over instead of resuming an interrupted rebuild of this scope.
    #[arg(long)]
    restart: bool,
}

pub async fn run(args: RebuildArgs, service: &ServiceConfig, env: &Env) -> anyhow::Result<()> {
    let pool = connect_pool(service.database_url.expose_secret(), &service.pool)?;
    let repository_id = match &args.repository {
        None => None,
        Some(name) => {
            let client = pool.get().await?;
            let id = prpulse_store::rebuild::repository_id(&client, name)
                .await?
                .with_context(|| format!("no repository {name} in the projection"))?;
            Some(id)
        }
    };
    let since = args
        .since
        .as_deref()
        .map(crate::repos::parse_since)
        .transpose()?;
    let bots = BotPolicy::from_list(env.get("PRPULSE_BOT_LOGINS").unwrap_or_default());
    let rebuild = Rebuild::new(
        pool,
        bots,
        Scope {
            repository_id,
            since,
        },
    );
    if args.restart {
        rebuild.restart().await?;
    }

    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping at the next checkpoint; run the same command again to resume");
            on_signal.cancel();
        }
    });
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:14} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}",
        )
        .expect("a valid template"),
    );
    let report = rebuild
        .run(&cancel, |progress| match progress {
            Progress::Phase { phase, total } => {
                bar.set_message(match phase {
                    Phase::Deliveries => "deliveries",
                    Phase::PullRequests | Phase::Done => "pull requests",
                });
                bar.reset();
                bar.set_length(total);
            }
            Progress::Advanced(done) => bar.inc(done),
        })
        .await;
    bar.finish();
    print!("{}", describe(&report?));
    Ok(())
}

/// The report as the command prints it.
fn describe(report: &Report) -> String {
    let mut out = String::new();
    if report.resumed {
        out.push_str("resumed an interrupted rebuild\n");
    }
    out.push_str(&format!(
        "read {} deliveries, rebuilt {} pull requests, {} people reclassified as bot or human\n",
        report.deliveries_read, report.pull_requests, report.reclassified
    ));
    for partial in &report.partial {
        let maybe = if partial.maybe_more {
            " (maybe more, of unknown pull request)"
        } else {
            ""
        };
        out.push_str(&format!(
            "pull request {}#{}: {} payloads removed by retention{maybe}; merged with what remains, not reset\n",
            partial.repository_id, partial.number, partial.missing
        ));
    }
    if report.purged_unattributed > 0 {
        out.push_str(&format!(
            "{} deliveries lost their payload to retention before prpulse recorded their pull request: \
             pull requests created before then are merged, not reset\n",
            report.purged_unattributed
        ));
    }
    if !report.unparseable.is_empty() {
        out.push_str(&format!(
            "{} stored payloads no longer parse (first: {})\n",
            report.unparseable.len(),
            report.unparseable[0]
        ));
    }
    if report.interrupted {
        out.push_str("interrupted: run the same command again to resume\n");
    } else {
        out.push_str("done\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use prpulse_worker::rebuild::PartialPullRequest;

    #[test]
    fn the_report_names_what_retention_removed() {
        let report = Report {
            deliveries_read: 12,
            pull_requests: 3,
            partial: vec![PartialPullRequest {
                repository_id: 10,
                number: 7,
                missing: 2,
                maybe_more: false,
            }],
            purged_unattributed: 4,
            ..Report::default()
        };
        let text = describe(&report);
        assert!(text.contains("rebuilt 3 pull requests"), "{text}");
        assert!(
            text.contains("10#7: 2 payloads removed by retention"),
            "{text}"
        );
        assert!(text.contains("4 deliveries lost their payload"), "{text}");
        assert!(text.ends_with("done\n"), "{text}");
    }
}
