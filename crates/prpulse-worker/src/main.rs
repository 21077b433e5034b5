use prpulse_runtime::{Env, shutdown, telemetry};
use prpulse_worker::{Worker, WorkerConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let config = WorkerConfig::from_env(&Env::from_process())?;
    Worker::build(config)
        .await?
        .run_until_stopped(shutdown::on_signal())
        .await
}
