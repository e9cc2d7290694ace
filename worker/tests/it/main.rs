//! The worker's integration tests, one binary: agents against golden docs, batch handling
//! and retries, the state byte budget, and the poller supervisor.

mod agents;
mod batch;
mod state_budget;
mod supervise;
