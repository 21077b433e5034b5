//! Peers: other receivers of the ingest contract (check the HMAC, publish
//! persistently with confirms, 202 after the confirm), started from a
//! command and measured exactly as ingest is (`--peer NAME=COMMAND`;
//! `scripts/bench-peers` installs and names the two in `../shared/peers`).
//!
//! The command runs under `sh -c` with `PORT`, `SECRET`, `QUEUE`, `AMQP`
//! and `EXCHANGE` (empty: the default exchange, which routes by queue
//! name) in its environment; the peer declares `QUEUE` itself, and the
//! bench deletes it afterwards. A peer that does not start or does not
//! answer 202 is reported as skipped, and the run goes on.

use std::{
    net::TcpListener,
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::Context;
use prpulse_queue::lapin::options::QueueDeleteOptions;
use prpulse_testkit::{broker, stack::WEBHOOK_SECRET};
use serde::Serialize;
use tokio::process::{Child, Command};

use crate::{
    BenchConfig,
    cpu::Meter,
    ingest::IngestClient,
    load,
    receiver::{self, ThroughputFigures},
    report::LatencySummary,
    workload::Prepared,
};

/// `NAME=COMMAND` from the command line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PeerSpec {
    pub name: String,
    pub command: String,
}

pub fn parse_peer(raw: &str) -> Result<PeerSpec, String> {
    match raw.split_once('=') {
        Some((name, command)) if !name.is_empty() && !command.trim().is_empty() => Ok(PeerSpec {
            name: name.to_owned(),
            command: command.to_owned(),
        }),
        _ => Err(format!("expected NAME=COMMAND, got {raw:?}")),
    }
}

/// A running peer, stopped (its whole process group) when dropped.
pub struct Peer {
    pub spec: PeerSpec,
    pub url: String,
    pub queue: String,
    amqp_url: String,
    child: Child,
}

/// How long a peer may take to listen and to confirm its first delivery.
const START_TIMEOUT: Duration = Duration::from_secs(60);

impl Peer {
    /// Starts the peer and waits until it accepts a signed delivery.
    pub async fn start(
        spec: &PeerSpec,
        amqp_url: &str,
        prefix: &str,
        log_file: &Path,
        probe: &Prepared,
    ) -> anyhow::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let queue = format!("{prefix}-peer-{}.work", spec.name);
        let log = || -> anyhow::Result<Stdio> {
            Ok(std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log_file)?
                .into())
        };
        let child = Command::new("sh")
            .arg("-c")
            .arg(&spec.command)
            .env("PORT", port.to_string())
            .env("SECRET", WEBHOOK_SECRET)
            .env("QUEUE", &queue)
            .env("AMQP", amqp_url)
            .env("EXCHANGE", "")
            .stdin(Stdio::null())
            .stdout(log()?)
            .stderr(log()?)
            // Its own process group, so stopping it stops the workers a
            // pre-forking server started too.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting `{}`", spec.command))?;
        let mut peer = Self {
            spec: spec.clone(),
            url: format!("http://127.0.0.1:{port}"),
            queue,
            amqp_url: amqp_url.to_owned(),
            child,
        };
        peer.wait_until_accepting(probe).await?;
        Ok(peer)
    }

    async fn wait_until_accepting(&mut self, probe: &Prepared) -> anyhow::Result<()> {
        let client = IngestClient::new(&self.url, 1)?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("it exited at start ({status})");
            }
            if client.post(probe, &uuid::Uuid::new_v4().to_string()).await {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "no 202 from {} within {START_TIMEOUT:?}",
                self.url
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The peer's processes, for their CPU time.
    pub fn meter(&self) -> Option<Meter> {
        self.child.id().map(Meter::Tree)
    }

    /// Stops the process group and deletes the peer's queue.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.signal_group("-TERM");
        let stopped = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        if stopped.is_err() {
            self.signal_group("-KILL");
        }
        let connection = broker::connect_to(&self.amqp_url).await;
        connection
            .create_channel()
            .await?
            .queue_delete(self.queue.as_str().into(), QueueDeleteOptions::default())
            .await
            .with_context(|| format!("deleting {}", self.queue))?;
        let _ = connection.close(200, "done".into()).await;
        Ok(())
    }

    fn signal_group(&self, signal: &str) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args([signal, "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.signal_group("-KILL");
    }
}

