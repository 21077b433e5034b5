//! A `membership` delivery: someone added to or removed from a team.

use super::*;

/// A `membership` event as an organisation hook posts it: `member` was
/// added to (or removed from) team `team_id`/`slug` of `org`.
pub fn membership(
    action: &str,
    org: &Person,
    team_id: i64,
    slug: &str,
    member: &Person,
) -> Delivery {
    Delivery::new(
        "membership",
        &json!({
            "action": action,
            "scope": "team",
            "member": member.json(),
            "sender": member.json(),
            "team": {
                "name": slug, "id": team_id, "node_id": format!("T_{team_id}"), "slug": slug,
                "description": null, "privacy": "closed", "permission": "pull",
                "url": format!("https://api.github.com/teams/{team_id}"),
                "html_url": format!("https://github.com/orgs/{}/teams/{slug}", org.login),
            },
            "organization": {
                "login": org.login, "id": org.id, "node_id": format!("O_{}", org.id),
                "url": format!("https://api.github.com/orgs/{}", org.login),
                "hooks_url": format!("https://api.github.com/orgs/{}/hooks", org.login),
                "description": null,
            },
        }),
    )
}
