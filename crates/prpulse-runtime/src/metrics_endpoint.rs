//! `GET /metrics` in Prometheus text format, on its own address so it can
//! stay private while the webhook endpoint faces the internet.

use std::net::SocketAddr;

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

/// Binds and returns the server (not yet running) and its bound address.
/// It does not listen for signals: the owner stops it with its handle.
pub fn serve(registry: Registry, addr: SocketAddr) -> std::io::Result<(Server, SocketAddr)> {
    let registry = web::Data::new(registry);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(registry.clone())
            .route("/metrics", web::get().to(render))
    })
    .workers(1)
    .disable_signals()
    .bind(addr)?;
    let bound = server.addrs()[0];
    Ok((server.run(), bound))
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
