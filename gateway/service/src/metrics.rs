//! Prometheus metrics: one process-wide recorder, rendered at `GET /metrics`.
//!
//! Names follow Prometheus conventions (`_total` counters, `_seconds` histograms)
//! and labels are bounded sets: a route *pattern*, never a raw path.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets, in seconds, from 0.5 ms to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.000_5, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];

/// Batch size buckets, in operations, from 1 to 4,096.
const BATCH_SIZE_BUCKETS: [f64; 13] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0,
];

/// Installs the recorder (once per process; later calls return the same handle).
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("ledger_batch_size".into()),
                        &BATCH_SIZE_BUCKETS,
                    )
                })
                .unwrap_or_else(|_| unreachable!("the bucket lists are not empty"));
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder installed first (an embedding program) keeps its place; ours still renders.
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!(
                    "a metrics recorder was already installed; /metrics shows only its own registry"
                );
            }
            handle
        })
        .clone()
}
