//! `POST /webhooks/jira/{integration}` (deliveries signed
//! `X-Hub-Signature: sha256=…`, Jira DC 10+) and
//! `POST /webhooks/jira/{integration}/{token}` (older servers, unsigned:
//! the random token in the URL, compared in constant time). The same
//! contract as GitHub's path (`webhook.rs`): everything decidable from the
//! head is refused before the body is read, the body is held within the
//! body budget, verification comes before anything looks at the body, a
//! refusal is charged to the sender's failure budget, and 202 only after
//! the broker confirmed. Jira sends no delivery id; it is derived from the
//! body (`prpulse_jira::delivery`).

use std::{
    net::IpAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use actix_web::{HttpRequest, HttpResponse, http::header::CONTENT_LENGTH, web};
use prpulse_domain::EventName;
use prpulse_github::{Signature, verify_parts};
use prpulse_jira::{
    IntegrationName, IssueEvent, JiraRefusal, derive_delivery_id, payload::EventOnly,
    refusal::SIGNATURE_HEADER,
};
use prpulse_queue::{Envelope, Source as EnvelopeSource};
use prpulse_store::{
    Keyring, Pool, StoreError,
    jira_integrations::{Verifier, verifier},
};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;
use tracing::{Instrument, debug, info_span};

use crate::{
    body::{Body, read_body},
    error::IngestError,
    limits::{FailureKey, HookKey},
    secrets::SecretCacheSettings,
    source::Source,
    webhook::{WebhookState, answer},
};

/// A mismatch reloads a cached integration at most this often, so a
/// rotated secret is honoured at once without letting bad signatures
/// hammer Postgres.
const REFRESH_AFTER: Duration = Duration::from_secs(1);

struct Lookup {
    fetched: Instant,
    verifier: Option<Verifier>,
}

/// What verifies the deliveries of each integration, remembered like hook
/// secrets (a random integration name costs one query per TTL).
pub struct JiraReceiver {
    pool: Pool,
    cache: moka::future::Cache<IntegrationName, Arc<Lookup>>,
}

impl JiraReceiver {
    pub fn new(pool: Pool, cache: &SecretCacheSettings) -> Self {
        Self {
            pool,
            cache: moka::future::Cache::builder()
                .max_capacity(cache.size)
                .time_to_live(cache.ttl)
                .build(),
        }
    }

    async fn lookup(
        &self,
        key: Option<&Keyring>,
        name: &IntegrationName,
    ) -> Result<Arc<Lookup>, IngestError> {
        let load = async {
            let client = self.pool.get().await?;
            let verifier = verifier(&client, key, name.as_str(), chrono::Utc::now()).await?;
            Ok::<_, StoreError>(Arc::new(Lookup {
                fetched: Instant::now(),
                verifier,
            }))
        };
        self.cache
            .try_get_with(name.clone(), load)
            .await
            .map_err(|error| {
                if error.is_transient() {
                    IngestError::SecretsUnavailable(error)
                } else {
                    IngestError::SecretsMisconfigured(error)
                }
            })
    }

    /// A fresh lookup after a mismatch, unless `seen` is very young.
    async fn refresh(
        &self,
        key: Option<&Keyring>,
        name: &IntegrationName,
        seen: &Arc<Lookup>,
    ) -> Option<Arc<Lookup>> {
        if seen.fetched.elapsed() < REFRESH_AFTER {
            return None;
        }
        self.cache.invalidate(name).await;
        self.lookup(key, name).await.ok()
    }
}

pub async fn receive_signed(
    request: HttpRequest,
    payload: web::Payload,
    path: web::Path<String>,
    state: web::Data<WebhookState>,
    jira: web::Data<JiraReceiver>,
) -> HttpResponse {
    receive(request, payload, path.into_inner(), None, state, jira).await
}

pub async fn receive_with_token(
    request: HttpRequest,
    payload: web::Payload,
    path: web::Path<(String, String)>,
    state: web::Data<WebhookState>,
    jira: web::Data<JiraReceiver>,
) -> HttpResponse {
    let (name, token) = path.into_inner();
    receive(request, payload, name, Some(token), state, jira).await
}

async fn receive(
    request: HttpRequest,
    payload: web::Payload,
    name: String,
    token: Option<String>,
    state: web::Data<WebhookState>,
    jira: web::Data<JiraReceiver>,
) -> HttpResponse {
    let started = Instant::now();
    let peer = request
        .peer_addr()
        .map_or(IpAddr::from([0, 0, 0, 0]), |addr| addr.ip());
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    let forwarded_for = request
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok());
    let source = Source::resolve(peer, forwarded_for, &state.trusted_proxies);
    let span = info_span!("jira_delivery", integration = %name);
    let result = async {
        if !state.allowlist.allows(source.addr) {
            return Err(IngestError::SourceNotAllowed);
        }
        let name = IntegrationName::parse(&name).map_err(|_| JiraRefusal::UnknownIntegration)?;
        let declared =
            header(CONTENT_LENGTH.as_str()).and_then(|length| length.trim().parse::<usize>().ok());
        if declared.is_some_and(|length| length > state.max_body_bytes) {
            return Err(IngestError::TooLarge {
                limit: state.max_body_bytes,
            });
        }
        let lookup = jira.lookup(state.secrets.keyring(), &name).await?;
        // The URL token needs no body: it is checked first. A signed
        // integration's URL has no token, so one there is a wrong URL.
        let signature = match (&lookup.verifier, token.as_deref()) {
            (None, _) => return Err(JiraRefusal::UnknownIntegration.into()),
            (Some(Verifier::UrlToken(expected)), Some(given)) => {
                if !bool::from(expected.expose_secret().ct_eq(given.as_bytes())) {
                    return Err(JiraRefusal::WrongToken.into());
                }
                None
            }
            (Some(Verifier::UrlToken(_)), None) => return Err(JiraRefusal::MissingToken.into()),
            (Some(Verifier::Signed(_)), Some(_)) => {
                return Err(JiraRefusal::UnexpectedToken.into());
            }
            (Some(Verifier::Signed(_)), None) => {
                let given = header(SIGNATURE_HEADER).ok_or(JiraRefusal::MissingSignature)?;
                Some(Signature::parse(given).map_err(|_| JiraRefusal::MalformedSignature)?)
            }
        };
        let mut reservation = state.bodies.reservation(source.key);
        let body = read_body(
            payload,
            declared,
            state.max_body_bytes,
            state.body_timeout,
            &mut reservation,
        )
        .await?;
        if body.is_empty() {
            return Err(IngestError::EmptyBody);
        }
        if let Some(signature) = &signature {
            let signed = |lookup: &Lookup| match &lookup.verifier {
                Some(Verifier::Signed(secrets)) => secrets
                    .iter()
                    .any(|secret| verify_parts(secret.expose_secret(), body.chunks(), signature)),
                _ => false,
            };
            let verified = signed(&lookup)
                || jira
                    .refresh(state.secrets.keyring(), &name, &lookup)
                    .await
                    .is_some_and(|fresh| signed(&fresh));
            if !verified {
                return Err(JiraRefusal::SignatureMismatch.into());
            }
        }
        accept(&name, body, &state).await
    }
    .instrument(span.clone())
    .await;

    let key = FailureKey {
        source: source.key,
        hook: HookKey::Unknown,
    };
    answer(
        result,
        prpulse_jira::EVENT,
        key,
        source,
        &span,
        started,
        &state,
    )
}

