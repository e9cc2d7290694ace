//! The docs commit's message: `docs(coderipple): …` naming the pushes and releases covered.
//! Names come from payloads (attacker-controlled): control characters are dropped, each name
//! is clipped and the lists are capped.

use coderipple_core::envelope::{Change, Envelope};
use coderipple_core::store::AgentDecision;
use coderipple_engine::text::clip_plain;

/// Names listed per kind before "and N more".
const LISTED: usize = 5;
/// Longest name kept (characters).
const NAME_CHARS: usize = 60;
/// Longest agent reason kept (characters).
const REASON_CHARS: usize = 120;

/// The commit message for a change set of `envelopes` whose agents ran as `agents` say
/// (each named with the Orchestrator's reason, on an `Agents:` line).
pub fn commit_message(envelopes: &[Envelope], agents: &[AgentDecision]) -> String {
    let mut pushes = Vec::new();
    let mut releases = Vec::new();
    let mut others = 0usize;
    for env in envelopes {
        match &env.change {
            Some(Change::Push(p)) if !p.after.is_empty() => {
                pushes.push(p.after.chars().take(7).collect::<String>())
            }
            Some(Change::Release(r)) => releases.push(r.tag.clone()),
            Some(Change::Tag(t)) => releases.push(t.tag.clone()),
            _ => others += 1,
        }
    }
    let mut parts = Vec::new();
    if !pushes.is_empty() {
        parts.push(format!("push {}", listed(&pushes)));
    }
    if !releases.is_empty() {
        parts.push(format!("release {}", listed(&releases)));
    }
    if others > 0 || parts.is_empty() {
        parts.push(format!("{} other event(s)", others.max(1)));
    }
    let deliveries: Vec<String> = envelopes.iter().map(|e| e.delivery.clone()).collect();
    let ran: Vec<String> = agents
        .iter()
        .map(|a| {
            format!(
                "{} ({})",
                clean(&a.agent),
                clip_plain(&a.reason, REASON_CHARS)
            )
        })
        .collect();
    let agents_line = if ran.is_empty() {
        String::new()
    } else {
        format!("{AGENTS}{}\n", ran.join("; "))
    };
    format!(
        "docs(coderipple): update for {}\n\n{agents_line}Deliveries: {}\n",
        parts.join(", "),
        listed(&deliveries)
    )
}

/// The start of the line naming the agents in a change set's message.
pub(crate) const AGENTS: &str = "Agents: ";

/// One line about a publish for a pull request's body: the message's subject without the
/// `docs(coderipple): ` prefix, and its agents.
pub(crate) fn summary_line(message: &str) -> String {
    let subject = message.lines().next().unwrap_or_default();
    let subject = subject
        .strip_prefix("docs(coderipple): ")
        .unwrap_or(subject);
    match message.lines().find_map(|l| l.strip_prefix(AGENTS)) {
        Some(agents) => format!("{subject} — {agents}"),
        None => subject.to_owned(),
    }
}

/// Publishing that is not a change set's (an operator's `coderipple publish`, a bootstrap).
pub fn message_for(what: &str) -> String {
    format!("docs(coderipple): {}\n", clean(what))
}

fn listed(names: &[String]) -> String {
    let mut out: Vec<String> = names.iter().take(LISTED).map(|n| clean(n)).collect();
    if names.len() > LISTED {
        out.push(format!("and {} more", names.len() - LISTED));
    }
    out.join(", ")
}

fn clean(name: &str) -> String {
    clip_plain(name, NAME_CHARS)
}

#[cfg(test)]
mod tests {
    use coderipple_core::contract::fixtures;

    use super::*;

    #[test]
    fn names_the_pushes_and_releases_covered() {
        let agents = [AgentDecision {
            agent: "historian".into(),
            reason: "commits to record\nSigned-off-by: x".into(),
            applied: 2,
            already_applied: 0,
        }];
        let msg = commit_message(
            &[
                fixtures::push("o/r", "d1", vec![fixtures::commit(0xabc1234, "feat: x")]),
                fixtures::release("o/r", "d2", "v1.2.0", "One two"),
            ],
            &agents,
        );
        let subject = msg.lines().next().unwrap();
        assert_eq!(
            subject,
            format!(
                "docs(coderipple): update for push {}, release v1.2.0",
                &fixtures::sha(0xabc1234)[..7]
            )
        );
        assert!(msg.contains("Deliveries: d1, d2"), "{msg}");
        assert!(
            msg.contains("Agents: historian (commits to recordSigned-off-by: x)"),
            "{msg}"
        );
        assert_eq!(
            summary_line(&msg),
            format!(
                "update for push {}, release v1.2.0 — historian (commits to recordSigned-off-by: x)",
                &fixtures::sha(0xabc1234)[..7]
            )
        );
    }

    #[test]
    fn hostile_names_cannot_forge_lines_or_grow_without_bound() {
        let tag = format!("v1\n\nSigned-off-by: Evil <e@x>\u{7}{}", "x".repeat(500));
        let many: Vec<Envelope> = (0..40)
            .map(|i| fixtures::release("o/r", &format!("d{i}"), &tag, "n"))
            .collect();
        let msg = commit_message(&many, &[]);
        assert_eq!(msg.lines().count(), 3, "subject, blank, deliveries: {msg}");
        assert!(!msg.lines().any(|l| l.starts_with("Signed-off-by")));
        assert!(msg.contains("and 35 more"));
        assert!(msg.len() < 1_000, "{} bytes", msg.len());
    }
}
