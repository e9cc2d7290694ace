//! The `coderipple` binary's integration tests, one binary (each integration-test binary links
//! the AWS SDK, so one is much cheaper to build than nine): the CLI, the embedded pipeline end to
//! end, the server limits, the Lambda runtime, and the AWS pipeline on moto. `infra_stack` runs
//! only from `scripts/test-infra`, against a deployed stack.

mod aws_advise;
mod aws_cli;
mod aws_history;
mod aws_pipeline;
mod aws_replay;
mod aws_requests;
mod cli;
mod common;
mod console;
mod console_access;
mod console_aws;
mod console_browser;
mod dlq_park;
mod e2e;
mod github;
mod infra_stack;
mod lambda_runtime;
mod publish;
mod server_limits;
mod writer;
