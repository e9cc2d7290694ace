//! Which commits get a decision record, and what it says. A record is for a decision a
//! maintainer would want written down, not for every edit of a manifest or a CI file:
//!
//! - a breaking change (its note becomes a consequence);
//! - a commit (or merged pull request) whose message states a decision (the pack's
//!   `signals.decision` phrases);
//! - a new or removed component (a top-level folder; not a hidden one such as `.github`, nor
//!   `tests/`, `examples/`, `vendor/` and the like);
//! - a tool, manifest or piece of infrastructure added or removed (a Dockerfile, a workflow,
//!   a Terraform file), outside tests, fixtures, examples and vendored code — an *edit* of
//!   one is not a decision;
//! - a decision record added to the repository itself (a file under `adr/`, `docs/adr/`,
//!   `docs/decisions/`, `doc/adr/` or `docs/architecture/decisions/`);
//! - the revert of a commit that has a record (while that record is on the current page).
//!
//! The decision is the commit body's first paragraph when there is one, else its subject.

use super::{Adr, DETAILS, capitalize};
use crate::agents::{ClassifiedCommit, Finding, FindingKind};

/// Folders (by path segment) that hold code nobody ships: what is added or removed there
/// decides nothing about the project.
const NOT_SHIPPED: &[&str] = &[
    "test",
    "tests",
    "testdata",
    "test-data",
    "fixture",
    "fixtures",
    "__tests__",
    "spec",
    "specs",
    "example",
    "examples",
    "vendor",
    "third_party",
    "third-party",
    "node_modules",
];

/// Whether `path` lies under a test, fixture, example or vendored folder.
pub(crate) fn not_shipped(path: &str) -> bool {
    let mut segments: Vec<&str> = path.split('/').collect();
    segments.pop();
    segments
        .iter()
        .any(|s| NOT_SHIPPED.contains(&s.to_ascii_lowercase().as_str()))
}

/// Whether `path` is a decision record the repository keeps itself.
pub(crate) fn is_decision_record(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let Some((folder, file)) = lower.rsplit_once('/') else {
        return false;
    };
    let documents = [".md", ".markdown", ".rst", ".adoc", ".txt"]
        .iter()
        .any(|ext| file.ends_with(ext));
    let folders = [
        "adr",
        "adrs",
        "docs/adr",
        "docs/adrs",
        "doc/adr",
        "docs/decisions",
        "docs/architecture/decisions",
        "docs/architecture-decisions",
    ];
    // Bare `adr/` only at the top; the others anywhere (a monorepo's package keeps its own).
    documents
        && (folder == "adr"
            || folder == "adrs"
            || folders[2..]
                .iter()
                .any(|f| folder == *f || folder.ends_with(&format!("/{f}"))))
}

/// The subject a revert names, without its Conventional Commits prefix (`feat(x)!: `).
fn reverted_summary(c: &ClassifiedCommit) -> Option<String> {
    if c.kind != "revert" {
        return None;
    }
    let quoted = c
        .summary
        .strip_prefix("revert \"")?
        .strip_suffix('"')
        .unwrap_or_else(|| c.summary.trim_start_matches("revert \""));
    let without_type = match quoted.split_once(": ") {
        Some((head, rest))
            if !head.contains(' ')
                && head
                    .trim_end_matches('!')
                    .split('(')
                    .next()
                    .is_some_and(|t| t.chars().all(|ch| ch.is_ascii_alphanumeric())) =>
        {
            rest
        }
        _ => quoted,
    };
    Some(capitalize(without_type.trim()))
}

