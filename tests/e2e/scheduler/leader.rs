//! The leader lock and the round: one scheduler acts, a standby takes
//! over, a scheduler that lost its lock stops, SIGTERM cuts a stuck round.

use super::*;

async fn is_leader(url: &str) -> Option<bool> {
    let text = prpulse_e2e::http_client()
        .build()
        .ok()?
        .get(url)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    sample(&text, "prpulse_scheduler_is_leader", &[]).map(|value| value == 1.0)
}

#[tokio::test]
async fn of_two_schedulers_one_acts_and_the_other_takes_over_when_it_dies() {
    let setup = Setup::start().await;
    let (first, first_metrics) = setup.scheduler_with_metrics(&[]).await;
    let (second, second_metrics) = setup.scheduler_with_metrics(&[]).await;
    let mut schedulers = [first, second];
    let urls = [first_metrics, second_metrics];
    let leader = eventually("a single leader", WITHIN, async || {
        let states = [is_leader(&urls[0]).await, is_leader(&urls[1]).await];
        match states {
            [Some(a), Some(b)] if a != b => Ok(usize::from(b)),
            _ => Err(states),
        }
    })
    .await;
    // The leader acts: a repository marked for tracking gets its hook.
    let client = setup.stack.db.client().await;
    let pool = setup.stack.db.pool();
    tracking::track(
        &pool.get().await.unwrap(),
        &RepoFullName::parse("acme/api").unwrap(),
    )
    .await
    .unwrap();
    eventually("the leader's install", WITHIN, async || {
        setup.github.hooks("acme/api").len() == 1
    })
    .await;

    schedulers[leader].start_kill().unwrap();
    let _ = schedulers[leader].wait().await;
    let standby = 1 - leader;
    eventually("the standby taking over", WITHIN, async || {
        is_leader(&urls[standby]).await == Some(true)
    })
    .await;
    tracking::track(
        &pool.get().await.unwrap(),
        &RepoFullName::parse("acme/web").unwrap(),
    )
    .await
    .unwrap();
    eventually("the new leader's install", WITHIN, async || {
        setup.github.hooks("acme/web").len() == 1
    })
    .await;
    // GitHub has the hook before the new leader records it as tracked.
    eventually(
        "both repositories recorded as tracked",
        WITHIN,
        async || {
            client
                .query_one(
                    "SELECT count(*) FROM tracked_repositories WHERE state = 'tracked'",
                    &[],
                )
                .await
                .unwrap()
                .get::<_, i64>(0)
                == 2
        },
    )
    .await;
    let _ = schedulers[standby].start_kill();
}

/// Item 10: the acting scheduler asks whether it still holds its lock
/// before each repository, so one whose lock session is gone stops
/// mid-round (a standby may be acting already).
#[tokio::test]
async fn a_scheduler_that_loses_its_lock_stops_before_the_next_repository() {
    use tokio::io::AsyncBufReadExt;

    let setup = Setup::start().await;
    for repo in ["acme/a", "acme/b", "acme/c"] {
        assert_success(&setup.prpulse(&["repo", "track", repo]).await);
    }
    setup.github.slow_hooks(Duration::from_millis(1_500));
    let before = setup.github.tokens_seen().len();
    let mut scheduler = setup
        .stack
        .scheduler_command()
        .env("PRPULSE_RECONCILE_INTERVAL_MS", "200")
        .env("PRPULSE_LEADER_POLL_MS", "200")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(scheduler.stdout.take().unwrap()).lines();
    eventually("the round's first hook call", WITHIN, async || {
        setup.github.tokens_seen().len() > before
    })
    .await;
    let client = setup.stack.db.client().await;
    let ended = client
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_locks
             WHERE locktype = 'advisory' AND objsubid = 1
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(ended.len(), 1, "the scheduler's lock session");
    let stood_down = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("lost the scheduler lock mid-round") {
                return;
            }
        }
    })
    .await;
    assert!(stood_down.is_ok(), "the scheduler never stopped mid-round");
    let calls = setup.github.tokens_seen().len() - before;
    assert!(
        calls < 3,
        "it went on to other repositories after losing the lock: {calls} hook calls"
    );
    let _ = scheduler.start_kill();
    let _ = scheduler.wait().await;
}

/// Item 11: a GitHub that hangs does not hold a stopping scheduler for the
/// request timeout and its retries (over two minutes): the round is cut
/// after the grace.
#[tokio::test]
async fn sigterm_ends_a_round_stuck_on_github_within_the_grace() {
    let setup = Setup::start().await;
    assert_success(&setup.prpulse(&["repo", "track", "acme/api"]).await);
    setup.github.slow_hooks(Duration::from_secs(300));
    let before = setup.github.tokens_seen().len();
    let mut scheduler = setup.scheduler(&[]);
    eventually("the scheduler waiting on GitHub", WITHIN, async || {
        setup.github.tokens_seen().len() > before
    })
    .await;
    let pid = scheduler.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    // The grace is 5 s; the request timeout alone is 30 s.
    let status = tokio::time::timeout(Duration::from_secs(20), scheduler.wait())
        .await
        .expect("the scheduler stopped within 20 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
}
