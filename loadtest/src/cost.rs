//! The cost model: dollars per million webhooks from measured durations and memory, at
//! published on-demand prices (us-east-1), and the memory size it recommends.
//!
//! Prices come from [`coderipple_core::pricing`] (us-east-1 on-demand, dated): Lambda $0.20
//! per million requests and $0.0000166667 per GB-second; SQS FIFO $0.50 per million
//! requests; DynamoDB $0.625 per million write units and $0.125 per million read units; S3
//! $0.005 per 1,000 PUTs.
//!
//! Requests per webhook follow the pipeline's design (counted against moto in
//! `cli/tests/it/aws_requests.rs`): ingest makes one conditional `PutItem` (the claim) and one
//! `SendMessage`; the worker, per change set, reads the repo state, takes the lease, writes
//! the state, writes the changed docs, marks completion; per batch one receive and one delete
//! (by the event source mapping). One push per change set is the worst case (no coalescing).

use serde::Serialize;

pub use coderipple_core::pricing::PRICES_AS_OF;
use coderipple_core::pricing::{
    DYNAMO_PER_RRU, DYNAMO_PER_WRU, LAMBDA_PER_GB_S, LAMBDA_PER_REQUEST, S3_PER_PUT,
    SQS_FIFO_PER_REQUEST, scaled_ms as scaled,
};
/// Lambda's memory sizes worth considering (MB).
pub const MEMORY_SIZES: [u32; 6] = [128, 256, 512, 1024, 1769, 3008];

/// What was measured, and the workload's shape.
#[derive(Debug, Clone, Serialize)]
pub struct Inputs {
    /// Ingest warm invocation (ms), measured at `measured_memory_mb`.
    pub ingest_ms: f64,
    /// Worker warm invocation per batch (ms), measured at `measured_memory_mb`.
    pub worker_batch_ms: f64,
    /// Messages per worker batch.
    pub batch: usize,
    /// Init (ms) of a cold start.
    pub init_ms: f64,
    /// Share of invocations that are cold starts.
    pub cold_share: f64,
    /// Peak RSS of either function (MiB).
    pub peak_rss_mib: f64,
    /// The memory setting the durations were measured under; on this machine the process
    /// had a full core, so the durations are scaled up for sizes below one vCPU.
    pub measured_memory_mb: u32,
    /// Repo state size (KB): DynamoDB bills reads per 4 KB and writes per 1 KB.
    pub state_kb: f64,
    /// Docs written per change set.
    pub docs_per_change: f64,
    /// The slowest warm ingest answer acceptable (ms): GitHub waits for it.
    pub max_ingest_ms: f64,
}

/// The cost of one memory size.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    /// Lambda memory (MB).
    pub memory_mb: u32,
    /// Ingest duration at that size (ms).
    pub ingest_ms: f64,
    /// Worker batch duration at that size (ms).
    pub worker_batch_ms: f64,
    /// Lambda (requests + GB-s) per million webhooks.
    pub lambda_usd: f64,
    /// SQS per million webhooks.
    pub sqs_usd: f64,
    /// DynamoDB per million webhooks.
    pub dynamodb_usd: f64,
    /// S3 per million webhooks.
    pub s3_usd: f64,
    /// Total per million webhooks.
    pub total_usd: f64,
    /// Whether the peak RSS fits with headroom (≤ half the size).
    pub fits: bool,
    /// Whether ingest answers within `max_ingest_ms` at this size.
    pub fast_enough: bool,
}

/// The model's answer. Below one vCPU, durations are stretched in proportion (CPU-bound, a
/// pessimistic assumption: I/O waits do not stretch), so the GB-seconds, and the cost, stay
/// flat while latency grows; the recommendation is therefore the cheapest size that fits the
/// memory with headroom *and* keeps ingest's answer within `max_ingest_ms`.
#[derive(Debug, Clone, Serialize)]
pub struct CostModel {
    /// Price date.
    pub prices_as_of: &'static str,
    /// What went in.
    pub inputs: Inputs,
    /// One estimate per memory size.
    pub estimates: Vec<Estimate>,
    /// The cheapest size that fits and is fast enough (none: no size does).
    pub recommended_mb: Option<u32>,
}

