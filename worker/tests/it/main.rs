//! The worker's integration tests, one binary: agents against golden docs, batch handling
//! and retries, the state byte budget, the poller supervisor, publishing docs to a git
//! server (hostile branches, racing publishes, a password-protected remote), and GitHub's
//! API (behind Prism) as content source and as the place docs are published (a standing pull
//! request, direct commits, hostile trees, busy repositories), and missed deliveries
//! recovered.

mod agents;
mod batch;
mod doc_writes;
mod gap_refusals;
mod github;
mod github_publish;
mod github_publish_edges;
mod history;
mod publish;
mod publish_auth;
mod publish_edges;
mod recover;
mod state_budget;
mod supervise;
mod wake;
mod writer;
mod writer_budget;
mod writer_llm;
