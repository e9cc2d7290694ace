//! The backend contract suite, written once and run against every backend.
//!
//! A backend's test file provides a factory and expands the macros:
//!
//! ```ignore
//! async fn queue(settings: QueueSettings) -> QueueFixture { /* fresh, isolated queue */ }
//! coderipple_core::queue_contract_tests!(queue);
//! async fn store() -> StoreFixture { /* fresh, isolated store */ }
//! coderipple_core::store_contract_tests!(store);
//! ```
//!
//! Every test states one behaviour of the [`Queue`] or [`Store`] contract (see [`crate::queue`]
//! and [`crate::store`]) and fails if a backend lacks it.
//! Timeouts are real (about one second), because emulators keep real clocks.

pub mod aws;
pub mod fixtures;
mod listing;
pub mod queue;
pub mod store;

use std::any::Any;
use std::sync::Arc;

use crate::queue::Queue;
use crate::store::Store;

/// Behaviours an emulator is known to lack. A test that meets one says so on stderr and
/// checks everything else; `docs/testing.md` lists each with its reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmulatorGaps {
    /// moto compares a new dedup id only with messages still in the queue, so a deleted
    /// message's id no longer suppresses a resend inside the 5-minute window (SQS's does).
    pub dedup_forgets_deleted: bool,
}

/// A fresh queue and its DLQ; `keep` holds whatever must outlive the test (a temp dir).
pub struct QueueFixture {
    /// The queue under test (redrives to `dlq`).
    pub queue: Arc<dyn Queue>,
    /// Its dead-letter queue.
    pub dlq: Arc<dyn Queue>,
    /// What the backend under test is known to lack (none for a real backend).
    pub gaps: EmulatorGaps,
    /// Kept alive for the test's duration.
    pub keep: Box<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for QueueFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueFixture")
            .field("queue", &self.queue)
            .finish()
    }
}

/// A fresh store.
pub struct StoreFixture {
    /// The store under test.
    pub store: Arc<dyn Store>,
    /// Kept alive for the test's duration.
    pub keep: Box<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for StoreFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreFixture")
            .field("store", &self.store)
            .finish()
    }
}

/// Expands the queue contract into one `#[tokio::test]` per behaviour.
#[macro_export]
macro_rules! queue_contract_tests {
    ($factory:path) => {
        $crate::queue_contract_tests!(@tests $factory;
            fifo_within_a_group,
            in_flight_group_blocks_only_itself,
            visibility_timeout_redelivers_with_receive_count,
            change_visibility_zero_releases_now,
            max_receives_moves_to_dlq_keeping_group,
            dedup_id_within_window_is_dropped,
            dead_letter_keeps_reason_and_unblocks_group,
            batch_send_receive_delete_and_stats,
            purge_empties_the_queue,
            longest_repository_names_round_trip,
        );
    };
    (@tests $factory:path; $($name:ident),* $(,)?) => {
        mod queue_contract {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::contract::queue::$name(|s| $factory(s)).await;
                }
            )*
        }
    };
}

/// Expands the store contract into one `#[tokio::test]` per behaviour.
#[macro_export]
macro_rules! store_contract_tests {
    ($factory:path) => {
        $crate::store_contract_tests!(@tests $factory;
            claim_is_exclusive_under_concurrency,
            claim_status_follows_the_delivery,
            expired_claims_can_be_claimed_again,
            processing_lease_lifecycle,
            leases_are_fenced_by_owner,
            batch_begin_reports_each_delivery,
            repo_state_compare_and_set,
            concurrent_repo_writers_one_wins,
            state_near_the_budget_round_trips,
            cache_entries_expire,
            counters_add_atomically_and_restart_after_expiry,
            pending_publishes_count_and_clear,
            history_gaps_are_listed_until_cleared,
            deliveries_and_repos_are_listed_for_operators,
        );
    };
    (@tests $factory:path; $($name:ident),* $(,)?) => {
        mod store_contract {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::contract::store::$name(|| $factory()).await;
                }
            )*
        }
    };
}
