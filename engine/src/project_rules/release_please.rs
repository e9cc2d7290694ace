//! release-please's `release-please-config.json`: the changelog's sections by commit type
//! (`changelog-sections`: `type`, `section`, `hidden`), from the top level or, when it has
//! its own, the root package `"."`; release-please's default sections when the file names
//! none. A commit is listed when its type has a visible section, or when it is breaking
//! (under its hidden section's heading, or none); commits that are not Conventional Commits
//! are not listed, as release-please does. The tag settings (`include-component-in-tag`,
//! `tag-separator`, the packages' `component`) are kept as data only.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CommitDecision, CommitInput, Group, bounded, bounded_list};

/// release-please's sections when a config names none: (type, section, hidden).
const DEFAULT_SECTIONS: [(&str, &str, bool); 11] = [
    ("feat", "Features", false),
    ("fix", "Bug Fixes", false),
    ("perf", "Performance Improvements", false),
    ("revert", "Reverts", false),
    ("chore", "Miscellaneous Chores", true),
    ("docs", "Documentation", true),
    ("style", "Styles", true),
    ("refactor", "Code Refactoring", true),
    ("test", "Tests", true),
    ("build", "Build System", true),
    ("ci", "Continuous Integration", true),
];

/// release-please's settings, as read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReleasePleaseRules {
    /// The file they came from.
    pub path: String,
    /// The sections, in the changelog's order.
    pub sections: Vec<ChangelogSection>,
    /// The file names no sections: these are release-please's defaults.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub default_sections: bool,
    /// `include-component-in-tag`, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_component_in_tag: Option<bool>,
    /// `tag-separator`, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_separator: Option<String>,
    /// The packages and their components (monorepos).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<PackageComponent>,
}

/// One of `changelog-sections`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangelogSection {
    /// The commit type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The heading.
    pub section: String,
    /// Commits of this type are not listed (unless breaking).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
}

/// A package of the config and its component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageComponent {
    /// The package's path (`.` for the root).
    pub path: String,
    /// Its component, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct ConfigFile {
    changelog_sections: Option<Vec<SectionEntry>>,
    include_component_in_tag: Option<bool>,
    tag_separator: Option<String>,
    packages: BTreeMap<String, PackageEntry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct PackageEntry {
    component: Option<String>,
    changelog_sections: Option<Vec<SectionEntry>>,
}

#[derive(Debug, Deserialize)]
struct SectionEntry {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    section: Option<String>,
    #[serde(default)]
    hidden: bool,
}

/// `release-please-config.json`.
pub(super) fn parse(path: &str, text: &str) -> Result<ReleasePleaseRules, String> {
    let mut file: ConfigFile = serde_json::from_str(text)
        .map_err(|e| format!("{path}: not a valid release-please config: {e}"))?;
    let root_sections = file
        .packages
        .get_mut(".")
        .and_then(|p| p.changelog_sections.take());
    let (setting, entries) = match (root_sections, file.changelog_sections.take()) {
        (Some(s), _) => ("packages.\".\".changelog-sections", Some(s)),
        (None, s) => ("changelog-sections", s),
    };
    let (sections, default_sections) = match entries {
        None => (defaults(), true),
        Some(entries) => {
            let entries = bounded_list(&format!("{path}: {setting}"), entries)?;
            let mut sections = Vec::with_capacity(entries.len());
            for (i, e) in entries.into_iter().enumerate() {
                let name = |key: &str| format!("{path}: {setting}[{i}].{key}");
                let kind = bounded(&name("type"), e.kind)?;
                let section = match e.section {
                    Some(s) => bounded(&name("section"), s)?,
                    None => kind.clone(),
                };
                sections.push(ChangelogSection {
                    kind,
                    section,
                    hidden: e.hidden,
                });
            }
            (sections, false)
        }
    };
    let packages = bounded_list(
        &format!("{path}: packages"),
        file.packages.into_iter().collect(),
    )?;
    let mut components = Vec::with_capacity(packages.len());
    for (pkg, entry) in packages {
        let setting = format!("{path}: packages.{pkg:?}");
        components.push(PackageComponent {
            path: bounded(&setting, pkg)?,
            component: entry
                .component
                .map(|c| bounded(&format!("{setting}.component"), c))
                .transpose()?,
        });
    }
    Ok(ReleasePleaseRules {
        path: path.to_owned(),
        sections,
        default_sections,
        include_component_in_tag: file.include_component_in_tag,
        tag_separator: file
            .tag_separator
            .map(|s| bounded(&format!("{path}: tag-separator"), s))
            .transpose()?,
        components,
    })
}

fn defaults() -> Vec<ChangelogSection> {
    DEFAULT_SECTIONS
        .iter()
        .map(|&(kind, section, hidden)| ChangelogSection {
            kind: kind.to_owned(),
            section: section.to_owned(),
            hidden,
        })
        .collect()
}

impl ReleasePleaseRules {
    /// Whether release-please lists the commit, and under which heading.
    pub(super) fn commit(&self, c: &CommitInput<'_>) -> CommitDecision {
        if !c.conventional {
            return CommitDecision::Skip {
                rule: format!(
                    "{}: release-please lists Conventional Commits only",
                    self.path
                ),
            };
        }
        let found = self
            .sections
            .iter()
            .find(|s| s.kind.eq_ignore_ascii_case(c.kind));
        let group = found.map(|s| {
            // Types sharing a heading share its place: the first time it is named.
            let first = self
                .sections
                .iter()
                .position(|o| o.section == s.section)
                .unwrap_or_default();
            Group::at(first, &s.section)
        });
        match found {
            Some(s) if !s.hidden || c.breaking => CommitDecision::Keep { group, scope: None },
            None if c.breaking => CommitDecision::Keep {
                group: None,
                scope: None,
            },
            Some(_) => CommitDecision::Skip {
                rule: format!("{}: changelog-sections hides {}", self.path, c.kind),
            },
            None => CommitDecision::Skip {
                rule: format!(
                    "{}: changelog-sections has no section for {}",
                    self.path,
                    crate::text::clip_plain(c.kind, 40)
                ),
            },
        }
    }
}
