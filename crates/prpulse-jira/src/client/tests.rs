use super::*;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_partial_json, header, method, path},
};

fn spec(secret: Option<&str>) -> WebhookSpec {
    WebhookSpec {
        name: "prpulse acme".into(),
        url: "https://prpulse.example.com/webhooks/jira/acme".into(),
        events: vec!["jira:issue_created".into(), "jira:issue_updated".into()],
        projects: vec!["ABC".into(), "OPS".into()],
        secret: secret.map(|s| SecretString::from(s.to_owned())),
    }
}

fn client(server: &MockServer) -> JiraClient {
    JiraClient::new(
        &server.uri(),
        SecretString::from("pat".to_owned()),
        Duration::from_secs(5),
    )
    .unwrap()
}

#[tokio::test]
async fn data_center_10_gets_a_signed_webhook_and_old_servers_a_url_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/2/serverInfo"))
        .and(header("authorization", "Bearer pat"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"version": "10.3.1", "versionNumbers": [10, 3, 1]})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/jira-webhook/1.0/webhooks"))
        .and(body_partial_json(json!({"configuration": {"SECRET": "s3cret"},
            "filters": {"issue-related-events-section": "project in (ABC, OPS)"}})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": 7, "name": "prpulse acme", "url": "https://prpulse.example.com/webhooks/jira/acme",
            "events": ["jira:issue_created", "jira:issue_updated"], "active": true, "scopeType": "global",
            "configuration": {}, "createdDate": 1, "updatedDate": 1})))
        .mount(&server)
        .await;
    let jira = client(&server);
    assert_eq!(jira.webhook_api().await.unwrap(), WebhookApi::Signed);
    let made = jira
        .create_webhook(WebhookApi::Signed, &spec(Some("s3cret")))
        .await
        .unwrap();
    assert_eq!(made.id, 7);

    let old = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/2/serverInfo"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"versionNumbers": [8, 20, 1]})),
        )
        .mount(&old)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/webhooks/1.0/webhook"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "name": "prpulse acme", "events": [], "url": "https://x/webhooks/jira/acme/t",
            "filter": "", "excludeIssueDetails": false, "enabled": true,
            "self": "http://localhost:8090/rest/webhooks/1.0/webhook/5",
            "lastUpdatedUser": "user", "lastUpdated": 1383247225784u64})))
        .mount(&old)
        .await;
    let jira = client(&old);
    assert_eq!(jira.webhook_api().await.unwrap(), WebhookApi::UrlToken);
    assert_eq!(
        jira.create_webhook(WebhookApi::UrlToken, &spec(None))
            .await
            .unwrap()
            .id,
        5
    );
}

#[tokio::test]
async fn refusals_name_what_jira_said() {
    let server = MockServer::start().await;
    for (status, id) in [(401, 1), (403, 2), (404, 3), (500, 4)] {
        Mock::given(method("DELETE"))
            .and(path(format!("/rest/webhooks/1.0/webhook/{id}")))
            .respond_with(ResponseTemplate::new(status).set_body_string("nope"))
            .mount(&server)
            .await;
    }
    let jira = client(&server);
    let error = jira
        .delete_webhook(WebhookApi::UrlToken, 1)
        .await
        .unwrap_err();
    assert!(matches!(error, JiraError::Unauthorized(_)), "{error}");
    assert!(error.to_string().contains("401"));
    let error = jira
        .delete_webhook(WebhookApi::UrlToken, 2)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("not a Jira administrator"),
        "{error}"
    );
    assert!(
        !jira.delete_webhook(WebhookApi::UrlToken, 3).await.unwrap(),
        "404 on delete is gone already"
    );
    let error = jira
        .delete_webhook(WebhookApi::UrlToken, 4)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("500") && error.to_string().contains("nope"),
        "{error}"
    );
}

#[test]
fn a_webhook_matches_its_spec_whatever_the_event_order() {
    let spec = spec(None);
    let mut hook = Webhook {
        id: 1,
        url: spec.url.clone(),
        events: vec!["jira:issue_updated".into(), "jira:issue_created".into()],
        jql: spec.jql(),
    };
    assert!(hook.matches(&spec));
    hook.events.pop();
    assert!(!hook.matches(&spec));
}

#[test]
fn plain_http_is_for_loopback_only() {
    let token = || SecretString::from("t".to_owned());
    assert!(JiraClient::new("http://jira.example.com", token(), Duration::from_secs(1)).is_err());
    assert!(
        JiraClient::new(
            "https://jira.example.com/jira",
            token(),
            Duration::from_secs(1)
        )
        .is_ok()
    );
}
