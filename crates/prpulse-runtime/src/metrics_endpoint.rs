//! `GET /metrics` in Prometheus text format, on its own address so it can
//! stay private while the webhook endpoint faces the internet; with
//! `/livez` (the process answers) and `/readyz` (it does its work: for a
//! worker, it is consuming) for the probes of a binary without a port of
//! its own.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use actix_web::{App, HttpResponse, HttpServer, dev::Server, web};
use prometheus::{Encoder, IntGaugeVec, Opts, Registry, TextEncoder};

/// Registers `prpulse_build_info{binary, version}` (always 1).
pub fn register_build_info(registry: &Registry, binary: &str) {
    let info = IntGaugeVec::new(
        Opts::new(
            "prpulse_build_info",
            "Build of the running binary; always 1.",
        ),
        &["binary", "version"],
    )
    .expect("static metric definition is valid");
    info.with_label_values(&[binary, env!("CARGO_PKG_VERSION")])
        .set(1);
    registry
        .register(Box::new(info))
        .expect("build info is registered once per registry");
}

/// Whether the binary is doing its work, as `/readyz` tells it.
#[derive(Clone, Debug)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn new(ready: bool) -> Self {
        Self(Arc::new(AtomicBool::new(ready)))
    }

    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Binds and returns the server (not yet running) and its bound address.
/// It does not listen for signals: the owner stops it with its handle.
pub fn serve(
    registry: Registry,
    readiness: Readiness,
    addr: SocketAddr,
) -> std::io::Result<(Server, SocketAddr)> {
    let registry = web::Data::new(registry);
    let readiness = web::Data::new(readiness);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(registry.clone())
            .app_data(readiness.clone())
            .route("/metrics", web::get().to(render))
            .route("/livez", web::get().to(HttpResponse::Ok))
            .route("/readyz", web::get().to(ready))
    })
    .workers(1)
    .disable_signals()
    .bind(addr)?;
    let bound = server.addrs()[0];
    Ok((server.run(), bound))
}

async fn ready(readiness: web::Data<Readiness>) -> HttpResponse {
    if readiness.is_ready() {
        HttpResponse::Ok().body("ready")
    } else {
        HttpResponse::ServiceUnavailable().body("not ready")
    }
}

async fn render(registry: web::Data<Registry>) -> HttpResponse {
    let mut buffer = Vec::new();
    match TextEncoder::new().encode(&registry.gather(), &mut buffer) {
        Ok(()) => HttpResponse::Ok()
            .content_type(prometheus::TEXT_FORMAT)
            .body(buffer),
        Err(error) => HttpResponse::InternalServerError().body(error.to_string()),
    }
}