/// The record for `c`, if its change is a decision (see the module docs). `kept` are the
/// records on the current page, which a revert is matched against by title.
pub(super) fn adr_for(c: &ClassifiedCommit, findings: &[&Finding], kept: &[Adr]) -> Option<Adr> {
    if c.is_merge() {
        return None;
    }
    let mut reasons = Vec::new();
    let mut consequences = Vec::new();
    if c.breaking {
        reasons.push("A breaking change".to_owned());
        if let Some(note) = &c.breaking_note {
            consequences.push(format!("Breaking: {note}"));
        }
    }
    if c.decision {
        reasons.push("The commit states a decision".to_owned());
    }
    let mut components = false;
    let mut tools = false;
    let mut dependencies = false;
    for f in findings {
        let counts = match &f.what {
            FindingKind::ComponentAdded { name } | FindingKind::ComponentRemoved { name }
                if !name.starts_with('.') && !not_shipped(&format!("{name}/")) =>
            {
                components = true;
                true
            }
            FindingKind::ToolAdded { path, .. } | FindingKind::ToolRemoved { path, .. }
                if !not_shipped(path) =>
            {
                tools = true;
                true
            }
            FindingKind::DependencyAdded { manifest, .. }
            | FindingKind::DependencyRemoved { manifest, .. }
                if !not_shipped(manifest) =>
            {
                dependencies = true;
                true
            }
            _ => false,
        };
        if counts {
            consequences.push(capitalize(&f.what.describe()));
        }
    }
    if components {
        reasons.push("A component was added or removed".to_owned());
    }
    if tools {
        reasons.push("A tool, manifest or piece of infrastructure was added or removed".to_owned());
    }
    if dependencies {
        reasons.push("A runtime dependency was added or removed".to_owned());
    }
    let records: Vec<&String> = c
        .paths
        .added
        .iter()
        .filter(|p| is_decision_record(p))
        .collect();
    if !records.is_empty() {
        reasons.push("A decision record was added to the repository".to_owned());
        for p in records {
            consequences.push(format!(
                "Recorded in {}",
                crate::markdown::code_span(p.as_str())
            ));
        }
    }
    if let Some(title) = reverted_summary(c)
        && let Some(adr) = kept.iter().find(|a| a.title == title)
    {
        reasons.push(format!("Reverts ADR-{:04}", adr.number));
    }
    if reasons.is_empty() {
        return None;
    }
    consequences.truncate(DETAILS);
    let body_paragraph = c.body.split("\n\n").next().unwrap_or("").trim();
    let decision = if body_paragraph.is_empty() {
        format!("{}.", capitalize(&c.summary).trim_end_matches('.'))
    } else {
        body_paragraph.replace('\n', " ")
    };
    Some(Adr {
        key: c.sha.clone(),
        number: 0,
        title: capitalize(&c.summary),
        date: c.date(),
        short: c.short().to_owned(),
        url: c.url.clone(),
        author: c.author.clone(),
        reasons,
        decision,
        consequences,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tests_fixtures_examples_and_vendored_code_are_not_shipped() {
        for p in [
            ".github/fixtures/test-ignore/Cargo.toml",
            "tests/data/Dockerfile",
            "crates/x/examples/demo/Cargo.toml",
            "vendor/lib/package.json",
            "Tests/Dockerfile",
        ] {
            assert!(not_shipped(p), "{p}");
        }
        for p in [
            "Cargo.toml",
            "crates/core/Cargo.toml",
            "Dockerfile",
            "testing.md/x/Cargo.toml",
        ] {
            assert!(!not_shipped(p), "{p}");
        }
    }

    #[test]
    fn decision_records_are_documents_in_an_adr_folder() {
        for p in [
            "docs/adr/0001-use-sqs.md",
            "adr/0002-x.md",
            "docs/decisions/0003.markdown",
            "doc/adr/4.rst",
            "docs/architecture/decisions/0005.adoc",
            "DOCS/ADR/6.MD",
            "packages/api/docs/adr/0007.md",
        ] {
            assert!(is_decision_record(p), "{p}");
        }
        for p in [
            "docs/adr.md",
            "docs/adr/diagram.png",
            "docs/coderipple/decisions/architecture_decisions.md",
            "src/adr/mod.rs",
            "README.md",
        ] {
            assert!(!is_decision_record(p), "{p}");
        }
    }
}
