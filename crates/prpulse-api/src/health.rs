//! `/livez` (the process answers) and `/readyz` (Postgres answers, so the
//! API can).

use std::time::Duration;

use actix_web::{HttpResponse, web};

use crate::routes::AppState;

pub async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "alive" }))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = matches!(
        tokio::time::timeout(
            Duration::from_secs(2),
            prpulse_store::pool::ping(&state.pool)
        )
        .await,
        Ok(Ok(()))
    );
    let body = serde_json::json!({ "database": database });
    if database {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
