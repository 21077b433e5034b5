use clap::Parser;
use prpulse_bench::BenchConfig;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let config = BenchConfig::parse().resolved();
    prpulse_bench::run(&config).await
}
