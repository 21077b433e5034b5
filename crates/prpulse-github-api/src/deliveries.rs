//! A hook's recent deliveries and their redelivery
//! (`/repos/{owner}/{repo}/hooks/{hook_id}/deliveries`, or under
//! `/orgs/{org}/hooks`). GitHub keeps them
//! for three days and never retries a failed one by itself.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::{GitHubClient, GitHubError, hooks::HookOwner};

/// One attempt to deliver an event (a redelivery is another attempt with
/// the same `guid`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct HookDelivery {
    /// The attempt's id: what a redelivery request names.
    pub id: i64,
    /// The event's `X-GitHub-Delivery`.
    pub guid: String,
    pub delivered_at: DateTime<Utc>,
    #[serde(default)]
    pub redelivery: bool,
    #[serde(default)]
    pub status_code: i64,
    #[serde(default)]
    pub event: String,
    #[serde(default)]
    pub action: Option<String>,
}

impl HookDelivery {
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status_code)
    }
}

/// The deliveries made since `since`, newest first, following the cursor.
pub async fn since(
    client: &GitHubClient,
    owner: HookOwner<'_>,
    hook_id: i64,
    since: DateTime<Utc>,
) -> Result<Vec<HookDelivery>, GitHubError> {
    let mut next = Some(format!(
        "{}/{hook_id}/deliveries?per_page=100",
        owner.hooks_path()
    ));
    let mut found = Vec::new();
    // A cursor that leads back to a page already read would never end.
    let mut seen = HashSet::new();
    while let Some(page) = next.take() {
        if !seen.insert(page.clone()) {
            return Err(GitHubError::LinkLoop(page));
        }
        let (items, following): (Vec<HookDelivery>, _) = client.get_page(&page).await?;
        let reached_the_end = items.iter().any(|item| item.delivered_at < since);
        found.extend(items.into_iter().filter(|item| item.delivered_at >= since));
        if !reached_the_end {
            next = following;
        }
    }
    Ok(found)
}

/// Asks GitHub to deliver attempt `delivery_id` again.
pub async fn redeliver(
    client: &GitHubClient,
    owner: HookOwner<'_>,
    hook_id: i64,
    delivery_id: i64,
) -> Result<(), GitHubError> {
    client
        .post_empty(&format!(
            "{}/{hook_id}/deliveries/{delivery_id}/attempts",
            owner.hooks_path()
        ))
        .await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrecy::SecretString;
    use serde_json::json;
    use wiremock::{
        Mock, MockServer, ResponseTemplate,
        matchers::{method, path},
    };

    use super::*;
    use crate::{ClientSettings, Credentials};

    #[tokio::test]
    async fn a_cursor_back_to_a_page_already_read_is_an_error() {
        let server = MockServer::start().await;
        let first = format!("{}/repos/o/r/hooks/1/deliveries?per_page=100", server.uri());
        let attempt = json!([{"id": 1, "guid": "g", "delivered_at": Utc::now().to_rfc3339(),
                              "status_code": 503, "event": "pull_request"}]);
        Mock::given(method("GET"))
            .and(path("/repos/o/r/hooks/1/deliveries"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("link", format!("<{first}>; rel=\"next\"").as_str())
                    .set_body_json(attempt),
            )
            .mount(&server)
            .await;
        let client = GitHubClient::new(ClientSettings {
            base_url: server.uri(),
            credentials: Credentials::Token(SecretString::from("ghp_test")),
            timeout: Duration::from_secs(5),
            max_rate_limit_wait: Duration::from_secs(3),
        })
        .unwrap();
        let listed = tokio::time::timeout(
            Duration::from_secs(60),
            since(
                &client,
                HookOwner::Repository(&prpulse_domain::RepoFullName::parse("o/r").unwrap()),
                1,
                Utc::now() - chrono::Duration::days(3),
            ),
        )
        .await
        .expect("the listing ended");
        assert!(
            matches!(listed, Err(GitHubError::LinkLoop(_))),
            "{listed:?}"
        );
    }
}
