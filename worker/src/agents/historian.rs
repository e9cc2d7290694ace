//! The Historian (first cut): `decisions/changelog.md`, one line per commit, naming its
//! short sha and linking the full one, grouped by Conventional Commits type, newest first.
//!
//! State stays small whatever the history: it holds the current page of entries (in the
//! order they were applied) and the shas of recently archived ones. When the page reaches
//! `2 × PAGE` entries, its oldest `PAGE` entries become a write-once page
//! `decisions/changelog/page-NNNN.md`, linked from the changelog. A commit already present
//! (in the page or recently archived) is not applied again, so redeliveries and replays
//! change nothing.

use std::collections::HashSet;

use minijinja::Environment;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Agent, AgentRun, ClassifiedCommit, Plan};
use crate::WorkerError;
use crate::sink::DocFile;

const CHANGELOG: &str = "decisions/changelog.md";
/// Entries per archived page.
pub const PAGE: usize = 100;
/// Archived shas remembered for idempotency.
const RECENT_ARCHIVED: usize = 2_000;

const TEMPLATE: &str = r#"# {{ title }}

Kept by CodeRipple's Historian: one line per commit, grouped by Conventional Commits type,
newest first within each group.
{% for section in sections %}
## {{ section.title }}

{% for e in section.entries -%}
- {% if e.breaking %}**BREAKING** {% endif %}{% if e.scope %}**{{ e.scope }}:** {% endif %}{{ e.summary }} ([`{{ e.sha[:7] }}`]({{ e.url }})){% if e.author %} — {{ e.author }}{% endif %}
{% endfor %}{% endfor %}{% if pages %}
## Older changes

{% for p in pages -%}
- [page {{ p }}](changelog/page-{{ "%04d"|format(p) }}.md)
{% endfor %}{% endif %}"#;

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
    /// The current page, in application order.
    #[serde(default)]
    pub entries: Vec<ClassifiedCommit>,
    /// Number of archived pages.
    #[serde(default)]
    pub pages: u32,
    /// Shas of the most recently archived entries, oldest first.
    #[serde(default)]
    pub archived: Vec<String>,
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

    fn render_page(
        &self,
        title: &str,
        entries: &[ClassifiedCommit],
        pages: u32,
    ) -> Result<String, WorkerError> {
        let known: HashSet<&str> = SECTIONS.iter().map(|(k, _)| *k).collect();
        let mut sections: Vec<Section<'_>> = SECTIONS
            .iter()
            .map(|(kind, title)| Section {
                title,
                entries: entries.iter().rev().filter(|e| e.kind == *kind).collect(),
            })
            .collect();
        sections.push(Section {
            title: "Other Changes",
            entries: entries
                .iter()
                .rev()
                .filter(|e| !known.contains(e.kind.as_str()))
                .collect(),
        });
        sections.retain(|s| !s.entries.is_empty());
        let pages: Vec<u32> = (1..=pages).rev().collect();
        self.env
            .get_template("changelog.md")
            .and_then(|t| t.render(minijinja::context! { title, sections, pages }))
            .map_err(|e| WorkerError::invalid(format!("changelog template: {e}")))
    }
}

#[derive(Serialize)]
struct Section<'a> {
    title: &'static str,
    entries: Vec<&'a ClassifiedCommit>,
}

fn read_state(state: &Value) -> Result<HistorianState, WorkerError> {
    if state.is_null() {
        return Ok(HistorianState::default());
    }
    HistorianState::deserialize(state)
        .map_err(|e| WorkerError::invalid(format!("historian state unreadable: {e}")))
}

impl Agent for Historian {
    fn name(&self) -> &'static str {
        "historian"
    }

    fn apply(&self, plan: &Plan, state: &mut Value) -> Result<AgentRun, WorkerError> {
        let mut mine = read_state(state)?;
        let mut seen: HashSet<String> = mine
            .entries
            .iter()
            .map(|e| e.sha.clone())
            .chain(mine.archived.iter().cloned())
            .collect();
        let mut run = AgentRun::default();
        for commit in &plan.commits {
            if seen.insert(commit.sha.clone()) {
                mine.entries.push(commit.clone());
                run.applied += 1;
            } else {
                run.already_applied += 1;
            }
        }
        while mine.entries.len() >= 2 * PAGE {
            let page: Vec<ClassifiedCommit> = mine.entries.drain(..PAGE).collect();
            mine.pages += 1;
            let title = format!("Changelog — page {}", mine.pages);
            run.write_once.push(DocFile {
                path: format!("decisions/changelog/page-{:04}.md", mine.pages),
                contents: self.render_page(&title, &page, 0)?,
            });
            mine.archived.extend(page.into_iter().map(|e| e.sha));
            let excess = mine.archived.len().saturating_sub(RECENT_ARCHIVED);
            mine.archived.drain(..excess);
        }
        *state = serde_json::to_value(&mine)
            .map_err(|e| WorkerError::invalid(format!("historian state: {e}")))?;
        Ok(run)
    }

    fn render(&self, repo: &str, state: &Value) -> Result<Vec<DocFile>, WorkerError> {
        let mine = read_state(state)?;
        let contents =
            self.render_page(&format!("Changelog — {repo}"), &mine.entries, mine.pages)?;
        Ok(vec![DocFile {
            path: CHANGELOG.into(),
            contents,
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_with_sha(sha: String, kind: &str, summary: &str) -> ClassifiedCommit {
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

    fn entry(sha_char: char, kind: &str, summary: &str) -> ClassifiedCommit {
        entry_with_sha(std::iter::repeat_n(sha_char, 40).collect(), kind, summary)
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
        assert!(!text.contains("Older changes"));
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

    #[test]
    fn long_histories_move_into_write_once_pages_and_state_stays_bounded() {
        let h = Historian::new();
        let mut state = Value::Null;
        let mut pages = Vec::new();
        let sha = |i: usize| format!("{i:040x}");
        for batch in 0..30 {
            let plan = Plan {
                commits: (0..25)
                    .map(|i| {
                        entry_with_sha(
                            sha(batch * 25 + i),
                            "feat",
                            &format!("change {}", batch * 25 + i),
                        )
                    })
                    .collect(),
                ..Plan::default()
            };
            pages.extend(h.apply(&plan, &mut state).unwrap().write_once);
        }
        let mine = read_state(&state).unwrap();
        assert!(mine.entries.len() < 2 * PAGE, "{}", mine.entries.len());
        assert_eq!(mine.pages as usize, pages.len());
        assert_eq!(pages[0].path, "decisions/changelog/page-0001.md");
        assert!(
            pages[0].contents.contains("change 0 ") && pages[0].contents.contains("change 99 ")
        );
        assert!(!pages[0].contents.contains("change 100 "));
        let main = &h.render("o/r", &state).unwrap()[0].contents;
        assert!(main.contains("](changelog/page-0001.md)"), "{main}");
        assert!(main.contains("change 749 "));
        // Every commit is on exactly one page.
        for i in 0..750 {
            let s = sha(i);
            let count = pages
                .iter()
                .chain(std::iter::once(&DocFile {
                    path: String::new(),
                    contents: main.clone(),
                }))
                .filter(|p| p.contents.contains(&s))
                .count();
            assert_eq!(count, 1, "commit {i}");
        }
        // An archived commit delivered again is still recognised.
        let replay = Plan {
            commits: vec![entry_with_sha(sha(5), "feat", "change 5")],
            ..Plan::default()
        };
        let run = h.apply(&replay, &mut state).unwrap();
        assert_eq!((run.applied, run.already_applied), (0, 1));
        assert!(serde_json::to_string(&state).unwrap().len() < 100_000);
    }
}
