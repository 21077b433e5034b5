use std::time::Instant;

use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, header_exists, method, path, query_param},
};

use super::*;

fn client(server: &MockServer) -> GitHubClient {
    GitHubClient::new(ClientSettings {
        base_url: server.uri(),
        token: SecretString::from("ghp_test"),
        timeout: Duration::from_secs(5),
        max_rate_limit_wait: Duration::from_secs(3),
    })
    .unwrap()
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
        Err(GitHubError::NotFound { path }) if path == "/nothing"
    ));
}
