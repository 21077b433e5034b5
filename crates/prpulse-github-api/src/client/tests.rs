use std::time::{Instant, SystemTime, UNIX_EPOCH};

use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, header_exists, method, path, query_param},
};

use super::*;

fn client(server: &MockServer) -> GitHubClient {
    client_waiting(server, Duration::from_secs(3))
}

fn client_waiting(server: &MockServer, max_rate_limit_wait: Duration) -> GitHubClient {
    GitHubClient::new(ClientSettings {
        base_url: server.uri(),
        credentials: Credentials::Token(SecretString::from("ghp_test")),
        timeout: Duration::from_secs(5),
        max_rate_limit_wait,
    })
    .unwrap()
}

/// Before the caps these calls never returned: a failing test, not a hung one.
async fn bounded<T>(call: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), call)
        .await
        .expect("the call returned within a minute")
}

async fn requests_to(server: &MockServer, to: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|request| request.url.path() == to)
        .count()
}

fn retry_after_zero() -> ResponseTemplate {
    ResponseTemplate::new(429)
        .insert_header("retry-after", "0")
        .set_body_json(json!({"message": "You have exceeded a secondary rate limit."}))
}

#[tokio::test]
async fn retry_after_zero_for_ever_is_an_error_once_the_wait_bound_is_spent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(retry_after_zero())
        .mount(&server)
        .await;
    let started = Instant::now();
    let error = bounded(client(&server).get::<Value>("/user"))
        .await
        .unwrap_err();
    assert!(matches!(error, GitHubError::RateLimited(_)), "{error}");
    // Each `Retry-After: 0` costs the one-second floor: three fit in 3 s.
    assert_eq!(requests_to(&server, "/user").await, 4);
    assert!(started.elapsed() >= Duration::from_secs(3));
}

#[tokio::test]
async fn a_call_sends_at_most_its_attempts_however_long_it_may_wait() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(retry_after_zero())
        .mount(&server)
        .await;
    let client = client_waiting(&server, Duration::from_secs(600));
    let error = bounded(client.get::<Value>("/user")).await.unwrap_err();
    assert!(
        matches!(
            error,
            GitHubError::GaveUp {
                attempts: patience::MAX_ATTEMPTS,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(
        requests_to(&server, "/user").await,
        patience::MAX_ATTEMPTS as usize
    );
}

#[tokio::test]
async fn a_link_to_another_origin_is_an_error_and_is_not_sent_the_token() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    let next = format!("<{}/repos/o/r/hooks?page=2>; rel=\"next\"", elsewhere.uri());
    Mock::given(method("GET"))
        .and(path("/repos/o/r/hooks"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", next.as_str())
                .set_body_json(json!([{"id": 1}])),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 2}])))
        .mount(&elsewhere)
        .await;
    let client = client(&server);
    let error = bounded(client.get_all::<Value>("/repos/o/r/hooks"))
        .await
        .unwrap_err();
    assert!(matches!(error, GitHubError::ForeignLink { .. }), "{error}");
    let error = client
        .get_page::<Value>("/repos/o/r/hooks")
        .await
        .unwrap_err();
    assert!(matches!(error, GitHubError::ForeignLink { .. }), "{error}");
    let error = client
        .get_page::<Value>(&format!("{}/repos/o/r/hooks?page=2", elsewhere.uri()))
        .await
        .unwrap_err();
    assert!(matches!(error, GitHubError::ForeignLink { .. }), "{error}");
    assert!(
        elsewhere
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty(),
        "the other host never saw a request"
    );
}

