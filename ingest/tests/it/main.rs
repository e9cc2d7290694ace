//! Ingest's integration tests, one binary: every status the HTTP contract names, and
//! octokit's webhook examples through the real router.

mod octokit_examples;
mod status_table;
