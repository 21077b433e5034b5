//! `POST /webhooks/github`. Everything that can be refused from the head
//! alone (source outside the allow-list, headers, signature format, size,
//! a hook with no secret to check against) is refused before the body is
//! read; the body is then held within the body budget, verified, and only
//! a refusal is charged to the sender's failure budget, so a verified
//! delivery is never refused for what others sent from its address.

use std::{
    borrow::Cow,
    net::IpAddr,
    time::{Duration, Instant},
};

use actix_web::{
    HttpRequest, HttpResponse, ResponseError,
    http::header::{self, CONTENT_LENGTH},
    web,
};
use ipnet::IpNet;
use prpulse_domain::{EventDisposition, EventName};
use prpulse_github::{DeliveryHeaders, payload::ActionOnly};
use prpulse_queue::{Envelope, Publisher, Source as EnvelopeSource};
use serde::{Deserialize, Serialize};
use tracing::{Instrument, debug, error, info, info_span, warn};

use crate::{
    allowlist::SourceAllowlist,
    body::{Body, read_body},
    budget::BodyBudget,
    error::IngestError,
    limits::{FailureKey, HookKey, SourceLimits},
    metrics::{IngestMetrics, event_label},
    secrets::SecretResolver,
    source::Source,
};

pub struct WebhookState {
    pub secrets: SecretResolver,
    pub publisher: Publisher,
    pub metrics: IngestMetrics,
    pub limits: SourceLimits,
    pub trusted_proxies: Vec<IpNet>,
    pub allowlist: SourceAllowlist,
    pub bodies: BodyBudget,
    pub max_body_bytes: usize,
    pub body_timeout: Duration,
}

pub async fn receive(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<WebhookState>,
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
    let parsed = DeliveryHeaders::parse(header);
    let span = match &parsed {
        Ok(headers) => info_span!(
            "delivery",
            delivery_id = %headers.delivery_id,
            event = %headers.event,
            hook_id = headers.hook_id
        ),
        Err(_) => info_span!("delivery"),
    };
    let event = parsed.as_ref().ok().map(|headers| headers.event.clone());
    let content_type = header(header::CONTENT_TYPE.as_str()).unwrap_or_default();
    let forwarded_for = request
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok());
    let source = Source::resolve(peer, forwarded_for, &state.trusted_proxies);
    let mut charged_to = HookKey::Unknown;
    let result = async {
        // The one refusal by source alone: it costs nothing to decide and
        // GitHub's own addresses are never outside the list.
        if !state.allowlist.allows(source.addr) {
            return Err(IngestError::SourceNotAllowed);
        }
        let headers = parsed?;
        let signature = headers.signature.clone()?;
        let declared =
            header(CONTENT_LENGTH.as_str()).and_then(|length| length.trim().parse::<usize>().ok());
        if declared.is_some_and(|length| length > state.max_body_bytes) {
            return Err(IngestError::TooLarge {
                limit: state.max_body_bytes,
            });
        }
        let candidates = state.secrets.candidates(headers.hook_id).await?;
        charged_to = candidates.hook_key();
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
        state.secrets.verify(&candidates, &body, &signature).await?;
        accept(headers, content_type, body, &state).await
    }
    .instrument(span.clone())
    .await;

    let key = FailureKey {
        source: source.key,
        hook: charged_to,
    };
    answer(
        result,
        event_label(event.as_ref()),
        key,
        source,
        &span,
        started,
        &state,
    )
}

