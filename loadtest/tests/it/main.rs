//! The load tester's integration tests, one binary: verification, scenarios (outages,
//! poison, redeliveries), the AWS target on moto and the Lambda harness.

mod aws;
mod common;
mod lambda;
mod scenarios;
mod verification;