/// Estimates every size of [`MEMORY_SIZES`] and picks one.
pub fn model(inputs: Inputs) -> CostModel {
    let per_million = 1e6;
    let batches = per_million / inputs.batch.max(1) as f64;
    let estimates: Vec<Estimate> = MEMORY_SIZES
        .iter()
        .map(|&mb| {
            let gb = f64::from(mb) / 1024.0;
            let at = inputs.measured_memory_mb;
            let ingest_ms = scaled(inputs.ingest_ms, at, mb);
            let worker_batch_ms = scaled(inputs.worker_batch_ms, at, mb);
            let init_ms = scaled(inputs.init_ms, at, mb);
            let billed = |ms: f64| ms.ceil() / 1000.0;
            let ingest_gb_s =
                per_million * gb * (billed(ingest_ms) + inputs.cold_share * billed(init_ms));
            let worker_gb_s =
                batches * gb * (billed(worker_batch_ms) + inputs.cold_share * billed(init_ms));
            let lambda_usd = (per_million + batches) * LAMBDA_PER_REQUEST
                + (ingest_gb_s + worker_gb_s) * LAMBDA_PER_GB_S;
            let sqs_usd = (per_million + 2.0 * batches) * SQS_FIFO_PER_REQUEST;
            let wru_state = inputs.state_kb.max(1.0).ceil();
            let rru_state = (inputs.state_kb / 4.0).max(1.0).ceil();
            // Claim, lease, state, completion; the lease is a transactional write (2 units).
            let wru = 1.0 + 2.0 + wru_state + 1.0;
            let dynamodb_usd = per_million * (wru * DYNAMO_PER_WRU + rru_state * DYNAMO_PER_RRU);
            let s3_usd = per_million * inputs.docs_per_change * S3_PER_PUT;
            Estimate {
                memory_mb: mb,
                ingest_ms,
                worker_batch_ms,
                lambda_usd,
                sqs_usd,
                dynamodb_usd,
                s3_usd,
                total_usd: lambda_usd + sqs_usd + dynamodb_usd + s3_usd,
                fits: inputs.peak_rss_mib * 2.0 <= f64::from(mb),
                fast_enough: ingest_ms <= inputs.max_ingest_ms,
            }
        })
        .collect();
    let recommended_mb = estimates
        .iter()
        .filter(|e| e.fits && e.fast_enough)
        .min_by(|a, b| a.total_usd.total_cmp(&b.total_usd))
        .map(|e| e.memory_mb);
    CostModel {
        prices_as_of: PRICES_AS_OF,
        inputs,
        estimates,
        recommended_mb,
    }
}

