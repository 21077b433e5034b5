//! Organisation teams and their members, and GitHub's `/meta`.

use serde::Deserialize;

use crate::{GitHubClient, GitHubError};

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Team {
    pub id: i64,
    pub slug: String,
    pub name: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Member {
    pub id: i64,
    pub login: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

pub async fn teams(client: &GitHubClient, org: &str) -> Result<Vec<Team>, GitHubError> {
    client
        .get_all(&format!("/orgs/{org}/teams?per_page=100"))
        .await
}

pub async fn team_members(
    client: &GitHubClient,
    org: &str,
    slug: &str,
) -> Result<Vec<Member>, GitHubError> {
    client
        .get_all(&format!("/orgs/{org}/teams/{slug}/members?per_page=100"))
        .await
}

/// The `hooks` address ranges of GitHub's `/meta`.
pub async fn hook_ranges(client: &GitHubClient) -> Result<Vec<String>, GitHubError> {
    #[derive(Deserialize)]
    struct Meta {
        #[serde(default)]
        hooks: Vec<String>,
    }
    Ok(client.get::<Meta>("/meta").await?.hooks)
}
