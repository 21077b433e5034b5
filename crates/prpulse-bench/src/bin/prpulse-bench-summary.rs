use clap::Parser;
use prpulse_bench::summary::{SummaryBench, run};

/// How fast prpulse-api answers a summary grouped by team and week, and
/// its peak memory. Build the binaries first (`cargo build --release
/// --bins`): it starts target/<profile>/prpulse-api.
#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    pull_requests: u32,
    #[arg(long, default_value_t = 200)]
    requests: u32,
    #[arg(
        long,
        env = "PRPULSE_TEST_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    run(&SummaryBench {
        pull_requests: args.pull_requests,
        requests: args.requests,
        database_url: args.database_url,
    })
    .await
}
