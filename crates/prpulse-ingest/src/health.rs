//! `/livez` (the process answers) and `/readyz` (it can accept deliveries:
//! the broker link is up and Postgres answers).

use std::time::Duration;

use actix_web::{HttpResponse, web};
use prpulse_queue::Publisher;
use prpulse_store::Pool;

pub struct Readiness {
    pub publisher: Publisher,
    pub pool: Pool,
}

pub async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "alive" }))
}

pub async fn readyz(readiness: web::Data<Readiness>) -> HttpResponse {
    let broker = readiness.publisher.is_ready();
    let database = matches!(
        tokio::time::timeout(
            Duration::from_secs(2),
            prpulse_store::pool::ping(&readiness.pool)
        )
        .await,
        Ok(Ok(()))
    );
    let body = serde_json::json!({ "broker": broker, "database": database });
    if broker && database {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
