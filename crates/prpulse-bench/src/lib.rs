//! prpulse-bench: how close prpulse comes to what its RabbitMQ and
//! Postgres can do on the same machine, measured side by side in one run
//! against the real binaries (README, "Benchmarks").
//!
//! Each run has its own database (migrated, dropped after) and its own
//! exchanges and queues (deleted after): `prpulse-testkit`, the harness
//! the end-to-end tests stand on too, which also builds the payloads.

pub mod broker;
pub mod config;
pub mod cpu;
pub mod database;
pub mod dora;
pub mod drain;
pub mod e2e;
pub mod ingest;
pub mod load;
pub mod peers;
pub mod receiver;
pub mod report;
pub mod rss;
pub mod sql_ceiling;
pub mod summary;
pub mod workload;

use std::time::Duration;

use prpulse_testkit::{Stack, StackOptions};

pub use config::BenchConfig;
use report::{DrainDetail, LatencySummary, Machine, Report, Settings};

/// Runs every phase, prints the table and writes the JSON.
pub async fn run(config: &BenchConfig) -> anyhow::Result<()> {
    let report = measure(config).await?;
    print!("{}", report.table());
    let path = report.write(&config.out_dir)?;
    println!("written to {}", path.display());
    Ok(())
}

pub async fn measure(config: &BenchConfig) -> anyhow::Result<Report> {
    let started_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let deliveries = workload::histories(config.deliveries, config.repositories, config.people);
    let (payload_mean_bytes, payload_max_bytes) = workload::sizes(&deliveries);
    let log_file = std::env::temp_dir().join(format!("prpulse-bench-{}.log", std::process::id()));
    let mut stack = Stack::start_with(StackOptions {
        workers: 0,
        amqp_url: Some(config.amqp_url.clone()),
        admin_database_url: Some(config.database_url.clone()),
        name: "prpulse_bench",
        delivery_limit: 20,
        retry_delays: prpulse_queue::topology::DEFAULT_RETRY_DELAYS.to_vec(),
        log_file: Some(log_file.clone()),
        // The global rate limit is not what is measured here.
        ingest_env: vec![("PRPULSE_VERIFIED_PER_SECOND".into(), "1000000".into())],
        worker_env: config.worker_env(),
        ..StackOptions::default()
    })
    .await;
    eprintln!(
        "database {}, topology {}, binaries' logs in {}",
        stack.db.name,
        stack.topology.prefix(),
        log_file.display()
    );
    let seconds = Duration::from_secs_f64(config.seconds);
    let amqp_url = stack.amqp_url().to_owned();
    let work_queue = stack.topology.work_queue();
    let broker_pid = cpu::listener_pid(cpu::url_port(&amqp_url, 5672));
    let postgres_pid = cpu::listener_pid(cpu::url_port(&config.database_url, 5432));
    if broker_pid.is_none() || postgres_pid.is_none() {
        eprintln!(
            "no local process listens on the broker's or Postgres's port: their CPU is not reported"
        );
    }
    let publisher = broker::BenchPublisher::start(&amqp_url, &stack.topology).await?;
    let ingest_client = ingest::IngestClient::new(&stack.ingest_url, config.in_flight)?;

    // Latency first, on a quiet broker: the throughput phases leave tens of
    // thousands of 20 KB messages that RabbitMQ goes on writing out and
    // deleting for seconds after the purge.
    phase("ingest latency");
    let latency_count =
        load::open_loop_count(config.rate, Duration::from_secs_f64(config.latency_seconds));
    let ingest_latency =
        receiver::latency(&ingest_client, &deliveries, config.rate, latency_count).await;
    broker::purge(&amqp_url, &work_queue).await?;
    settle(config).await;

    phase("broker ceiling");
    let broker_cpu = cpu::PhaseCpu::start(None, broker_pid);
    let broker_ceiling = broker::ceiling(&publisher, &deliveries, config.in_flight, seconds).await;
    let broker_ceiling_cpu = broker_cpu.finish(broker_ceiling.completed);
    broker::purge(&amqp_url, &work_queue).await?;
    settle(config).await;

    phase("ingest throughput");
    let ingest = receiver::throughput(
        &ingest_client,
        &deliveries,
        config.in_flight,
        seconds,
        stack.ingest_pid().map(cpu::Meter::Process),
        broker_pid,
    )
    .await;
    broker::purge(&amqp_url, &work_queue).await?;
    settle(config).await;

    if config.peers.is_empty() {
        eprintln!(
            "no --peer given: peers not measured (scripts/bench-peers installs and names them)"
        );
    }
    let (peers, peers_skipped) = peers::measure_all(
        &config.peers,
        config,
        &peers::Yardstick {
            ingest: &ingest,
            deliveries: &deliveries,
            amqp_url: &amqp_url,
            prefix: stack.topology.prefix(),
            log_file: &log_file,
            broker_pid,
        },
    )
    .await;

    let batch_size = config.batch_size();
    phase("database ceiling, plain SQL");
    let sql = sql_ceiling::measure(
        &stack.db,
        &deliveries,
        config.sql_connections,
        batch_size,
        postgres_pid,
    )
    .await?;
    phase("database ceiling, the worker's code");
    let database_ceiling =
        database::ceiling(&stack.db, &deliveries, config.worker_concurrency).await?;
    phase("database ceiling, the worker's code, batched");
    let database_ceiling_batched = database::ceiling_batched(
        &stack.db,
        &deliveries,
        config.worker_concurrency,
        batch_size,
    )
    .await?;

    let servers = drain::Servers {
        postgres: postgres_pid,
        broker: broker_pid,
    };
    phase("worker drain, 1 worker");
    let drain_1 = drain::drain(
        &mut stack,
        &publisher,
        &deliveries,
        1,
        config.in_flight,
        servers,
    )
    .await?;
    phase("worker drain, 2 workers");
    let drain_2 = drain::drain(
        &mut stack,
        &publisher,
        &deliveries,
        2,
        config.in_flight,
        servers,
    )
    .await?;

    phase("end to end");
    let end_to_end = e2e::end_to_end(
        &mut stack,
        &ingest_client,
        &deliveries,
        config.e2e_workers,
        config.rate,
        latency_count,
    )
    .await?;
    let ingest_peak_mib = stack.ingest_pid().and_then(rss::peak_mib);
    let worker_peak_mib = [
        drain_1.worker_peak_mib,
        drain_2.worker_peak_mib,
        end_to_end.worker_peak_mib,
    ]
    .into_iter()
    .flatten()
    .reduce(f64::max);
    drop(publisher);
    drop(stack);

    let ratio = |a: f64, b: f64| a / b.max(f64::EPSILON);
    Ok(Report {
        started_at,
        label: config.label.clone(),
        short: config.short,
        machine: Machine {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
        },
        settings: Settings {
            in_flight: config.in_flight,
            deliveries: deliveries.len(),
            repositories: config.repositories,
            people: config.people,
            payload_mean_bytes,
            payload_max_bytes,
            worker_concurrency: config.worker_concurrency,
            sql_connections: config.sql_connections,
            worker_env: config.worker_env.clone(),
            e2e_workers: config.e2e_workers,
            batch_size: Some(batch_size),
        },
        ingest_ratio: ratio(ingest.throughput.per_second, broker_ceiling.per_second),
        broker_ceiling,
        broker_ceiling_cpu,
        ingest_cpu: ingest.cpu,
        ingest: ingest.throughput,
        ingest_latency: LatencySummary::of(config.rate, &ingest_latency),
        peers,
        peers_skipped,
        drain_1_ratio: ratio(drain_1.throughput.per_second, database_ceiling.per_second),
        drain_2_ratio: ratio(drain_2.throughput.per_second, database_ceiling.per_second),
        drain_1_vs_sql: DrainDetail::of(&drain_1, &sql),
        drain_2_vs_sql: DrainDetail::of(&drain_2, &sql),
        sql_ceilings: sql,
        database_ceiling,
        database_ceiling_batched: (batch_size > 1).then_some(database_ceiling_batched),
        drain_1_worker: drain_1.throughput,
        drain_2_workers: drain_2.throughput,
        end_to_end: LatencySummary::of(config.rate, &end_to_end.committed),
        end_to_end_ingest: LatencySummary::of(config.rate, &end_to_end.ingest),
        end_to_end_missing: end_to_end.missing,
        ingest_peak_mib,
        worker_peak_mib,
    })
}

/// Gives the broker time to finish writing out and deleting what a
/// throughput phase left, so it does not weigh on the next phase.
pub(crate) async fn settle(config: &BenchConfig) {
    let pause = if config.short { 200 } else { 3000 };
    tokio::time::sleep(Duration::from_millis(pause)).await;
}

fn phase(name: &str) {
    eprintln!("== {name}");
}
