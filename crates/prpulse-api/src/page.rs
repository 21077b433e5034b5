//! The page for leads at `/`: sign in with an API token (kept in an
//! HttpOnly, SameSite=Strict cookie), then weekly p50/p90 charts of
//! cycle, review and pickup time, the summary table by team, repository
//! or Jira project (with the projects' issue lead and cycle times), and
//! the pull requests waiting for review. Server-rendered
//! HTML with inline SVG: no scripts, no build step.

mod chart;
mod dora_keys;
mod render;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use chrono::Utc;
use prpulse_store::{StoreError, read::waiting_for_review};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::{
    auth::{COOKIE, authenticate},
    error::ApiError,
    params::{GroupBy, SummaryParams},
    routes::AppState,
    summary::summarise,
};

/// Pull requests the waiting list shows at most.
const WAITING_LIMIT: i64 = 50;

pub async fn dashboard(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let Some(token) = cookie_token(&request) else {
        return html(StatusCode::OK, render::sign_in(None));
    };
    match authenticate(&state, token).await {
        Ok(_) => {}
        Err(ApiError::Store(error)) => return unavailable(&error),
        Err(_) => {
            return html(
                StatusCode::UNAUTHORIZED,
                render::sign_in(Some("That token is unknown or revoked: sign in again.")),
            );
        }
    }
    let mut params = match SummaryParams::parse(request.query_string(), Utc::now().date_naive()) {
        Ok(params) => params,
        Err(error) => {
            return html(
                StatusCode::BAD_REQUEST,
                render::error_page(&error.to_string()),
            );
        }
    };
    // The page groups its table by team, repository or Jira project
    // (team unless asked).
    if !matches!(params.group_by, GroupBy::Repository | GroupBy::JiraProject) {
        params.group_by = GroupBy::Team;
    }
    match view(&state, &params).await {
        Ok(view) => html(StatusCode::OK, render::dashboard(&params, &view)),
        Err(error) => unavailable(&error),
    }
}

/// What the dashboard shows, read for one request.
pub struct View {
    pub weekly: crate::summary::Summary,
    pub table: crate::summary::Summary,
    pub waiting: Vec<prpulse_store::read::WaitingRow>,
    /// The DORA keys of the whole range, ungrouped.
    pub dora: crate::dora::DoraSummary,
}

async fn view(state: &AppState, params: &SummaryParams) -> Result<View, StoreError> {
    let weekly = SummaryParams {
        group_by: GroupBy::None,
        bucket: prpulse_domain::rollup::Bucket::Week,
        ..params.clone()
    };
    let table = SummaryParams {
        bucket: prpulse_domain::rollup::Bucket::None,
        ..params.clone()
    };
    let waiting = {
        let client = state.pool.get().await?;
        waiting_for_review(&client, params.include_bots, WAITING_LIMIT).await?
    };
    let dora = SummaryParams {
        group_by: GroupBy::None,
        bucket: prpulse_domain::rollup::Bucket::None,
        ..params.clone()
    };
    Ok(View {
        weekly: summarise(&state.pool, &weekly).await?,
        table: summarise(&state.pool, &table).await?,
        waiting,
        dora: crate::dora::dora_summary(&state.pool, &dora).await?,
    })
}

#[derive(Deserialize)]
pub struct SignIn {
    token: String,
}

pub async fn sign_in(state: web::Data<AppState>, form: web::Form<SignIn>) -> HttpResponse {
    let token = SecretString::from(form.into_inner().token.trim().to_owned());
    match authenticate(&state, token.clone()).await {
        Ok(_) => {
            let secure = if state.cookie_secure { "; Secure" } else { "" };
            HttpResponse::SeeOther()
                .insert_header(("Location", "/"))
                .insert_header((
                    "Set-Cookie",
                    format!(
                        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
                        token.expose_secret()
                    ),
                ))
                .finish()
        }
        Err(ApiError::Store(error)) => unavailable(&error),
        Err(_) => html(
            StatusCode::UNAUTHORIZED,
            render::sign_in(Some("That token is unknown or revoked.")),
        ),
    }
}

pub async fn sign_out() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", "/"))
        .insert_header((
            "Set-Cookie",
            format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
        ))
        .finish()
}

/// The token of the sign-in cookie, read from the `Cookie` header.
fn cookie_token(request: &HttpRequest) -> Option<SecretString> {
    request
        .headers()
        .get_all("cookie")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| SecretString::from(value.to_owned()))
        .filter(|token| !token.expose_secret().is_empty())
}

fn unavailable(error: &StoreError) -> HttpResponse {
    tracing::warn!(error = %error, "page query failed");
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        render::error_page("The database cannot answer right now; try again."),
    )
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        // Nothing but our own inline styles and forms: no scripts at all.
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}
