//! The JSON API's handlers: parse, ask the store, answer.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use prpulse_store::{Pool, StoreError, read};
use serde::Serialize;

use crate::{
    auth::Caller,
    dora::dora_summary,
    error::ApiError,
    metrics::ApiMetrics,
    params::{SummaryParams, dora_params, encode_cursor, pull_request_filter},
    summary::summarise,
};

pub struct AppState {
    pub pool: Pool,
    pub metrics: ApiMetrics,
    pub cookie_secure: bool,
}

pub async fn summary(
    _caller: Caller,
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = SummaryParams::parse(request.query_string(), Utc::now().date_naive())?;
    Ok(HttpResponse::Ok().json(summarise(&state.pool, &params).await?))
}

pub async fn dora(
    _caller: Caller,
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = dora_params(request.query_string(), Utc::now().date_naive())?;
    Ok(HttpResponse::Ok().json(dora_summary(&state.pool, &params).await?))
}

#[derive(Serialize)]
struct PullRequestPage {
    pull_requests: Vec<read::PullRequestRow>,
    /// Pass as `cursor` (with the same filters) for the next page; null
    /// on the last.
    next_cursor: Option<String>,
}

pub async fn pull_requests(
    _caller: Caller,
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut filter = pull_request_filter(request.query_string())?;
    let limit = usize::try_from(filter.limit).unwrap_or(0);
    // One row more than asked tells whether there is a next page.
    filter.limit += 1;
    let client = state.pool.get().await.map_err(StoreError::from)?;
    let mut rows = read::pull_requests(&client, &filter).await?;
    let next_cursor = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        encode_cursor(&rows[limit - 1].page_key)
    });
    Ok(HttpResponse::Ok().json(PullRequestPage {
        pull_requests: rows,
        next_cursor,
    }))
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(crate::openapi::DOCUMENT)
}

pub async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({
        "error": "no such resource; see /api/v1/openapi.json",
        "reason": "not_found",
    }))
}
