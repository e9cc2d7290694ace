//! What `dlq` and `status` say and do about parked repositories and about dead letters too
//! old to replay safely.
//!
//! A repository is parked behind a head that was dead-lettered for a transient reason; its
//! later messages wait in the DLQ as `parked`. Replaying or purging the head lifts the park
//! (before the replayed copies are sent, so the worker does not park them again); replaying
//! only later messages leaves it, and the worker parks them again behind the head.

use coderipple_core::config::Settings;
use coderipple_core::envelope::Envelope;
use coderipple_core::queue::{PeekedMessage, delivery_of, message_group_id};
use coderipple_core::store::{ParkedRepo, Store};

/// A dead letter whose delivery record may expire before a replay of it is processed.
#[derive(Debug)]
pub struct TooOld {
    pub message_id: String,
    pub delivery: String,
    pub age_days: f64,
}

/// The messages of `matching` received so long ago that their delivery record (kept for
/// `CODERIPPLE_DEDUP_TTL_SECS`) could expire while a replay waits on the queue: a replay of
/// those could apply twice what was applied before. Refused unless `--force`.
pub fn too_old(settings: &Settings, matching: &[PeekedMessage]) -> Vec<TooOld> {
    let now = chrono::Utc::now();
    let limit = settings.dedup_ttl.saturating_sub(settings.queue_retention);
    matching
        .iter()
        .filter_map(|m| {
            let env = Envelope::from_json(&m.body).ok()?;
            let age = (now - env.received_at).to_std().ok()?;
            (age > limit).then(|| TooOld {
                message_id: m.message_id.clone(),
                delivery: env.delivery,
                age_days: age.as_secs_f64() / 86_400.0,
            })
        })
        .collect()
}

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

/// The parks whose head is among `messages` (the messages being replayed or purged).
pub async fn heads_among(
    store: &dyn Store,
    messages: &[PeekedMessage],
) -> anyhow::Result<Vec<ParkedRepo>> {
    let parks = store.parked_repos().await?;
    Ok(parks
        .into_iter()
        .filter(|p| {
            messages.iter().any(|m| {
                (m.group_id == p.repo || m.group_id == message_group_id(&p.repo))
                    && delivery_of(&m.body, &m.dedup_id) == p.head
            })
        })
        .collect())
}

/// Says which parks were lifted.
pub fn print_lifted(parks: &[ParkedRepo]) {
    for p in parks {
        println!("lifted the park of {} (head {})", p.repo, p.head);
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
