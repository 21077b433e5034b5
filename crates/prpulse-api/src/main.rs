use prpulse_api::{ApiConfig, Application};
use prpulse_runtime::{Env, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let config = ApiConfig::from_env(&Env::from_process())?;
    Application::build(config).await?.run_until_stopped().await
}
