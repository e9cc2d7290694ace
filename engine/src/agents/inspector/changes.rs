//! What the content source's readings change in the inventory (manifests, component
//! READMEs, `.gitattributes`, sizes), and what changed between two readings of a manifest:
//! runtime dependencies added or removed, a requirement moved to a new major version, a
//! toolchain requirement changed; and whether a breaking change touches library packages only.

use std::collections::{BTreeMap, BTreeSet};

use super::{Finding, FindingKind, InspectorState, README_CHARS, RECENT, Structural};
use crate::agents::ClassifiedCommit;
use crate::agents::journal::keep_last;
use crate::facts::FileFacts;
use crate::facts::{MAX_DEPENDENCIES, ManifestFacts};
use crate::pack::Rules;
use crate::plan::Plan;

/// Most findings one manifest change gives (a lockstep bump of every dependency is one
/// change to a reader, not sixty).
const MAX_PER_MANIFEST: usize = 12;

/// The changes from `old` to `new`, the facts of `manifest`.
pub(super) fn manifest_changes(
    manifest: &str,
    old: &ManifestFacts,
    new: &ManifestFacts,
) -> Vec<FindingKind> {
    let mut out = Vec::new();
    let path = || manifest.to_owned();
    // Facts read before versions were kept say nothing to compare with.
    if old.versions.is_empty() && old.toolchain.is_empty() && !old.dependencies.is_empty() {
        return out;
    }
    // A list cut at the cap: a name beyond the shorter list's last is not known to be gone
    // or new.
    let capped = |d: &ManifestFacts| d.dependencies.len() >= MAX_DEPENDENCIES;
    let limit = [old, new]
        .into_iter()
        .filter(|d| capped(d))
        .filter_map(|d| d.dependencies.last())
        .min();
    let known = |name: &String| limit.is_none_or(|l| name <= l);
    for name in new.dependencies.iter().filter(|n| known(n)) {
        if !old.dependencies.contains(name) {
            out.push(FindingKind::DependencyAdded {
                manifest: path(),
                name: name.clone(),
            });
        } else if let (Some(from), Some(to)) = (old.versions.get(name), new.versions.get(name))
            && let (Some(a), Some(b)) = (major(from), major(to))
            && a != b
        {
            out.push(FindingKind::DependencyMajor {
                manifest: path(),
                name: name.clone(),
                from: from.clone(),
                to: to.clone(),
            });
        }
    }
    for name in old.dependencies.iter().filter(|n| known(n)) {
        if !new.dependencies.contains(name) {
            out.push(FindingKind::DependencyRemoved {
                manifest: path(),
                name: name.clone(),
            });
        }
    }
    let keys = old.toolchain.keys().chain(new.toolchain.keys());
    let mut seen = Vec::new();
    for what in keys {
        if seen.contains(&what) {
            continue;
        }
        seen.push(what);
        let (from, to) = (old.toolchain.get(what), new.toolchain.get(what));
        if from != to {
            out.push(FindingKind::ToolchainChanged {
                manifest: path(),
                what: what.clone(),
                from: from.cloned(),
                to: to.cloned(),
            });
        }
    }
    out.truncate(MAX_PER_MANIFEST);
    out
}

/// What the content source read: manifests (and what changed in them), component
/// READMEs, `.gitattributes`, file sizes.
pub(super) fn apply_contents(mine: &mut InspectorState, plan: &Plan, findings: &mut Vec<Finding>) {
    // The last commit of the plan that touched each path: what a change is credited to.
    let mut by_path: BTreeMap<&str, &ClassifiedCommit> = BTreeMap::new();
    for c in plan.commits() {
        for p in c.paths.added.iter().chain(&c.paths.modified) {
            by_path.insert(p, c);
        }
    }
    for (path, facts) in &plan.contents {
        if !mine.paths.contains(path) {
            continue;
        }
        match facts {
            FileFacts::Manifest(m) => {
                let old = mine.manifests.insert(path.clone(), m.clone());
                let (Some(old), Some(c)) = (old, by_path.get(path.as_str())) else {
                    continue;
                };
                for what in manifest_changes(path, &old, m) {
                    mine.dependency_changes.push(Structural {
                        sha: c.sha.clone(),
                        url: c.url.clone(),
                        what: what.describe(),
                    });
                    findings.push(Finding {
                        sha: c.sha.clone(),
                        what,
                    });
                }
            }
            FileFacts::Readme(r) => {
                if let (Some((dir, _)), Some(d)) = (path.rsplit_once('/'), &r.description) {
                    mine.readmes
                        .insert(dir.to_owned(), crate::text::clip_plain(d, README_CHARS));
                }
            }
            FileFacts::Attributes(rules) => mine.attributes = rules.clone(),
            FileFacts::ReleaseRules(_) | FileFacts::Overrides(_) => {}
        }
    }
    keep_last(&mut mine.dependency_changes, RECENT);
    for (path, size) in &plan.sizes {
        if mine.paths.contains(path) {
            mine.sizes.insert(path.clone(), *size);
        }
    }
}

