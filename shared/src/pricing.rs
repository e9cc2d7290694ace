//! AWS prices the cost figures use (the load tester's cost model, `coderipple advise`), and
//! how Lambda's CPU follows its memory.
//!
//! us-east-1, x86_64, on-demand, no free tier, as listed on the AWS pricing pages on
//! [`PRICES_AS_OF`]; change them here when AWS does. Lambda is billed per 1 ms, init included.

/// When the prices below were taken from the AWS pricing pages.
pub const PRICES_AS_OF: &str = "2026-11-26";
/// Lambda, per request.
pub const LAMBDA_PER_REQUEST: f64 = 0.20 / 1e6;
/// Lambda, per GB-second of duration (on-demand).
pub const LAMBDA_PER_GB_S: f64 = 0.000_016_666_7;
/// Lambda provisioned concurrency, per GB-second provisioned (whether used or not).
pub const LAMBDA_PROVISIONED_PER_GB_S: f64 = 0.000_004_166_7;
/// Lambda, per GB-second of duration run on provisioned concurrency.
pub const LAMBDA_PROVISIONED_DURATION_PER_GB_S: f64 = 0.000_009_722_2;
/// SQS FIFO, per request (per 64 KB chunk).
pub const SQS_FIFO_PER_REQUEST: f64 = 0.50 / 1e6;
/// DynamoDB on-demand, per write request unit (1 KB; the rate since 2024-11-01).
pub const DYNAMO_PER_WRU: f64 = 0.625 / 1e6;
/// DynamoDB on-demand, per read request unit (4 KB, strongly consistent).
pub const DYNAMO_PER_RRU: f64 = 0.125 / 1e6;
/// S3 Standard, per PUT request.
pub const S3_PER_PUT: f64 = 0.005 / 1e3;

/// At 1,769 MB a function has one full vCPU; below, CPU is proportional to memory.
pub const FULL_VCPU_MB: f64 = 1769.0;

/// The share of a vCPU a function of `mb` gets (1 from 1,769 MB up).
pub fn cpu_share(mb: u32) -> f64 {
    (f64::from(mb) / FULL_VCPU_MB).min(1.0)
}

/// Duration at `mb` given `ms` measured with the CPU of `measured_mb`: CPU-bound time
/// stretches (or shrinks) in proportion, a pessimistic model (I/O waits do not stretch).
pub fn scaled_ms(ms: f64, measured_mb: u32, mb: u32) -> f64 {
    ms * cpu_share(measured_mb) / cpu_share(mb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_follows_memory_up_to_one_vcpu() {
        assert!((cpu_share(1769) - 1.0).abs() < 1e-12);
        assert!((cpu_share(3008) - 1.0).abs() < 1e-12);
        assert!((scaled_ms(10.0, 1769, 128) - 10.0 * 1769.0 / 128.0).abs() < 1e-9);
        assert!((scaled_ms(10.0, 512, 3008) - 10.0 * 512.0 / 1769.0).abs() < 1e-9);
    }
}
