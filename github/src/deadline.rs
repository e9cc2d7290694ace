//! The time an invocation has for work that depends on GitHub (filling a history gap,
//! recovery, publishing through the API).
//!
//! In Lambda an invocation that runs past its timeout saves nothing and is repeated, and
//! after `maxReceiveCount` SQS moves its message to the DLQ without a reason. So work in Lambda
//! runs [`within`] a deadline: the invocation's, less a margin for storing the work (the
//! worker's port sets it per change set, the `recover` role per invocation). Every GitHub
//! call asks [`left`] first: a call that cannot finish in time is not started, and a
//! rate-limit wait that would pass the deadline is not waited. The caller then records what
//! it could not do (the gap waits for the next wake, a publish stays pending) instead of
//! being cut off. Outside Lambda there is no deadline.

use std::future::Future;
use std::time::{Duration, Instant};

tokio::task_local! {
    static UNTIL: Instant;
}

/// Runs `work` with `until` as the last moment GitHub-dependent work may use.
pub async fn within<F: Future>(until: Instant, work: F) -> F::Output {
    UNTIL.scope(until, work).await
}

/// The time left before the deadline of the work running now (`None`: no deadline).
pub fn left() -> Option<Duration> {
    UNTIL
        .try_with(|until| until.saturating_duration_since(Instant::now()))
        .ok()
}

/// Whether `needed` still fits before the deadline (always, without one).
pub fn allows(needed: Duration) -> bool {
    left().is_none_or(|left| left >= needed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_a_deadline_everything_fits() {
        assert_eq!(left(), None);
        assert!(allows(Duration::from_secs(3600)));
    }

    #[tokio::test]
    async fn inside_a_deadline_only_what_fits_is_allowed() {
        let until = Instant::now() + Duration::from_secs(10);
        within(until, async {
            let left = left().expect("a deadline");
            assert!(left <= Duration::from_secs(10) && left > Duration::from_secs(8));
            assert!(allows(Duration::from_secs(5)));
            assert!(!allows(Duration::from_secs(11)));
        })
        .await;
        within(Instant::now(), async {
            assert_eq!(left(), Some(Duration::ZERO));
            assert!(!allows(Duration::from_millis(1)));
        })
        .await;
    }
}
