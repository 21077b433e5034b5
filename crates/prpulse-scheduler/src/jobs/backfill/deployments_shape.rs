//! The deployments and statuses backfill republishes, in the shapes of
//! the `deployment` and `deployment_status` webhooks, with ids made from
//! GitHub's own (a deployment's and a status's never change), so a second
//! backfill is a no-op.

use serde_json::{Value, json};

/// One synthetic delivery: event, delivery id, body.
pub struct Synthetic {
    pub event: &'static str,
    pub id: String,
    pub body: Value,
}

/// The `deployment` delivery of a deployment from the REST API, then one
/// `deployment_status` delivery per status; `None` if GitHub's object
/// lacks an id.
pub fn deliveries(
    deployment: &Value,
    statuses: &[Value],
    repository: &Value,
) -> Option<Vec<Synthetic>> {
    let id = deployment["id"].as_i64()?;
    let mut deliveries = vec![Synthetic {
        event: "deployment",
        id: format!("backfill:deployment:{id}"),
        body: json!({"action": "created", "deployment": deployment, "repository": repository}),
    }];
    for status in statuses {
        let status_id = status["id"].as_i64()?;
        deliveries.push(Synthetic {
            event: "deployment_status",
            id: format!("backfill:deployment_status:{status_id}"),
            body: json!({
                "action": "created",
                "deployment_status": status,
                "deployment": deployment,
                "repository": repository,
            }),
        });
    }
    Some(deliveries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_githubs_and_the_shape_is_the_webhooks() {
        let deployment = json!({"id": 7, "sha": "abc", "environment": "production",
                                "created_at": "2026-03-02T09:00:00Z"});
        let statuses =
            [json!({"id": 70, "state": "success", "created_at": "2026-03-02T09:05:00Z"})];
        let repository = json!({"id": 1, "full_name": "acme/api"});
        let made = deliveries(&deployment, &statuses, &repository).unwrap();
        let ids: Vec<_> = made.iter().map(|d| (d.event, d.id.as_str())).collect();
        assert_eq!(
            ids,
            [
                ("deployment", "backfill:deployment:7"),
                ("deployment_status", "backfill:deployment_status:70")
            ]
        );
        assert_eq!(made[1].body["deployment"]["sha"], "abc");
        assert_eq!(made[1].body["deployment_status"]["state"], "success");
        assert!(deliveries(&json!({"sha": "abc"}), &[], &repository).is_none());
    }
}
