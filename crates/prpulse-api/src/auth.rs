//! Bearer tokens (`Authorization: Bearer <token>`) for the API, and the
//! same token in an HttpOnly cookie for the page. Tokens are checked by
//! their SHA-256 against `api_tokens`; a token itself is never logged,
//! stored or echoed.

use std::{future::Future, pin::Pin};

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use prpulse_store::api_tokens::{TOKEN_PREFIX, find_active_token};
use secrecy::SecretString;

use crate::{error::ApiError, routes::AppState};

/// The cookie the page keeps the token in after sign-in.
pub const COOKIE: &str = "prpulse_token";

/// A caller with an active token, by the token's name.
#[derive(Clone, Debug)]
pub struct Caller {
    pub token_name: String,
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(request);
        let state = request.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state = state.expect("AppState is registered");
            authenticate(&state, token?).await
        })
    }
}

/// The token of `Authorization: Bearer <token>` (scheme in any case).
fn bearer(request: &HttpRequest) -> Result<SecretString, ApiError> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::MissingToken)?;
    let value = value.to_str().map_err(|_| ApiError::BadToken)?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::BadToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::MissingToken);
    }
    Ok(SecretString::from(token.trim()))
}

/// Checks `token` against the stored hashes.
pub async fn authenticate(state: &AppState, token: SecretString) -> Result<Caller, ApiError> {
    use secrecy::ExposeSecret;
    // Not even the shape of a token: no need to ask the database.
    let exposed = token.expose_secret();
    if !exposed.starts_with(TOKEN_PREFIX) || exposed.len() != TOKEN_PREFIX.len() + 64 {
        return Err(ApiError::BadToken);
    }
    let client = state
        .pool
        .get()
        .await
        .map_err(prpulse_store::StoreError::from)?;
    match find_active_token(&client, &token).await? {
        Some((_, token_name)) => Ok(Caller { token_name }),
        None => Err(ApiError::BadToken),
    }
}
