//! `POST /webhooks/github`.

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
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use prpulse_domain::{EventDisposition, EventName};
use prpulse_github::{DeliveryHeaders, payload::ActionOnly};
use prpulse_queue::{Envelope, Publisher, Source};
use serde::Deserialize;
use tracing::{Instrument, error, info, info_span, warn};

use crate::{
    allowlist::SourceAllowlist,
    error::IngestError,
    limits::SourceLimits,
    metrics::{IngestMetrics, event_label},
    secrets::SecretResolver,
};

pub struct WebhookState {
    pub secrets: SecretResolver,
    pub publisher: Publisher,
    pub metrics: IngestMetrics,
    pub limits: SourceLimits,
    pub allowlist: SourceAllowlist,
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
    let source = state.limits.source(peer, header("x-forwarded-for"));
    let result = async {
        if !state.allowlist.allows(source) {
            return Err(IngestError::SourceNotAllowed);
        }
        if let Some(retry_after) = state.limits.blocked_for(source) {
            return Err(IngestError::SourceRateLimited { retry_after });
        }
        let body = read_body(payload, header(CONTENT_LENGTH.as_str()), &state).await?;
        if body.is_empty() {
            return Err(IngestError::EmptyBody);
        }
        accept(parsed?, content_type, &body, &state).await
    }
    .instrument(span.clone())
    .await;

    let response = match result {
        Ok(response) => response,
        Err(refusal) => {
            let _entered = span.enter();
            if refusal.counts_against_source() {
                state.limits.record_failure(source);
            }
            let status = refusal.status_code();
            if status.is_server_error() {
                error!(error = %refusal, reason = refusal.reason(), "delivery not accepted");
            } else {
                warn!(error = %refusal, reason = refusal.reason(), %source, "delivery refused");
            }
            state
                .metrics
                .rejections
                .with_label_values(&[refusal.reason()])
                .inc();
            refusal.error_response()
        }
    };
    let status = response.status().as_u16().to_string();
    state
        .metrics
        .requests
        .with_label_values(&[event_label(event.as_ref()), &status])
        .inc();
    state
        .metrics
        .request_duration
        .with_label_values(&[&status])
        .observe(started.elapsed().as_secs_f64());
    response
}

async fn accept(
    headers: DeliveryHeaders,
    content_type: &str,
    body: &[u8],
    state: &WebhookState,
) -> Result<HttpResponse, IngestError> {
    let signature = headers.signature.clone()?;
    state
        .secrets
        .verify(headers.hook_id, body, &signature)
        .await?;
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
            let payload = json_payload(content_type, body)?;
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
            info!(routing_key = %envelope.routing_key(), "delivery enqueued");
            Ok(HttpResponse::Accepted().json(serde_json::json!({
                "delivery_id": envelope.delivery_id.as_str(),
                "queued": true,
            })))
        }
    }
}

/// Reads the body within the size cap and the body deadline. A declared
/// length over the cap is refused before a byte is read.
async fn read_body(
    mut payload: web::Payload,
    content_length: Option<&str>,
    state: &WebhookState,
) -> Result<Bytes, IngestError> {
    let limit = state.max_body_bytes;
    let declared = content_length.and_then(|length| length.trim().parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(IngestError::TooLarge { limit });
    }
    let read = async {
        let mut body = BytesMut::with_capacity(declared.unwrap_or(0));
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|error| IngestError::BadBody(error.to_string()))?;
            if body.len() + chunk.len() > limit {
                return Err(IngestError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    tokio::time::timeout(state.body_timeout, read)
        .await
        .map_err(|_| IngestError::BodyTimeout(state.body_timeout))?
}

fn envelope(headers: &DeliveryHeaders, event: EventName, action: Option<String>) -> Envelope {
    Envelope {
        delivery_id: headers.delivery_id.clone(),
        event,
        action,
        hook_id: headers.hook_id,
        received_at: chrono::Utc::now(),
        source: Source::Webhook,
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