/// The library packages `c` changes when every path it touches (tests and docs aside) lies in
/// a package that declares no executable and has no entry point; `None` otherwise.
pub(super) fn library_break(
    rules: &Rules,
    mine: &InspectorState,
    c: &ClassifiedCommit,
) -> Option<Vec<String>> {
    // (directory, name, library) of each named package, deepest first.
    let mut packages: Vec<(String, String, bool)> = mine
        .manifests
        .iter()
        .filter_map(|(path, facts)| {
            let name = facts.name.clone()?;
            let dir = path.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
            let prefix = if dir.is_empty() {
                String::new()
            } else {
                format!("{dir}/")
            };
            let runs = !facts.binaries.is_empty()
                || mine
                    .paths
                    .iter()
                    .any(|p| p.starts_with(&prefix) && rules.is_entry_point(p));
            Some((prefix, name, !runs))
        })
        .collect();
    packages.sort_by_key(|(dir, _, _)| std::cmp::Reverse(dir.len()));
    let mut touched = BTreeSet::new();
    for path in c.paths.all() {
        if rules
            .categories_of(path)
            .any(|cat| cat == "tests" || cat == "docs")
        {
            continue;
        }
        let (_, name, library) = packages.iter().find(|(dir, _, _)| path.starts_with(dir))?;
        if !library {
            return None;
        }
        touched.insert(name.clone());
    }
    (!touched.is_empty()).then(|| touched.into_iter().collect())
}

/// The major version a requirement names: `^1.2` → 1, `=0.3.1` → 0.3 (below 1 the minor
/// is the breaking part), `v2.0.0` → 2; `None` for `workspace`, paths, ranges of words.
fn major(req: &str) -> Option<(u64, u64)> {
    let v = req
        .trim()
        .trim_start_matches(['^', '~', '=', '>', '<', 'v', ' '])
        .split([',', ' ', '|'])
        .next()?;
    let mut parts = v.split('.');
    let first: u64 = parts.next()?.parse().ok()?;
    let second: u64 = parts
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_default();
    Some(if first == 0 { (0, second) } else { (first, 0) })
}

/// Whether a toolchain requirement went from `from` to a higher `to` (or was set); a value
/// that is not a dotted number counts as raised.
pub(crate) fn raised(from: Option<&str>, to: &str) -> bool {
    let numbers = |v: &str| -> Option<Vec<u64>> {
        let digits = v.trim_start_matches(|c: char| !c.is_ascii_digit());
        let end = digits
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(digits.len());
        let parts: Vec<u64> = digits[..end]
            .split('.')
            .filter(|p| !p.is_empty())
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        (!parts.is_empty()).then_some(parts)
    };
    match (from.and_then(numbers), numbers(to)) {
        (Some(a), Some(b)) => b > a,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(deps: &[(&str, &str)], toolchain: &[(&str, &str)]) -> ManifestFacts {
        ManifestFacts {
            dependencies: deps.iter().map(|(n, _)| (*n).to_owned()).collect(),
            versions: deps
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            toolchain: toolchain
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            ..ManifestFacts::default()
        }
    }

    #[test]
    fn additions_removals_major_bumps_and_toolchain_changes() {
        let old = facts(
            &[
                ("serde", "1.0"),
                ("clap", "3.2"),
                ("git2", "0.17"),
                ("x", "1"),
            ],
            &[("rust-version", "1.70"), ("edition", "2021")],
        );
        let new = facts(
            &[
                ("serde", "1.0.200"),
                ("clap", "^4"),
                ("git2", "0.18"),
                ("tokio", "1"),
            ],
            &[("rust-version", "1.74"), ("edition", "2021")],
        );
        let d: Vec<String> = manifest_changes("Cargo.toml", &old, &new)
            .iter()
            .map(FindingKind::describe)
            .collect();
        assert_eq!(
            d,
            [
                "dependency `clap` from `3.2` to `^4` (`Cargo.toml`)",
                "dependency `git2` from `0.17` to `0.18` (`Cargo.toml`)",
                "dependency `tokio` added (`Cargo.toml`)",
                "dependency `x` removed (`Cargo.toml`)",
                "rust-version from `1.70` to `1.74` (`Cargo.toml`)",
            ]
        );
        assert!(manifest_changes("Cargo.toml", &new, &new).is_empty());
        // Facts from before versions were kept: nothing to compare.
        let legacy = ManifestFacts {
            dependencies: vec!["serde".into()],
            ..ManifestFacts::default()
        };
        assert!(manifest_changes("Cargo.toml", &legacy, &new).is_empty());
        // At the cap, a name pushed out of the list is not "removed".
        let many = |extra: &str| {
            let mut names: Vec<(String, String)> = (0..MAX_DEPENDENCIES - 1)
                .map(|i| (format!("dep{i:03}"), "1".to_owned()))
                .collect();
            names.push((extra.to_owned(), "1".to_owned()));
            names.sort();
            names.truncate(MAX_DEPENDENCIES);
            let refs: Vec<(&str, &str)> = names
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            facts(&refs, &[])
        };
        let found = manifest_changes("Cargo.toml", &many("zzz"), &many("aaa"));
        let d: Vec<String> = found.iter().map(FindingKind::describe).collect();
        assert_eq!(d, ["dependency `aaa` added (`Cargo.toml`)"]);
        assert!(raised(Some("1.70"), "1.74") && !raised(Some("1.74"), "1.70"));
        assert!(raised(Some("2021"), "2024") && raised(None, "1.70"));
        assert!(raised(Some(">=3.8"), ">=3.10") && !raised(Some("^18"), "^16"));
        assert_eq!(major("workspace"), None);
        assert_eq!(major(">=2.1, <3"), Some((2, 0)));
    }
}
