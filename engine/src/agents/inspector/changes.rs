//! What changed between two readings of a manifest: runtime dependencies added or removed,
//! a requirement moved to a new major version, a toolchain requirement changed; and whether a
//! breaking change touches library packages only.

use std::collections::BTreeSet;

use super::{FindingKind, InspectorState};
use crate::agents::ClassifiedCommit;
use crate::facts::ManifestFacts;
use crate::pack::Rules;

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
    for name in &new.dependencies {
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
    for name in &old.dependencies {
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
        assert_eq!(major("workspace"), None);
        assert_eq!(major(">=2.1, <3"), Some((2, 0)));
    }
}
