//! Upgrade notes in `user/upgrading.md`: every breaking change with what its author wrote
//! about it (the breaking-change footer, else the commit's body without its trailers), and
//! every toolchain requirement raised (the MSRV, the edition, the Python, Go or Node
//! version) that a manifest change brings.

use super::{TouristState, Upgrade};
use crate::agents::{ClassifiedCommit, Finding, FindingKind};
use crate::text::clip;

/// Longest note taken from a commit body (characters).
const NOTE_CHARS: usize = 1_200;

/// What `c`'s author says of its break: the footer's text, else the body (its trailers such
/// as `Signed-off-by:` left out), else nothing.
pub(super) fn note_of(c: &ClassifiedCommit) -> String {
    if let Some(note) = c.breaking_note.as_deref().filter(|n| !n.trim().is_empty()) {
        return note.trim().to_owned();
    }
    let lines: Vec<&str> = c.body.lines().filter(|l| !is_trailer(l)).collect();
    clip(lines.join("\n").trim(), NOTE_CHARS)
}

/// A `Token: value` trailer line (`Signed-off-by:`, `Co-authored-by:`, `BREAKING CHANGE:`
/// handled by the parser, `Refs:`), which is no explanation.
fn is_trailer(line: &str) -> bool {
    let Some((token, _)) = line.split_once(": ") else {
        return false;
    };
    !token.is_empty()
        && token.len() <= 30
        && token
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
        && token.contains('-')
}

/// Upgrade notes for the toolchain requirements `c` raised or set (its findings), taken
/// with the commit so a release cut later in the same change set ships them.
pub(super) fn toolchain(mine: &mut TouristState, c: &ClassifiedCommit, findings: &[Finding]) {
    for f in findings.iter().filter(|f| f.sha == c.sha) {
        let FindingKind::ToolchainChanged {
            manifest,
            what,
            from,
            to: Some(to),
        } = &f.what
        else {
            continue;
        };
        if !crate::agents::inspector::raised(from.as_deref(), to) {
            continue;
        }
        let key = format!("{}:{manifest}:{what}", f.sha);
        if mine.upgrades.iter().any(|u| u.key == key) {
            continue;
        }
        mine.upgrades.push(Upgrade {
            key,
            summary: super::super::historian::capitalize(&f.what.describe()),
            note: "Building the project needs the new requirement.".into(),
            url: c.url.clone(),
            short: c.short().to_owned(),
            date: c.date(),
            release: None,
            libraries: Vec::new(),
        });
    }
}

/// Marks the upgrade notes of breaks that touch library packages only.
pub(super) fn libraries(mine: &mut TouristState, findings: &[Finding]) {
    for f in findings {
        if let FindingKind::LibraryBreak { packages } = &f.what
            && let Some(u) = mine.upgrades.iter_mut().find(|u| u.key == f.sha)
        {
            u.libraries = packages.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_are_no_explanation() {
        for t in [
            "Signed-off-by: A <a@x>",
            "Co-authored-by: B",
            "Reviewed-by: C",
        ] {
            assert!(is_trailer(t), "{t}");
        }
        for t in ["Before: x", "Run `tool --port 1`: it fails", "just text"] {
            assert!(!is_trailer(t), "{t}");
        }
    }
}