#[tokio::test]
async fn a_link_back_to_a_page_already_read_is_an_error() {
    let server = MockServer::start().await;
    let itself = format!("<{}/repos/o/r/hooks>; rel=\"next\"", server.uri());
    Mock::given(method("GET"))
        .and(path("/repos/o/r/hooks"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", itself.as_str())
                .set_body_json(json!([{"id": 1}])),
        )
        .mount(&server)
        .await;
    let error = bounded(client(&server).get_all::<Value>("/repos/o/r/hooks"))
        .await
        .unwrap_err();
    assert!(matches!(error, GitHubError::LinkLoop(_)), "{error}");
}

#[test]
fn the_api_must_be_https_unless_it_is_on_this_machine() {
    let settings = |base_url: &str| ClientSettings {
        base_url: base_url.into(),
        credentials: Credentials::Token(SecretString::from("ghp_test")),
        timeout: Duration::from_secs(5),
        max_rate_limit_wait: Duration::from_secs(3),
    };
    let error = GitHubClient::new(settings("http://ghe.example.com/api/v3")).unwrap_err();
    assert!(error.to_string().contains("must be https"), "{error}");
    assert!(GitHubClient::new(settings("https://ghe.example.com/api/v3")).is_ok());
    assert!(GitHubClient::new(settings("http://127.0.0.1:8080")).is_ok());
}

#[tokio::test]
async fn sends_the_token_and_api_version_and_follows_link_pages() {
    let server = MockServer::start().await;
    let next = format!("<{}/repos/o/r/hooks?page=2>; rel=\"next\"", server.uri());
    Mock::given(method("GET"))
        .and(path("/repos/o/r/hooks"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 3}])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/hooks"))
        .and(header("authorization", "Bearer ghp_test"))
        .and(header("x-github-api-version", "2022-11-28"))
        .and(header("accept", "application/vnd.github+json"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", next.as_str())
                .set_body_json(json!([{"id": 1}, {"id": 2}])),
        )
        .mount(&server)
        .await;
    let hooks: Vec<Value> = client(&server).get_all("/repos/o/r/hooks").await.unwrap();
    let ids: Vec<i64> = hooks.iter().map(|h| h["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3]);
}

#[tokio::test]
async fn revalidates_with_the_etag_and_serves_the_cached_body_on_304() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/meta"))
        .and(header("if-none-match", "\"abc\""))
        .respond_with(ResponseTemplate::new(304))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/meta"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"abc\"")
                .set_body_json(json!({"hooks": ["192.30.252.0/22"]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    let first: Value = client.get("/meta").await.unwrap();
    let second: Value = client.get("/meta").await.unwrap();
    assert_eq!(first, second);
    assert_eq!(second["hooks"][0], "192.30.252.0/22");
}

#[tokio::test]
async fn waits_out_a_secondary_rate_limit_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"message": "You have exceeded a secondary rate limit."})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ratelimit-remaining", "4999")
                .insert_header("x-ratelimit-reset", "1900000000")
                .set_body_json(json!({"login": "octocat"})),
        )
        .mount(&server)
        .await;
    let client = client(&server);
    let started = Instant::now();
    let user: Value = client.get("/user").await.unwrap();
    assert_eq!(user["login"], "octocat");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "it waited as asked"
    );
    assert_eq!(
        client.rate_limit(),
        RateLimit {
            remaining: Some(4999),
            reset_at: Some(1_900_000_000)
        }
    );
}

#[tokio::test]
async fn a_spent_limit_longer_than_the_bound_is_an_error_not_a_hang() {
    let server = MockServer::start().await;
    let far = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", far.to_string().as_str())
                .set_body_json(json!({"message": "API rate limit exceeded"})),
        )
        .mount(&server)
        .await;
    let error = client(&server).get::<Value>("/user").await.unwrap_err();
    assert!(matches!(error, GitHubError::RateLimited(wait) if wait > Duration::from_secs(3000)));
}

#[tokio::test]
async fn a_missing_scope_is_named() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/repos/o/r/hooks"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-accepted-oauth-scopes", "admin:repo_hook, repo")
                .insert_header("x-oauth-scopes", "repo")
                .set_body_json(json!({
                    "message": "Must have admin rights to Repository.",
                    "documentation_url": "https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook"
                })),
        )
        .mount(&server)
        .await;
    let error = client(&server)
        .post::<_, Value>("/repos/o/r/hooks", &json!({}))
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("Must have admin rights"), "{text}");
    assert!(text.contains("lacks the scope admin:repo_hook"), "{text}");
}

