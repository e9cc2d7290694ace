//! What `dlq` and `status` say about parked repositories and about dead letters too
//! old to replay safely (the rules themselves are in [`crate::dlq_ops`]).
//!
//! A repository is parked behind a head that was dead-lettered for a transient reason; its
//! later messages wait in the DLQ as `parked`. Replaying the repository (or its head) sends
//! every one of them back and lifts the park after the last one was sent (the copies carry
//! the park's token, so the worker lets them through meanwhile); purging the head lifts it;
//! replaying only later messages leaves it, and the worker parks them again behind the head.

use coderipple_core::config::Settings;
use coderipple_core::store::ParkedRepo;

use crate::dlq_ops::TooOld;

/// Prints the refusal for `stale` and what to do.
pub fn refuse(settings: &Settings, stale: &[TooOld]) {
    for s in stale {
        eprintln!(
            "refusing to replay {} (delivery {}): received {:.1} days ago; its delivery record \
             may expire (CODERIPPLE_DEDUP_TTL_SECS = {} days) before the replay is processed, \
             and a replay without it could apply the event twice",
            s.message_id,
            s.delivery,
            s.age_days,
            settings.dedup_ttl.as_secs() / 86_400
        );
    }
    eprintln!("nothing replayed; pass --force to replay them anyway");
}

/// Says which parks were lifted.
pub fn print_lifted(parks: &[ParkedRepo]) {
    for p in parks {
        println!("lifted the park of {} (head {})", p.repo, p.head);
    }
}

/// Says which parks a replay left, and why.
pub fn print_kept(kept: &[(ParkedRepo, String)]) {
    for (p, why) in kept {
        eprintln!("the park of {} stays (head {}): {why}", p.repo, p.head);
    }
}

/// Prints every parked repository (nothing when none).
pub fn print(parks: &[ParkedRepo]) {
    if parks.is_empty() {
        return;
    }
    println!("parked repositories (nothing applied until the head is replayed or purged):");
    for p in parks {
        let since = chrono::DateTime::from_timestamp_millis(p.since_ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        println!(
            "  {}  behind {}  since {since}  {}",
            p.repo, p.head, p.reason
        );
    }
}
