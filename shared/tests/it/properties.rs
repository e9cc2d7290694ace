//! Property tests (proptest) for everything that reads untrusted input — webhook parsing,
//! form decoding, the signature header, envelope decoding — and for the embedded queue's
//! FIFO and visibility invariants. Parsers must never panic: they answer or refuse with a
//! client error. Crashes found here become plain regression tests below the properties.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::Duration;

use coderipple_core::Error;
use coderipple_core::envelope::Envelope;
use coderipple_core::queue::sqlite::SqliteQueue;
use coderipple_core::queue::{OutgoingMessage, Queue, QueueSettings};
use coderipple_core::signature::{Secrets, sign};
use coderipple_core::sqlite::{Durability, SqliteDb};
use coderipple_core::webhook::{ContentKind, Parsed, decode_body, parse};
use proptest::prelude::*;
use serde_json::json;

const EVENTS: [&str; 7] = [
    "push",
    "pull_request",
    "release",
    "create",
    "ping",
    "issues",
    "star",
];

fn is_client_error(e: &Error) -> bool {
    matches!(
        e,
        Error::BadRequest(_)
            | Error::Unauthorized(_)
            | Error::PayloadTooLarge { .. }
            | Error::UnsupportedMediaType(_)
    )
}

/// A push-shaped JSON value with arbitrary strings where GitHub puts text.
fn push_like() -> impl Strategy<Value = serde_json::Value> {
    (
        "\\PC{0,40}",
        prop::collection::vec(("[0-9a-f]{40}|\\PC{0,12}", "\\PC{0,80}", prop::collection::vec("\\PC{0,30}", 0..4)), 0..5),
        prop_oneof![Just("octo/repo".to_owned()), "\\PC{0,20}"],
        any::<bool>(),
    )
        .prop_map(|(git_ref, commits, repo, deleted)| {
            json!({
                "ref": git_ref, "before": "0".repeat(40), "after": "1".repeat(40), "deleted": deleted,
                "repository": {"full_name": repo, "html_url": "https://github.com/x"},
                "commits": commits.into_iter().map(|(id, message, paths)| json!({
                    "id": id, "message": message, "author": {"name": "a"}, "added": paths, "modified": [], "removed": []
                })).collect::<Vec<_>>(),
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parsing_arbitrary_bytes_never_panics(event in prop::sample::select(EVENTS.to_vec()), body in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Err(e) = parse(event, "d-1", &body, chrono::Utc::now()) {
            prop_assert!(is_client_error(&e), "{e:?}");
        }
    }

    #[test]
    fn parsed_events_survive_the_envelope_round_trip(event in prop::sample::select(EVENTS.to_vec()), payload in push_like()) {
        let body = payload.to_string();
        match parse(event, "d-1", body.as_bytes(), chrono::Utc::now()) {
            Ok(Parsed::Event(env)) => {
                let back = Envelope::from_json(&env.to_json()).unwrap();
                prop_assert_eq!(back, *env);
            }
            Ok(_) => {}
            Err(e) => prop_assert!(is_client_error(&e), "{e:?}"),
        }
    }

    #[test]
    fn delivery_ids_and_event_names_are_checked_not_trusted(delivery in "\\PC{0,140}", event in "\\PC{0,80}") {
        if let Err(e) = parse(&event, &delivery, b"{}", chrono::Utc::now()) {
            prop_assert!(is_client_error(&e));
        }
    }

    #[test]
    fn form_bodies_decode_or_refuse(body in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Err(e) = decode_body(ContentKind::Form, &body) {
            prop_assert!(is_client_error(&e));
        }
    }

    #[test]
    fn a_form_payload_decodes_to_the_json_it_carries(payload in push_like(), noise in "[a-z]{1,8}") {
        let json = payload.to_string();
        let form: String = form_urlencoded::Serializer::new(String::new())
            .append_pair(&noise, "x")
            .append_pair("payload", &json)
            .finish();
        let decoded = decode_body(ContentKind::Form, form.as_bytes()).unwrap();
        prop_assert_eq!(decoded.as_ref(), json.as_bytes());
    }

    #[test]
    fn only_the_right_signature_is_accepted(secret in "[ -~]{1,40}", body in prop::collection::vec(any::<u8>(), 0..256), header in "\\PC{0,80}") {
        let secrets = Secrets::new(&secret, None).unwrap();
        let right = sign(secret.as_bytes(), &body);
        prop_assert!(secrets.verify(Some(&right), &body).is_ok());
        if header != right {
            let refused = secrets.verify(Some(&header), &body);
            prop_assert!(matches!(refused, Err(Error::Unauthorized(_)) | Err(Error::BadRequest(_))), "{refused:?}");
        }
        // One flipped hex digit is refused.
        let mut wrong = right.clone().into_bytes();
        let last = wrong.len() - 1;
        wrong[last] = if wrong[last] == b'0' { b'1' } else { b'0' };
        prop_assert!(secrets.verify(Some(std::str::from_utf8(&wrong).unwrap()), &body).is_err());
    }

    #[test]
    fn envelope_decoding_never_panics(text in "\\PC{0,300}") {
        let _ = Envelope::from_json(&text);
    }
}

/// An operation on the queue.
#[derive(Debug, Clone)]
enum Op {
    Send(usize),
    Receive(usize),
    DeleteOldest,
    ReleaseOldest,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize).prop_map(Op::Send),
        2 => (1..5usize).prop_map(Op::Receive),
        2 => Just(Op::DeleteOldest),
        1 => Just(Op::ReleaseOldest),
    ]
}

/// Runs `ops` on a fresh queue against a model: per group, messages come out in send order;
/// a group with a message in flight gives out nothing else; a released message comes back
/// first; after deleting everything received, every message was delivered exactly once.
fn check_fifo(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(dir.path().join("q.db"), Durability::Normal).unwrap();
        let queue = SqliteQueue::new(
            db.clone(),
            "q",
            None,
            QueueSettings {
                max_receives: 1000,
                ..QueueSettings::default()
            },
        );
        let long = Duration::from_secs(600);
        let mut pending: BTreeMap<String, VecDeque<String>> = BTreeMap::new();
        let mut in_flight: Vec<(String, String, String)> = Vec::new(); // (receipt, group, id)
        let mut delivered: Vec<String> = Vec::new();
        let mut n = 0;
        let all_ops = ops.into_iter().chain((0..40).flat_map(|_| {
            [
                Op::Receive(4),
                Op::DeleteOldest,
                Op::DeleteOldest,
                Op::DeleteOldest,
                Op::DeleteOldest,
            ]
        }));
        for op in all_ops {
            match op {
                Op::Send(g) => {
                    let (group, id) = (format!("g{g}"), format!("m{n}"));
                    n += 1;
                    queue
                        .send_batch(&[OutgoingMessage::new(group.clone(), id.clone(), id.clone())])
                        .await
                        .unwrap();
                    pending.entry(group).or_default().push_back(id);
                }
                Op::Receive(max) => {
                    let got = queue.receive(max, long, Duration::ZERO).await.unwrap();
                    let busy: HashSet<String> =
                        in_flight.iter().map(|(_, g, _)| g.clone()).collect();
                    let mut per_group: BTreeMap<String, usize> = BTreeMap::new();
                    for m in got {
                        prop_assert!(
                            !busy.contains(&m.group_id),
                            "{} given out while its group is in flight",
                            m.body
                        );
                        let k = per_group.entry(m.group_id.clone()).or_default();
                        let expected = pending.get(&m.group_id).and_then(|q| q.get(*k)).cloned();
                        prop_assert_eq!(
                            Some(m.body.clone()),
                            expected,
                            "FIFO order within {}",
                            m.group_id
                        );
                        *k += 1;
                        in_flight.push((m.receipt, m.group_id, m.body));
                    }
                }
                Op::DeleteOldest => {
                    if !in_flight.is_empty() {
                        let (receipt, group, id) = in_flight.remove(0);
                        queue.delete_batch(&[receipt]).await.unwrap();
                        let front = pending.get_mut(&group).and_then(VecDeque::pop_front);
                        prop_assert_eq!(front.as_deref(), Some(id.as_str()), "deleted in order");
                        delivered.push(id);
                    }
                }
                Op::ReleaseOldest => {
                    // Releasing one message of a group releases it to come back first; the
                    // model releases the group's whole in-flight run, newest first, as a
                    // visibility timeout would.
                    if let Some((_, group, _)) = in_flight.first().cloned() {
                        let mut mine: Vec<(String, String, String)> = Vec::new();
                        in_flight.retain(|f| {
                            if f.1 == group {
                                mine.push(f.clone());
                                false
                            } else {
                                true
                            }
                        });
                        for (receipt, _, _) in mine.iter().rev() {
                            queue
                                .change_visibility(receipt, Duration::ZERO)
                                .await
                                .unwrap();
                        }
                    }
                }
            }
        }
        let left: usize = pending.values().map(VecDeque::len).sum();
        prop_assert_eq!(left, 0, "everything drained");
        let unique: HashSet<&String> = delivered.iter().collect();
        prop_assert_eq!(unique.len(), delivered.len(), "nothing delivered twice");
        prop_assert_eq!(delivered.len(), n);
        db.close();
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_queue_keeps_fifo_per_group_and_visibility(ops in prop::collection::vec(op(), 0..40)) {
        check_fifo(ops)?;
    }
}
