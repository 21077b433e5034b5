//! A receiver of signed deliveries (prpulse-ingest or a peer speaking the
//! same contract) measured one way for all: an open loop at the latency
//! rate, then a closed loop of `in_flight` requests, with the CPU the
//! receiver, RabbitMQ and the load generator spent on it.

use std::time::Duration;

use serde::Serialize;

use crate::{
    cpu::{CpuPerRequest, Meter, PhaseCpu},
    ingest::IngestClient,
    load::{self, Latencies, Throughput},
    workload::Prepared,
};

#[derive(Clone, Debug, Serialize)]
pub struct ThroughputFigures {
    pub throughput: Throughput,
    pub cpu: CpuPerRequest,
}

/// `count` deliveries at `rate` per second, each under a fresh id.
pub async fn latency(
    client: &IngestClient,
    deliveries: &[Prepared],
    rate: u32,
    count: u64,
) -> Latencies {
    let (_, latencies, _) = load::open_loop(rate, count, |i| {
        let client = client.clone();
        let delivery = deliveries[i as usize % deliveries.len()].clone();
        async move { client.post(&delivery, &fresh_id()).await }
    })
    .await;
    latencies
}

/// `in_flight` requests at a time for `duration`, and the CPU spent on
/// them by `receiver`, the broker (`broker_pid`) and this process.
pub async fn throughput(
    client: &IngestClient,
    deliveries: &[Prepared],
    in_flight: usize,
    duration: Duration,
    receiver: Option<Meter>,
    broker_pid: Option<u32>,
) -> ThroughputFigures {
    let cpu = PhaseCpu::start(receiver, broker_pid);
    let throughput = load::closed_loop(in_flight, duration, |i| {
        let delivery = &deliveries[i as usize % deliveries.len()];
        async move { client.post(delivery, &fresh_id()).await }
    })
    .await;
    ThroughputFigures {
        cpu: cpu.finish(throughput.completed),
        throughput,
    }
}

fn fresh_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
