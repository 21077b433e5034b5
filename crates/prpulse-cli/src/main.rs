use clap::Parser;
use prpulse_cli::{Cli, run};
use prpulse_runtime::Env;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    run(Cli::parse(), &Env::from_process()).await
}