#[tokio::test]
async fn a_404_that_hides_a_missing_scope_names_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .respond_with(
            ResponseTemplate::new(404)
                .insert_header("x-accepted-oauth-scopes", "admin:org_hook")
                .insert_header("x-oauth-scopes", "admin:repo_hook, repo")
                .set_body_json(json!({
                    "message": "Not Found",
                    "documentation_url": "https://docs.github.com/rest/orgs/webhooks#list-organization-webhooks",
                    "status": "404"
                })),
        )
        .mount(&server)
        .await;
    let error = client(&server)
        .get::<Value>("/orgs/acme/hooks")
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("; the token lacks the scope admin:org_hook"),
        "{error}"
    );
}

#[tokio::test]
async fn a_422_keeps_githubs_messages() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/repos/o/r/hooks"))
        .and(header_exists("content-type"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "message": "Validation Failed",
            "errors": [{"resource": "Hook", "code": "custom", "message": "Hook already exists on this repository"}],
            "documentation_url": "https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook"
        })))
        .mount(&server)
        .await;
    let error = client(&server)
        .post::<_, Value>("/repos/o/r/hooks", &json!({"name": "web"}))
        .await
        .unwrap_err();
    assert!(error.already_exists(), "{error}");
    assert!(error.to_string().contains("Hook already exists"));
}

#[tokio::test]
async fn server_errors_are_retried_and_401_and_404_are_typed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/flaky"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/flaky"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/private"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"})),
        )
        .mount(&server)
        .await;
    let client = client(&server);
    assert_eq!(client.get::<Value>("/flaky").await.unwrap()["ok"], true);
    assert!(matches!(
        client.get::<Value>("/private").await,
        Err(GitHubError::Unauthorized)
    ));
    assert!(matches!(
        client.get::<Value>("/nothing").await,
        Err(GitHubError::NotFound { path, missing_scopes: None }) if path == "/nothing"
    ));
}

mod as_an_app {
    use std::{
        collections::HashSet,
        sync::{Arc, Mutex},
    };

    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    use wiremock::{Request, Respond};

    use super::*;
    use crate::app::{AppClaims, AppInstallation};

    const APP_ID: u64 = 42;
    const INSTALLATION_ID: u64 = 7;
    const PRIVATE_KEY: &str = include_str!("../../testdata/app-private-key.pem");
    const PUBLIC_KEY: &str = include_str!("../../testdata/app-public-key.pem");

    /// GitHub's `POST /app/installations/{id}/access_tokens`: checks the
    /// JWT as GitHub does (RS256 under the app's public key, not expired,
    /// issued by the app) and hands out `ghs_1`, `ghs_2`, ...
    struct AccessTokens {
        minted: Arc<Mutex<Vec<String>>>,
        valid: Arc<Mutex<HashSet<String>>>,
        lifetime: chrono::Duration,
    }

