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
    /// Where the JSON result of the run is written.
    #[arg(long, env = "PRPULSE_BENCH_OUT", default_value = "bench/results")]
    out_dir: std::path::PathBuf,
    /// A label for this run, kept in its JSON (e.g. `narrow-query`).
    #[arg(long, env = "PRPULSE_BENCH_LABEL")]
    label: Option<String>,
    /// Leave prpulse-api's summary rollup unbuilt: every summary reads
    /// raw rows (the figures before the rollup, on the same build).
    #[arg(long)]
    no_rollup: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    run(&SummaryBench {
        pull_requests: args.pull_requests,
        requests: args.requests,
        database_url: args.database_url,
        out_dir: args.out_dir,
        label: args.label,
        no_rollup: args.no_rollup,
    })
    .await
}
