//! The team sync, retention and GitHub meta jobs.

use super::*;

#[tokio::test]
async fn teams_are_synced_and_payloads_past_retention_dropped_and_meta_stored() {
    let setup = Setup::start().await;
    assert_success(&setup.prpulse(&["repo", "track", "acme/api"]).await);
    let github = &setup.github;
    github.set_team("acme", 3253328, "platform", &[(1, "ada"), (2, "grace")]);
    github.set_meta_hooks(&["192.30.252.0/22", "185.199.108.0/22"]);
    let client = setup.stack.db.client().await;
    client
        .batch_execute(
            "INSERT INTO deliveries (delivery_id, event, source, received_at, outcome, payload) VALUES
             ('old', 'team', 'webhook', now() - interval '2 days', 'stored', '\\x7b7d'),
             ('new', 'team', 'webhook', now(), 'stored', '\\x7b7d')",
        )
        .await
        .unwrap();
    let mut scheduler = setup.scheduler(&[
        ("PRPULSE_TEAM_SYNC_INTERVAL", "200ms"),
        ("PRPULSE_PAYLOAD_RETENTION", "1d"),
    ]);
    let pool = setup.stack.db.pool();
    let members = async || {
        let client = pool.get().await.unwrap();
        prpulse_store::teams::member_logins(&client, 3253328)
            .await
            .unwrap()
    };
    eventually("the team sync", WITHIN, async || {
        members().await == ["ada", "grace"]
    })
    .await;
    github.set_team("acme", 3253328, "platform", &[(1, "ada")]);
    eventually("grace leaving the team", WITHIN, async || {
        members().await == ["ada"]
    })
    .await;
    let kept = |id: &'static str| {
        let client = &client;
        async move {
            client
                .query_one(
                    "SELECT payload IS NOT NULL
                            OR EXISTS (SELECT 1 FROM delivery_payloads p
                                       WHERE p.delivery_id = d.delivery_id)
                     FROM deliveries d WHERE delivery_id = $1",
                    &[&id],
                )
                .await
                .unwrap()
                .get::<_, bool>(0)
        }
    };
    assert!(!kept("old").await, "past retention");
    assert!(kept("new").await);
    // The background half of V18's online migration: the pre-V18 payload
    // moves into its month's partition, compressed.
    eventually(
        "the pre-V18 payload moving to delivery_payloads",
        WITHIN,
        async || {
            setup
                .stack
                .db
                .count(
                    "SELECT count(*) FROM delivery_payloads
                 WHERE delivery_id = 'new' AND encoding = 'lz4'",
                )
                .await
                == 1
        },
    )
    .await;
    let ranges = setup
        .stack
        .db
        .count("SELECT count(*) FROM allowed_sources WHERE origin = 'github'")
        .await;
    assert_eq!(ranges, 2);
    let _ = scheduler.start_kill();
}
