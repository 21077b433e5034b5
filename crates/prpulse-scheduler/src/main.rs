use prpulse_runtime::{Env, shutdown, telemetry};
use prpulse_scheduler::{Scheduler, SchedulerConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let config = SchedulerConfig::from_env(&Env::from_process())?;
    Scheduler::build(config)
        .await?
        .run_until_stopped(shutdown::on_signal())
        .await
}