/// One peer's figures, measured as ingest's are.
#[derive(Clone, Debug, Serialize)]
pub struct PeerFigures {
    pub name: String,
    pub command: String,
    pub latency: LatencySummary,
    pub throughput: ThroughputFigures,
    /// Ingest's throughput over the peer's.
    pub ingest_throughput_ratio: f64,
    /// Ingest's CPU per request over the peer's.
    pub ingest_cpu_fraction: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SkippedPeer {
    pub name: String,
    pub reason: String,
}

/// What the run knows of ingest, to compare each peer with.
pub struct Yardstick<'a> {
    pub ingest: &'a ThroughputFigures,
    pub deliveries: &'a [Prepared],
    pub amqp_url: &'a str,
    pub prefix: &'a str,
    pub log_file: &'a Path,
    pub broker_pid: Option<u32>,
}

/// Starts, measures and stops each peer in turn.
pub async fn measure_all(
    specs: &[PeerSpec],
    config: &BenchConfig,
    yardstick: &Yardstick<'_>,
) -> (Vec<PeerFigures>, Vec<SkippedPeer>) {
    let mut measured = Vec::new();
    let mut skipped = Vec::new();
    for spec in specs {
        eprintln!("== peer {}", spec.name);
        match measure_one(spec, config, yardstick).await {
            Ok(figures) => measured.push(figures),
            Err(error) => {
                eprintln!("peer {} skipped: {error:#}", spec.name);
                skipped.push(SkippedPeer {
                    name: spec.name.clone(),
                    reason: format!("{error:#}"),
                });
            }
        }
    }
    (measured, skipped)
}

async fn measure_one(
    spec: &PeerSpec,
    config: &BenchConfig,
    yardstick: &Yardstick<'_>,
) -> anyhow::Result<PeerFigures> {
    let deliveries = yardstick.deliveries;
    let peer = Peer::start(
        spec,
        yardstick.amqp_url,
        yardstick.prefix,
        yardstick.log_file,
        &deliveries[0],
    )
    .await?;
    let client = IngestClient::new(&peer.url, config.in_flight)?;
    let count = load::open_loop_count(config.rate, Duration::from_secs_f64(config.latency_seconds));
    let latency = receiver::latency(&client, deliveries, config.rate, count).await;
    crate::broker::purge(yardstick.amqp_url, &peer.queue).await?;
    crate::settle(config).await;
    let throughput = receiver::throughput(
        &client,
        deliveries,
        config.in_flight,
        Duration::from_secs_f64(config.seconds),
        peer.meter(),
        yardstick.broker_pid,
    )
    .await;
    peer.stop().await?;
    crate::settle(config).await;
    let ingest = yardstick.ingest;
    Ok(PeerFigures {
        name: spec.name.clone(),
        command: spec.command.clone(),
        latency: LatencySummary::of(config.rate, &latency),
        ingest_throughput_ratio: ingest.throughput.per_second
            / throughput.throughput.per_second.max(f64::EPSILON),
        ingest_cpu_fraction: ingest
            .cpu
            .receiver_us
            .zip(throughput.cpu.receiver_us)
            .map(|(ingest, peer)| ingest / peer.max(f64::EPSILON)),
        throughput,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_is_a_name_and_a_command() {
        assert_eq!(
            parse_peer("node=PORT=1 node server.mjs").unwrap(),
            PeerSpec {
                name: "node".into(),
                command: "PORT=1 node server.mjs".into()
            }
        );
        assert!(parse_peer("node").is_err());
        assert!(parse_peer("=node server.mjs").is_err());
        assert!(parse_peer("node= ").is_err());
    }
}
