//! The worker's integration tests, one binary: agents against golden docs, batch handling
//! and retries, the state byte budget, the poller supervisor, and publishing docs to a git
//! server.

mod agents;
mod batch;
mod publish;
mod state_budget;
mod supervise;