impl CostModel {
    /// The table, for people.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut out = format!(
            "Cost per million webhooks (us-east-1 on-demand prices of {}; worst case: one push per change set)\n",
            self.prices_as_of
        );
        let _ = writeln!(
            out,
            "  {:>7} {:>10} {:>12} {:>9} {:>8} {:>10} {:>8} {:>9}  fits  fast",
            "memory", "ingest ms", "worker ms", "Lambda", "SQS", "DynamoDB", "S3", "total"
        );
        for e in &self.estimates {
            let _ = writeln!(
                out,
                "  {:>5}MB {:>10.2} {:>12.2} {:>9.2} {:>8.2} {:>10.2} {:>8.2} {:>9.2}  {:<4}  {}",
                e.memory_mb,
                e.ingest_ms,
                e.worker_batch_ms,
                e.lambda_usd,
                e.sqs_usd,
                e.dynamodb_usd,
                e.s3_usd,
                e.total_usd,
                if e.fits { "yes" } else { "no" },
                if e.fast_enough { "yes" } else { "no" }
            );
        }
        let _ = match self.recommended_mb {
            Some(mb) => writeln!(
                out,
                "  recommended memory: {mb} MB (cheapest that fits 2× peak RSS and answers webhooks within {} ms)",
                self.inputs.max_ingest_ms
            ),
            None => writeln!(
                out,
                "  recommended memory: none — no size fits 2× peak RSS and answers within {} ms",
                self.inputs.max_ingest_ms
            ),
        };
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Inputs {
        Inputs {
            ingest_ms: 4.0,
            worker_batch_ms: 40.0,
            batch: 10,
            init_ms: 20.0,
            cold_share: 0.0,
            peak_rss_mib: 30.0,
            measured_memory_mb: 1769,
            state_kb: 8.0,
            docs_per_change: 4.0,
            max_ingest_ms: 50.0,
        }
    }

    #[test]
    fn the_arithmetic_matches_a_hand_computation() {
        let m = model(inputs());
        let e = m.estimates.iter().find(|e| e.memory_mb == 1769).unwrap();
        // Lambda: 1.1 M requests × $0.2/M + (1 M × 4 ms + 0.1 M × 40 ms) × 1769/1024 GB × price.
        let gb_s = (1e6 * 0.004 + 1e5 * 0.040) * 1769.0 / 1024.0;
        assert!(
            (e.lambda_usd - (0.22 + gb_s * LAMBDA_PER_GB_S)).abs() < 1e-6,
            "{e:?}"
        );
        // SQS: 1 M sends + 0.2 M receive/delete at $0.5/M.
        assert!((e.sqs_usd - 0.6).abs() < 1e-9);
        // DynamoDB: (1 + 2 + 8 + 1) WRU at $0.625/M + 2 RRU at $0.125/M, per webhook.
        assert!((e.dynamodb_usd - (12.0 * 0.625 + 2.0 * 0.125)).abs() < 1e-9);
        assert!((e.s3_usd - 20.0).abs() < 1e-9, "4 PUTs at $5 per million");
    }

    #[test]
    fn small_sizes_stretch_and_the_recommendation_fits_the_memory() {
        let m = model(Inputs {
            peak_rss_mib: 100.0,
            ..inputs()
        });
        let small = &m.estimates[0];
        assert_eq!(small.memory_mb, 128);
        assert!(small.ingest_ms > 4.0 * 13.0, "1769/128 ≈ 13.8× less CPU");
        assert!(!small.fits);
        let mb = m.recommended_mb.unwrap();
        assert!(mb >= 256, "{m:?}");
        assert!(m.estimates.iter().find(|e| e.memory_mb == mb).unwrap().fits);
        // 4 ms at a full core is 55 ms at 128 MB: too slow for a 30 ms limit. The GB-s are
        // the same at every size below one vCPU but for rounding up to whole billed
        // milliseconds, which here makes the full vCPU the cheapest.
        let m = model(Inputs {
            peak_rss_mib: 10.0,
            max_ingest_ms: 30.0,
            ..inputs()
        });
        assert!(m.estimates[0].fits && !m.estimates[0].fast_enough);
        assert_eq!(m.recommended_mb, Some(1769), "{m:?}");
        // Nothing holds 4 GiB with headroom: no recommendation, and the table says so.
        let m = model(Inputs {
            peak_rss_mib: 4096.0,
            ..inputs()
        });
        assert_eq!(m.recommended_mb, None);
        assert!(m.table().contains("recommended memory: none"));
        // Measured at 512 MB (0.29 vCPU), a full vCPU is 3.5× faster.
        let m = model(Inputs {
            measured_memory_mb: 512,
            ..inputs()
        });
        let full = m.estimates.iter().find(|e| e.memory_mb == 1769).unwrap();
        assert!(
            (full.ingest_ms - 4.0 * 512.0 / 1769.0).abs() < 1e-9,
            "{full:?}"
        );
    }
}