/// A verified body: 204 for events prpulse does not subscribe to, else
/// enqueued under its derived id with routing key `jira.<event>`.
async fn accept(
    name: &IntegrationName,
    body: Body,
    state: &WebhookState,
) -> Result<HttpResponse, IngestError> {
    state
        .limits
        .admit_verified()
        .map_err(|retry_after| IngestError::GlobalRateLimited { retry_after })?;
    let body = body.into_contiguous();
    let event: EventOnly = serde_json::from_slice(&body)
        .map_err(|error| IngestError::BadPayload(format!("not a Jira webhook body: {error}")))?;
    if prpulse_jira::JiraEventKind::parse(&event.webhook_event).is_none() {
        return Ok(HttpResponse::NoContent().finish());
    }
    let issue =
        IssueEvent::parse(&body).map_err(|error| IngestError::BadPayload(error.to_string()))?;
    let kind = issue
        .kind
        .ok_or_else(|| IngestError::BadPayload("not an issue event".into()))?;
    let delivery_id = derive_delivery_id(name, kind, &issue)
        .map_err(|error| IngestError::BadPayload(format!("no usable delivery id: {error}")))?;
    let envelope = Envelope {
        delivery_id,
        event: EventName::parse(prpulse_jira::EVENT).expect("a valid event name"),
        action: Some(kind.as_str().to_owned()),
        hook_id: None,
        received_at: chrono::Utc::now(),
        source: EnvelopeSource::Webhook,
    };
    state.metrics.payload_bytes.observe(body.len() as f64);
    let publishing = Instant::now();
    state.publisher.publish_delivery(&envelope, &body).await?;
    state
        .metrics
        .publish_duration
        .observe(publishing.elapsed().as_secs_f64());
    debug!(delivery_id = %envelope.delivery_id, routing_key = %envelope.routing_key(), "Jira delivery enqueued");
    Ok(HttpResponse::Accepted().json(serde_json::json!({
        "delivery_id": envelope.delivery_id.as_str(),
        "queued": true,
    })))
}
