//! What ingest spends verifying `X-Hub-Signature-256` (HMAC-SHA256 over
//! the raw body, constant-time compare) for a small, a typical and a very
//! large delivery. `cargo bench -p prpulse-github`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prpulse_github::{Signature, sign, verify};

fn signature_verification(c: &mut Criterion) {
    let secret = b"It's a Secret to Everybody";
    let mut group = c.benchmark_group("verify_signature");
    for (name, size) in [("1KB", 1024), ("25KB", 25 * 1024), ("1MB", 1024 * 1024)] {
        // JSON-like bytes; HMAC's cost does not depend on the content.
        let body: Vec<u8> = br#"{"action":"opened","number":1,"pull_request":{}} "#
            .iter()
            .copied()
            .cycle()
            .take(size)
            .collect();
        let signature = Signature::parse(&sign(secret, &body)).expect("sign gives a valid header");
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(name, |b| {
            b.iter(|| assert!(verify(black_box(secret), black_box(&body), &signature)));
        });
    }
    group.finish();
}

criterion_group!(benches, signature_verification);
criterion_main!(benches);
