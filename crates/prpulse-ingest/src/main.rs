use prpulse_ingest::{Application, IngestConfig};
use prpulse_runtime::{Env, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let config = IngestConfig::from_env(&Env::from_process())?;
    Application::build(config).await?.run_until_stopped().await
}
