//! A GitHub account as payloads show it: user, bot or organisation.

use super::*;

#[derive(Clone, Debug)]
pub struct Person {
    pub id: i64,
    pub login: String,
    pub kind: &'static str,
}

impl Person {
    pub fn user(id: i64, login: &str) -> Self {
        Self {
            id,
            login: login.to_owned(),
            kind: "User",
        }
    }

    pub fn bot(id: i64, login: &str) -> Self {
        Self {
            id,
            login: login.to_owned(),
            kind: "Bot",
        }
    }

    pub(super) fn organization(id: i64, login: &str) -> Self {
        Self {
            id,
            login: login.to_owned(),
            kind: "Organization",
        }
    }

    /// The user object with GitHub's URL fields.
    pub(super) fn full_json(&self) -> Value {
        let api = format!("https://api.github.com/users/{}", self.login);
        let mut user = self.json();
        let extra = json!({
            "avatar_url": format!("https://avatars.githubusercontent.com/u/{}?v=4", self.id),
            "gravatar_id": "",
            "url": api,
            "followers_url": format!("{api}/followers"),
            "following_url": format!("{api}/following{{/other_user}}"),
            "gists_url": format!("{api}/gists{{/gist_id}}"),
            "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
            "subscriptions_url": format!("{api}/subscriptions"),
            "organizations_url": format!("{api}/orgs"),
            "repos_url": format!("{api}/repos"),
            "events_url": format!("{api}/events{{/privacy}}"),
            "received_events_url": format!("{api}/received_events"),
        });
        user.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        user
    }

    pub(super) fn json(&self) -> Value {
        json!({
            "login": self.login,
            "id": self.id,
            "node_id": format!("U_{}", self.id),
            "type": self.kind,
            "site_admin": false,
            "html_url": format!("https://github.com/{}", self.login),
        })
    }
}
