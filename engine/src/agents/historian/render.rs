//! The Historian's pages: the changelog (cut at releases, grouped by the pack's sections),
//! the architecture decision records and the refactoring history, current and archived.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use super::{Adr, Historian, LogEntry, Refactoring};
use crate::agents::ReleaseInfo;
use crate::doc::DocFile;
use crate::error::EngineError;

impl Historian {
    /// `repo` (`owner/name`), when known, is the repository whose pages may be linked; pages
    /// archived while applying are rendered without it (see [`crate::markdown::allowed_url`]).
    pub(super) fn render_changelog(
        &self,
        repo: Option<&str>,
        title: &str,
        entries: &[LogEntry],
        releases: &[ReleaseInfo],
        pages: u32,
        about: Option<&Value>,
    ) -> Result<String, EngineError> {
        // An archived page has no `about` (the rules and the project's changelog are said on
        // the main page).
        let archived = about.is_none();
        let sections = &self.pack.rules.changelog;
        let known: HashMap<&str, usize> = sections
            .iter()
            .enumerate()
            .map(|(i, s)| (s.kind.as_str(), i))
            .collect();
        // Release order: unreleased first, then newest release first; a skipped release is
        // left out with its changes.
        let skipped: Vec<&str> = releases
            .iter()
            .filter(|r| r.skipped)
            .map(|r| r.tag.as_str())
            .collect();
        let mut order: Vec<Option<&str>> = vec![None];
        order.extend(
            releases
                .iter()
                .rev()
                .filter(|r| !r.skipped)
                .map(|r| Some(r.tag.as_str())),
        );
        for e in entries {
            let release = e.release.as_deref();
            if !order.contains(&release) && !release.is_some_and(|t| skipped.contains(&t)) {
                order.push(release);
            }
        }
        let mut out = Vec::new();
        for release in order {
            // By the project's own heading when its rules name one, else by the pack's
            // section of the type; a project heading the pack also has sorts with it.
            let mut groups: BTreeMap<(usize, String), Vec<Value>> = BTreeMap::new();
            for e in entries
                .iter()
                .rev()
                .filter(|e| e.release.as_deref() == release)
            {
                let by_group = e.group.as_deref().and_then(|g| {
                    sections
                        .iter()
                        .position(|s| s.title.eq_ignore_ascii_case(g))
                });
                let i = by_group
                    .or_else(|| known.get(e.kind.as_str()).copied())
                    .unwrap_or(sections.len());
                let title = e.group.clone().unwrap_or_else(|| {
                    sections
                        .get(i)
                        .map_or("Other Changes", |s| s.title.as_str())
                        .to_owned()
                });
                groups.entry((i, title)).or_default().push(json!({
                    "summary": e.summary, "scope": e.scope, "breaking": e.breaking,
                    "author": e.author, "url": e.url, "short": &e.sha[..7.min(e.sha.len())],
                }));
            }
            if groups.is_empty() {
                continue;
            }
            let sections: Vec<Value> = groups
                .into_iter()
                .map(|((_, title), entries)| json!({"title": title, "entries": entries}))
                .collect();
            let info = release.and_then(|tag| releases.iter().find(|r| r.tag == tag));
            let heading = match (release, info) {
                (None, _) if archived => "Not yet released when archived".to_owned(),
                (None, _) => "Unreleased".to_owned(),
                (Some(_), Some(r)) => r.title.clone(),
                (Some(tag), None) => tag.to_owned(),
            };
            out.push(json!({
                "tag": release,
                "title": heading,
                "url": info.map(|r| r.url.as_str()).unwrap_or(""),
                "date": info.and_then(|r| r.date.clone()),
                "pre_releases": info.map(|r| r.pre_releases.as_slice()).unwrap_or(&[]),
                "earlier_pages": info.map(|r| r.earlier_pages.as_slice()).unwrap_or(&[]),
                "sections": sections,
            }));
        }
        let pages: Vec<u32> = (1..=pages).rev().collect();
        // Pages sit in `changelog/` beside the main file, and beside each other.
        let page_dir = if archived { "" } else { "changelog/" };
        self.pack.render(
            "changelog.md",
            minijinja::context! { repo, title, releases => out, pages, page_dir, about },
        )
    }

    pub(super) fn render_adrs(
        &self,
        repo: Option<&str>,
        title: &str,
        adrs: &[Adr],
        pages: u32,
    ) -> Result<String, EngineError> {
        let pages: Vec<u32> = (1..=pages).collect();
        self.pack.render(
            "architecture_decisions.md",
            minijinja::context! { repo, title, adrs, pages },
        )
    }

    pub(super) fn render_refactorings(
        &self,
        repo: Option<&str>,
        title: &str,
        entries: &[Refactoring],
        pages: u32,
    ) -> Result<String, EngineError> {
        let entries: Vec<Value> = entries
            .iter()
            .map(|e| {
                json!({"summary": e.summary, "date": e.date, "url": e.url, "author": e.author,
                       "details": e.details, "short": &e.sha[..7.min(e.sha.len())]})
            })
            .collect();
        let pages: Vec<u32> = (1..=pages).collect();
        self.pack.render(
            "refactoring_history.md",
            minijinja::context! { repo, title, entries, pages },
        )
    }

    pub(super) fn changelog_page(
        &self,
        n: u32,
        page: &[LogEntry],
        releases: &[ReleaseInfo],
    ) -> Result<DocFile, EngineError> {
        Ok(DocFile {
            path: format!("decisions/changelog/page-{n:04}.md"),
            contents: self.render_changelog(
                None,
                &format!("Changelog — page {n}"),
                page,
                releases,
                0,
                None,
            )?,
        })
    }

    pub(super) fn adr_page(&self, n: u32, page: &[Adr]) -> Result<DocFile, EngineError> {
        Ok(DocFile {
            path: format!("decisions/architecture_decisions/page-{n:04}.md"),
            contents: self.render_adrs(
                None,
                &format!("Architecture decisions — page {n}"),
                page,
                0,
            )?,
        })
    }

    pub(super) fn refactoring_page(
        &self,
        n: u32,
        page: &[Refactoring],
    ) -> Result<DocFile, EngineError> {
        Ok(DocFile {
            path: format!("decisions/refactoring_history/page-{n:04}.md"),
            contents: self.render_refactorings(
                None,
                &format!("Refactoring history — page {n}"),
                page,
                0,
            )?,
        })
    }
}
