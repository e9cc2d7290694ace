//! The core's integration tests, one binary: the store and queue contracts on SQLite and on
//! moto, the SQS and Secrets Manager adapters, intake, and property tests.

mod aws_contract;
mod aws_secrets;
mod aws_sqs;
mod intake;
mod properties;
mod sqlite_contract;
