use clap::Parser;
use prpulse_bench::dora::{DoraBench, run};

/// How fast the DORA read side answers over a synthetic history. Build
/// the binaries first (`cargo build --bins`): it starts
/// target/<profile>/prpulse-api.
#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 10)]
    repositories: u32,
    #[arg(long, default_value_t = 20_000)]
    pull_requests: u32,
    #[arg(long, default_value_t = 5_000)]
    deploys: u32,
    #[arg(long, default_value_t = 350)]
    incidents: u32,
    #[arg(long, default_value_t = 10)]
    requests: u32,
    #[arg(
        long,
        env = "PRPULSE_TEST_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    /// Keep the seeded database (for EXPLAIN ANALYZE).
    #[arg(long)]
    keep: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    run(&DoraBench {
        repositories: args.repositories,
        pull_requests: args.pull_requests,
        deploys: args.deploys,
        incidents: args.incidents,
        requests: args.requests,
        database_url: args.database_url,
        keep: args.keep,
    })
    .await
}
