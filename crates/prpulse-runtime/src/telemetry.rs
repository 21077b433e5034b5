use tracing_subscriber::{EnvFilter, fmt};

/// Logs to stdout, filtered by `RUST_LOG` (default `info`), as JSON when
/// `PRPULSE_LOG_FORMAT=json`. Safe to call more than once.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("PRPULSE_LOG_FORMAT").is_ok_and(|format| format == "json");
    let builder = fmt().with_env_filter(filter).with_target(false);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