    impl Respond for AccessTokens {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            let jwt = request.headers["authorization"]
                .to_str()
                .unwrap()
                .trim_start_matches("Bearer ");
            let key = DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
            let claims =
                jsonwebtoken::decode::<AppClaims>(jwt, &key, &Validation::new(Algorithm::RS256));
            match claims {
                Ok(data)
                    if data.claims.iss == APP_ID.to_string()
                        && data.claims.exp - data.claims.iat <= 600 => {}
                _ => {
                    return ResponseTemplate::new(401).set_body_json(json!({
                        "message": "A JSON web token could not be decoded",
                        "documentation_url": "https://docs.github.com/rest",
                        "status": "401"
                    }));
                }
            }
            let mut minted = self.minted.lock().unwrap();
            let token = format!("ghs_{}", minted.len() + 1);
            minted.push(token.clone());
            self.valid.lock().unwrap().insert(token.clone());
            let expires_at = chrono::Utc::now() + self.lifetime;
            ResponseTemplate::new(201).set_body_json(json!({
                "token": token,
                "expires_at": expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "permissions": {"organization_hooks": "write", "repository_hooks": "write"},
                "repository_selection": "all"
            }))
        }
    }

    /// Any API resource: 200 for a valid installation token, else 401.
    struct Resource(Arc<Mutex<HashSet<String>>>);

    impl Respond for Resource {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            let token = request.headers["authorization"]
                .to_str()
                .unwrap()
                .trim_start_matches("Bearer ");
            if self.0.lock().unwrap().contains(token) {
                ResponseTemplate::new(200).set_body_json(json!({"token": token}))
            } else {
                ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"}))
            }
        }
    }

    struct Fake {
        server: MockServer,
        minted: Arc<Mutex<Vec<String>>>,
        valid: Arc<Mutex<HashSet<String>>>,
    }

    async fn fake(lifetime: chrono::Duration) -> Fake {
        let server = MockServer::start().await;
        let minted = Arc::new(Mutex::new(Vec::new()));
        let valid = Arc::new(Mutex::new(HashSet::new()));
        Mock::given(method("POST"))
            .and(path(format!(
                "/app/installations/{INSTALLATION_ID}/access_tokens"
            )))
            .respond_with(AccessTokens {
                minted: minted.clone(),
                valid: valid.clone(),
                lifetime,
            })
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/repos/o/r"))
            .respond_with(Resource(valid.clone()))
            .mount(&server)
            .await;
        Fake {
            server,
            minted,
            valid,
        }
    }

    fn app_client(server: &MockServer, app_id: u64) -> GitHubClient {
        let app = AppInstallation::new(app_id, INSTALLATION_ID, &SecretString::from(PRIVATE_KEY))
            .unwrap();
        GitHubClient::new(ClientSettings {
            base_url: server.uri(),
            credentials: Credentials::App(app),
            timeout: Duration::from_secs(5),
            max_rate_limit_wait: Duration::from_secs(3),
        })
        .unwrap()
    }

    async fn token_used(client: &GitHubClient) -> String {
        let answer: Value = client.get("/repos/o/r").await.unwrap();
        answer["token"].as_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn mints_an_installation_token_reuses_it_and_mints_again_when_revoked() {
        let fake = fake(chrono::Duration::hours(1)).await;
        let client = app_client(&fake.server, APP_ID);
        assert_eq!(token_used(&client).await, "ghs_1");
        assert_eq!(token_used(&client).await, "ghs_1");
        assert_eq!(fake.minted.lock().unwrap().len(), 1);

        fake.valid.lock().unwrap().remove("ghs_1");
        assert_eq!(token_used(&client).await, "ghs_2");
        assert_eq!(fake.minted.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_token_about_to_expire_is_replaced_before_use() {
        let fake = fake(chrono::Duration::minutes(2)).await;
        let client = app_client(&fake.server, APP_ID);
        assert_eq!(token_used(&client).await, "ghs_1");
        assert_eq!(token_used(&client).await, "ghs_2");
    }

    #[tokio::test]
    async fn a_jwt_github_refuses_names_the_app_and_installation() {
        let fake = fake(chrono::Duration::hours(1)).await;
        let client = app_client(&fake.server, APP_ID + 1);
        let error = client.get::<Value>("/repos/o/r").await.unwrap_err();
        assert!(
            matches!(&error, GitHubError::InstallationToken { source, .. }
                if matches!(**source, GitHubError::Unauthorized)),
            "{error:?}"
        );
        assert!(
            error.to_string().contains("app 43, installation 7"),
            "{error}"
        );
        assert!(fake.minted.lock().unwrap().is_empty());
    }
}
