//! The Historian (first cut): `decisions/changelog.md`, one line per commit, naming its
//! short sha and linking the full one, grouped by Conventional Commits type.
//!
//! State: the entries in the order they were applied. A commit already present is not
//! applied again, so redeliveries and replays change nothing.

use std::collections::HashSet;

use minijinja::Environment;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Agent, AgentRun, ClassifiedCommit, Plan};
use crate::WorkerError;
use crate::sink::DocFile;

const CHANGELOG: &str = "decisions/changelog.md";

const TEMPLATE: &str = r#"# Changelog — {{ repo }}

Kept by CodeRipple's Historian: one line per commit, grouped by Conventional Commits type,
newest first within each group.
{% for section in sections %}
## {{ section.title }}

{% for e in section.entries -%}
- {% if e.breaking %}**BREAKING** {% endif %}{% if e.scope %}**{{ e.scope }}:** {% endif %}{{ e.summary }} ([`{{ e.sha[:7] }}`]({{ e.url }})){% if e.author %} — {{ e.author }}{% endif %}
{% endfor %}{% endfor %}"#;

/// Section order and titles; anything else goes under "Other Changes".
const SECTIONS: &[(&str, &str)] = &[
    ("feat", "Features"),
    ("fix", "Bug Fixes"),
    ("perf", "Performance"),
    ("refactor", "Refactoring"),
    ("docs", "Documentation"),
    ("test", "Tests"),
    ("build", "Build"),
    ("ci", "Continuous Integration"),
    ("chore", "Chores"),
    ("style", "Style"),
    ("revert", "Reverts"),
];

/// The Historian's part of the repository state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistorianState {
    /// Changelog entries in application order.
    #[serde(default)]
    pub entries: Vec<ClassifiedCommit>,
}

/// The Historian agent.
#[derive(Debug)]
pub struct Historian {
    env: Environment<'static>,
}

impl Default for Historian {
    fn default() -> Self {
        Self::new()
    }
}

impl Historian {
    /// The Historian with its built-in template.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.add_template("changelog.md", TEMPLATE)
            .expect("built-in changelog template parses");
        Self { env }
    }
}

#[derive(Serialize)]
struct Section<'a> {
    title: &'static str,
    entries: Vec<&'a ClassifiedCommit>,
}

impl Agent for Historian {
    fn name(&self) -> &'static str {
        "historian"
    }

    fn apply(&self, plan: &Plan, state: &mut Value) -> Result<AgentRun, WorkerError> {
        let mut mine: HistorianState = if state.is_null() {
            HistorianState::default()
        } else {
            serde_json::from_value(state.clone())
                .map_err(|e| WorkerError::invalid(format!("historian state unreadable: {e}")))?
        };
        let mut seen: HashSet<String> = mine.entries.iter().map(|e| e.sha.clone()).collect();
        let mut run = AgentRun::default();
        for commit in &plan.commits {
            if seen.insert(commit.sha.clone()) {
                mine.entries.push(commit.clone());
                run.applied += 1;
            } else {
                run.already_applied += 1;
            }
        }
        *state = serde_json::to_value(&mine)
            .map_err(|e| WorkerError::invalid(format!("historian state: {e}")))?;
        Ok(run)
    }

    fn render(&self, repo: &str, state: &Value) -> Result<Vec<DocFile>, WorkerError> {
        let mine: HistorianState = serde_json::from_value(state.clone())
            .map_err(|e| WorkerError::invalid(format!("historian state unreadable: {e}")))?;
        let known: HashSet<&str> = SECTIONS.iter().map(|(k, _)| *k).collect();
        let mut sections: Vec<Section<'_>> = SECTIONS
            .iter()
            .map(|(kind, title)| Section {
                title,
                entries: mine
                    .entries
                    .iter()
                    .rev()
                    .filter(|e| e.kind == *kind)
                    .collect(),
            })
            .collect();
        sections.push(Section {
            title: "Other Changes",
            entries: mine
                .entries
                .iter()
                .rev()
                .filter(|e| !known.contains(e.kind.as_str()))
                .collect(),
        });
        sections.retain(|s| !s.entries.is_empty());
        let contents = self
            .env
            .get_template("changelog.md")
            .and_then(|t| t.render(minijinja::context! { repo, sections }))
            .map_err(|e| WorkerError::invalid(format!("changelog template: {e}")))?;
        Ok(vec![DocFile {
            path: CHANGELOG.into(),
            contents,
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(sha_char: char, kind: &str, summary: &str) -> ClassifiedCommit {
        let sha: String = std::iter::repeat_n(sha_char, 40).collect();
        ClassifiedCommit {
            url: format!("https://github.com/o/r/commit/{sha}"),
            sha,
            kind: kind.into(),
            scope: None,
            breaking: false,
            summary: summary.into(),
            conventional: true,
            author: "Mona".into(),
            timestamp: String::new(),
            delivery: "d".into(),
        }
    }

    #[test]
    fn changelog_groups_by_type_with_short_and_full_sha() {
        let h = Historian::new();
        let plan = Plan {
            commits: vec![
                entry('a', "feat", "first feature"),
                entry('b', "fix", "a fix"),
                entry('c', "feat", "second feature"),
                entry('d', "wip", "odd one"),
            ],
            ..Plan::default()
        };
        let mut state = Value::Null;
        assert_eq!(h.apply(&plan, &mut state).unwrap().applied, 4);
        let doc = &h.render("o/r", &state).unwrap()[0];
        assert_eq!(doc.path, "decisions/changelog.md");
        let text = &doc.contents;
        let line = format!(
            "- first feature ([`aaaaaaa`](https://github.com/o/r/commit/{})) — Mona",
            "a".repeat(40)
        );
        assert!(text.contains(&line), "{text}");
        let features = text.find("## Features").unwrap();
        let fixes = text.find("## Bug Fixes").unwrap();
        let other = text.find("## Other Changes").unwrap();
        assert!(features < fixes && fixes < other);
        assert!(
            text.find("second feature").unwrap() < text.find("first feature").unwrap(),
            "newest first"
        );
    }

    #[test]
    fn applying_the_same_commits_again_changes_nothing() {
        let h = Historian::new();
        let plan = Plan {
            commits: vec![entry('a', "feat", "x")],
            ..Plan::default()
        };
        let mut state = Value::Null;
        h.apply(&plan, &mut state).unwrap();
        let before = h.render("o/r", &state).unwrap();
        let again = h.apply(&plan, &mut state).unwrap();
        assert_eq!((again.applied, again.already_applied), (0, 1));
        assert_eq!(h.render("o/r", &state).unwrap(), before);
    }
}
