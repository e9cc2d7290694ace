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

/// Bedrock on-demand text models the LLM writer knows the price of: (model id, US dollars per
/// 1,000 input tokens, per 1,000 output tokens). A model not listed has no cost estimate.
pub const BEDROCK_TOKEN_PRICES: &[(&str, f64, f64)] = &[
    ("amazon.nova-micro-v1:0", 0.000_035, 0.000_14),
    ("amazon.nova-lite-v1:0", 0.000_06, 0.000_24),
    ("amazon.nova-pro-v1:0", 0.000_8, 0.003_2),
    ("anthropic.claude-3-haiku-20240307-v1:0", 0.000_25, 0.001_25),
];

/// What `input` and `output` tokens of Bedrock `model` cost (a cross-region profile such as
/// `us.amazon.nova-micro-v1:0` costs what its model does); `None` for a model not listed.
pub fn bedrock_tokens_usd(model: &str, input: u64, output: u64) -> Option<f64> {
    let bare = model.split_once('.').map_or(model, |(prefix, rest)| {
        if prefix.len() == 2 || prefix == "apac" {
            rest
        } else {
            model
        }
    });
    BEDROCK_TOKEN_PRICES
        .iter()
        .find(|(id, _, _)| *id == bare)
        .map(|(_, i, o)| input as f64 / 1e3 * i + output as f64 / 1e3 * o)
}

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
    fn bedrock_tokens_are_priced_by_model_and_unknown_models_are_not() {
        let usd = bedrock_tokens_usd("amazon.nova-micro-v1:0", 1_000, 1_000).unwrap();
        assert!((usd - (0.000_035 + 0.000_14)).abs() < 1e-12);
        assert_eq!(
            bedrock_tokens_usd("us.amazon.nova-micro-v1:0", 2_000, 0),
            bedrock_tokens_usd("amazon.nova-micro-v1:0", 2_000, 0)
        );
        assert_eq!(bedrock_tokens_usd("someone.else-v9", 1, 1), None);
    }

    #[test]
    fn cpu_follows_memory_up_to_one_vcpu() {
        assert!((cpu_share(1769) - 1.0).abs() < 1e-12);
        assert!((cpu_share(3008) - 1.0).abs() < 1e-12);
        assert!((scaled_ms(10.0, 1769, 128) - 10.0 * 1769.0 / 128.0).abs() < 1e-9);
        assert!((scaled_ms(10.0, 512, 3008) - 10.0 * 512.0 / 1769.0).abs() < 1e-9);
    }
}