/// How every delivery's handling ends, whatever its source: a refusal is
/// counted by reason and charged to `key`'s budget ([`answer_refusal`]);
/// every answer is counted by event and status, and timed.
pub(crate) fn answer(
    result: Result<HttpResponse, IngestError>,
    event_label: &str,
    key: FailureKey,
    source: Source,
    span: &tracing::Span,
    started: Instant,
    state: &WebhookState,
) -> HttpResponse {
    let response = match result {
        Ok(response) => response,
        Err(refusal) => {
            let _entered = span.enter();
            state
                .metrics
                .rejections
                .with_label_values(&[refusal.reason()])
                .inc();
            answer_refusal(refusal, key, source, state)
        }
    };
    // `as_str` is the code's digits without formatting them anew.
    let status = response.status();
    state
        .metrics
        .requests
        .with_label_values(&[event_label, status.as_str()])
        .inc();
    state
        .metrics
        .request_duration
        .with_label_values(&[status.as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Charges a refusal to the sender's budget; once that is spent, a 4xx
/// becomes 429 with `Retry-After` (and is logged at debug, so a flood
/// does not flood the logs too). 5xx stay as they are: they say
/// "redeliver later", which is still true.
pub(crate) fn answer_refusal(
    refusal: IngestError,
    key: FailureKey,
    source: Source,
    state: &WebhookState,
) -> HttpResponse {
    let spent = refusal
        .counts_against_source()
        .then(|| state.limits.record_failure(key))
        .flatten();
    let status = refusal.status_code();
    if let Some(retry_after) = spent.filter(|_| status.is_client_error()) {
        debug!(error = %refusal, reason = refusal.reason(), %source, "delivery refused; budget spent");
        return IngestError::SourceRateLimited { retry_after }.error_response();
    }
    if status.is_server_error() {
        error!(error = %refusal, reason = refusal.reason(), "delivery not accepted");
    } else {
        warn!(error = %refusal, reason = refusal.reason(), %source, "delivery refused");
    }
    refusal.error_response()
}

async fn accept(
    headers: DeliveryHeaders,
    content_type: &str,
    body: Body,
    state: &WebhookState,
) -> Result<HttpResponse, IngestError> {
    state
        .limits
        .admit_verified()
        .map_err(|retry_after| IngestError::GlobalRateLimited { retry_after })?;
    match headers.event.disposition() {
        EventDisposition::Ping => {
            info!("ping verified");
            Ok(HttpResponse::Ok().json(serde_json::json!({ "pong": true })))
        }
        EventDisposition::Ignore => Ok(HttpResponse::NoContent().finish()),
        EventDisposition::Enqueue => {
            let body = body.into_contiguous();
            let payload = json_payload(content_type, &body)?;
            let action = action_of(&payload)?;
            state.metrics.payload_bytes.observe(payload.len() as f64);
            let envelope = envelope(&headers, headers.event.clone(), action);
            let publishing = Instant::now();
            state
                .publisher
                .publish_delivery(&envelope, &payload)
                .await?;
            state
                .metrics
                .publish_duration
                .observe(publishing.elapsed().as_secs_f64());
            // Debug, not info: a line per accepted delivery is written
            // synchronously on the request's thread and adds nothing the
            // requests counter does not say; refusals stay at warn/error.
            debug!(routing_key = %envelope.routing_key(), "delivery enqueued");
            Ok(HttpResponse::Accepted().json(Queued {
                delivery_id: envelope.delivery_id.as_str(),
                queued: true,
            }))
        }
    }
}

/// The 202 body, `{"delivery_id":…,"queued":true}`, serialized straight
/// from the envelope's id rather than through a `serde_json::Value`.
#[derive(Serialize)]
struct Queued<'a> {
    delivery_id: &'a str,
    queued: bool,
}

fn envelope(headers: &DeliveryHeaders, event: EventName, action: Option<String>) -> Envelope {
    Envelope {
        delivery_id: headers.delivery_id.clone(),
        event,
        action,
        hook_id: headers.hook_id,
        received_at: chrono::Utc::now(),
        source: EnvelopeSource::Webhook,
    }
}

/// GitHub posts either JSON or a form with the JSON in `payload`; the
/// signature covers the raw body either way, so this runs after verifying.
fn json_payload<'a>(content_type: &str, body: &'a [u8]) -> Result<Cow<'a, [u8]>, IngestError> {
    #[derive(Deserialize)]
    struct Form {
        payload: String,
    }
    let is_form = content_type.split(';').next().is_some_and(|mime| {
        mime.trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    });
    if !is_form {
        return Ok(Cow::Borrowed(body));
    }
    let form: Form = serde_urlencoded::from_bytes(body).map_err(|error| {
        IngestError::BadPayload(format!("form body without a payload field: {error}"))
    })?;
    Ok(Cow::Owned(form.payload.into_bytes()))
}

/// The payload must be a JSON object; its `action` goes in the routing key.
fn action_of(payload: &[u8]) -> Result<Option<String>, IngestError> {
    serde_json::from_slice::<ActionOnly>(payload)
        .map(|parsed| parsed.action)
        .map_err(|error| IngestError::BadPayload(format!("not a JSON object: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_are_unwrapped_and_json_passes_through() {
        let form = b"payload=%7B%22action%22%3A%22opened%22%7D";
        let json = json_payload("application/x-www-form-urlencoded", form).unwrap();
        assert_eq!(&*json, br#"{"action":"opened"}"#);
        let raw = br#"{"zen":"x"}"#;
        assert_eq!(&*json_payload("application/json", raw).unwrap(), raw);
        assert!(matches!(
            json_payload(
                "application/x-www-form-urlencoded; charset=utf-8",
                b"other=1"
            ),
            Err(IngestError::BadPayload(_))
        ));
    }

    #[test]
    fn the_accepted_body_is_the_delivery_id_and_queued() {
        let body = serde_json::to_string(&Queued {
            delivery_id: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            queued: true,
        })
        .unwrap();
        assert_eq!(
            body,
            r#"{"delivery_id":"72d3162e-cc78-11e3-81ab-4c9367dc0958","queued":true}"#
        );
    }

    #[test]
    fn action_comes_from_a_json_object_only() {
        assert_eq!(
            action_of(br#"{"action":"closed","x":[1]}"#).unwrap(),
            Some("closed".into())
        );
        assert_eq!(action_of(br#"{"ref":"refs/heads/main"}"#).unwrap(), None);
        assert!(action_of(b"not json").is_err());
        assert!(action_of(b"[1,2]").is_err());
    }
}
