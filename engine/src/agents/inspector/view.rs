//! What the Building Inspector's pages show, computed from its state: components with what
//! they are for, the packages and how they depend on each other (a Mermaid graph), languages
//! as GitHub's bar counts them, tools with a few of their paths.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{InspectorState, ROOT, component};
use crate::languages::RepoLanguages;
use crate::pack::AgentPack;

#[derive(Debug, Default, Serialize)]
pub(super) struct ComponentView {
    name: String,
    files: u64,
    languages: Vec<String>,
    packages: Vec<String>,
    entry_points: Vec<String>,
    purpose: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct LanguageView {
    name: String,
    amount: u64,
    share: String,
}

#[derive(Debug, Serialize)]
pub(super) struct ToolView {
    name: String,
    kind: String,
    paths: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct PackageView {
    path: String,
    dir: String,
    name: Option<String>,
    purpose: Option<String>,
    dependencies: Vec<String>,
    /// Packages of this repository it depends on.
    depends_on: Vec<String>,
    binaries: Vec<String>,
}

/// The inventory seen through the pack's rules.
pub(super) struct View {
    pub(super) components: Vec<ComponentView>,
    pub(super) languages: Vec<LanguageView>,
    /// `bytes` when the size of every counted file is known, else `files`.
    pub(super) language_basis: &'static str,
    pub(super) tools: Vec<ToolView>,
    pub(super) packages: Vec<PackageView>,
    /// The packages' dependency graph as a Mermaid flowchart (none for a single package).
    pub(super) graph: Option<String>,
}

/// Most paths listed per tool.
const PATHS_PER_TOOL: usize = 8;
/// Most dependencies listed per package.
const DEPENDENCIES_SHOWN: usize = 12;
/// Most packages drawn in the graph.
const GRAPH_NODES: usize = 40;

impl View {
    pub(super) fn of(pack: &AgentPack, mine: &InspectorState) -> Self {
        let rules = &pack.rules;
        let langs = RepoLanguages::new(&rules.languages, &mine.attributes);
        let mut components: BTreeMap<&str, ComponentView> = BTreeMap::new();
        let mut component_langs: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
        let mut by_files: BTreeMap<&str, u64> = BTreeMap::new();
        let mut by_bytes: BTreeMap<&str, u64> = BTreeMap::new();
        let (mut counted, mut sized) = (0u64, 0u64);
        let mut tools: BTreeMap<usize, ToolView> = BTreeMap::new();
        let mut packages = Vec::new();
        for path in &mine.paths {
            let comp = component(path);
            let view = components.entry(comp).or_insert_with(|| ComponentView {
                name: comp.to_owned(),
                ..ComponentView::default()
            });
            view.files += 1;
            if let Some(lang) = langs.counted(path) {
                counted += 1;
                *by_files.entry(lang).or_default() += 1;
                if let Some(size) = mine.sizes.get(path) {
                    sized += 1;
                    *by_bytes.entry(lang).or_default() += size;
                }
                *component_langs
                    .entry(comp)
                    .or_default()
                    .entry(lang)
                    .or_default() += 1;
            }
            if rules.is_entry_point(path) && view.entry_points.len() < 6 {
                view.entry_points.push(path.clone());
            }
            if let Some(index) = rules.tool_index(path) {
                let tool = &rules.tools[index];
                let t = tools.entry(index).or_insert_with(|| ToolView {
                    name: tool.name.clone(),
                    kind: tool.kind.clone(),
                    paths: Vec::new(),
                });
                if t.paths.len() < PATHS_PER_TOOL {
                    t.paths.push(path.clone());
                } else if t.paths.len() == PATHS_PER_TOOL {
                    t.paths.push("…".into());
                }
                if tool.kind == "manifest" {
                    let dir = path.rsplit_once('/').map_or(".", |(d, _)| d);
                    if dir != "." {
                        view.packages.push(dir.to_owned());
                    }
                    packages.push(package(mine, path, dir));
                }
            }
        }
        for (comp, n) in &mine.untracked {
            components
                .entry(comp.as_str())
                .or_insert_with(|| ComponentView {
                    name: comp.clone(),
                    ..ComponentView::default()
                })
                .files += n;
        }
        for (comp, langs) in component_langs {
            if let Some(view) = components.get_mut(comp) {
                let mut by_count: Vec<(&str, u64)> = langs.into_iter().collect();
                by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                view.languages = by_count.into_iter().map(|(l, _)| l.to_owned()).collect();
            }
        }
        for (name, view) in &mut components {
            view.purpose = purpose_of(mine, &packages, name);
        }
        // Bytes, as GitHub counts, once every counted file has a known size (a file without
        // one would count as nothing).
        let (amounts, language_basis) = if counted > 0 && sized == counted {
            (by_bytes, "bytes")
        } else {
            (by_files, "files")
        };
        let total: u64 = amounts.values().sum();
        let mut languages: Vec<LanguageView> = amounts
            .into_iter()
            .map(|(name, amount)| LanguageView {
                name: name.to_owned(),
                amount,
                share: format!("{:.1}", amount as f64 * 100.0 / total.max(1) as f64),
            })
            .collect();
        languages.sort_by(|a, b| b.amount.cmp(&a.amount).then(a.name.cmp(&b.name)));
        // Root files last: the named components are the map.
        let mut components: Vec<ComponentView> = components.into_values().collect();
        components.sort_by_key(|c| c.name == ROOT);
        packages.retain(|p| p.name.is_some() || !p.dependencies.is_empty() || p.path.contains('/'));
        link_packages(&mut packages);
        let graph = mermaid(&packages);
        for p in &mut packages {
            p.dependencies.truncate(DEPENDENCIES_SHOWN);
        }
        Self {
            components,
            languages,
            language_basis,
            tools: tools.into_values().collect(),
            packages,
            graph,
        }
    }
}

fn package(mine: &InspectorState, path: &str, dir: &str) -> PackageView {
    let facts = mine.manifests.get(path);
    let readme = mine.readmes.get(dir).cloned();
    let mut binaries = facts.map(|f| f.binaries.clone()).unwrap_or_default();
    // Cargo builds `src/main.rs` as an executable named after the package.
    let main = if dir == "." {
        "src/main.rs".to_owned()
    } else {
        format!("{dir}/src/main.rs")
    };
    if let Some(f) = facts
        && f.tool == "Cargo"
        && binaries.is_empty()
        && mine.paths.contains(&main)
    {
        binaries.extend(f.name.clone());
    }
    PackageView {
        path: path.to_owned(),
        dir: dir.to_owned(),
        name: facts.and_then(|f| f.name.clone()),
        purpose: facts.and_then(|f| f.description.clone()).or(readme),
        dependencies: facts.map(|f| f.dependencies.clone()).unwrap_or_default(),
        depends_on: facts.map(|f| f.local.clone()).unwrap_or_default(),
        binaries,
    }
}

/// What a top-level component is for: its README, else the description of the package
/// that is the component itself.
fn purpose_of(mine: &InspectorState, packages: &[PackageView], comp: &str) -> Option<String> {
    if comp == ROOT {
        return None;
    }
    mine.readmes.get(comp).cloned().or_else(|| {
        packages
            .iter()
            .find(|p| p.dir == comp)
            .and_then(|p| p.purpose.clone())
    })
}

/// Each package's dependencies on the repository's own packages, matched by name (a path
/// dependency, a workspace member, or a registry name the repository itself publishes).
fn link_packages(packages: &mut [PackageView]) {
    let names: Vec<Option<String>> = packages.iter().map(|p| p.name.clone()).collect();
    for p in packages.iter_mut() {
        let mut on: Vec<String> = names
            .iter()
            .flatten()
            .filter(|n| p.name.as_ref() != Some(*n))
            .filter(|n| p.dependencies.contains(n) || p.depends_on.contains(n))
            .cloned()
            .collect();
        on.sort();
        on.dedup();
        p.depends_on = on;
    }
}

/// A Mermaid label: only characters that cannot end the label, the node or the fence.
fn label(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '.' | '/' | '@' | '-' | '+') {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    if safe.trim().is_empty() {
        "unnamed".into()
    } else {
        safe
    }
}

/// The packages that depend on, or are depended on by, another: a `flowchart LR` with an
/// arrow from each package to what it builds on. `None` when no package depends on another.
fn mermaid(packages: &[PackageView]) -> Option<String> {
    let named: Vec<&PackageView> = packages.iter().filter(|p| p.name.is_some()).collect();
    let index: BTreeMap<&str, usize> = named
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.as_deref().unwrap_or_default(), i))
        .collect();
    let mut edges = Vec::new();
    for (i, p) in named.iter().enumerate() {
        for dep in &p.depends_on {
            if let Some(j) = index.get(dep.as_str()) {
                edges.push((i, *j));
            }
        }
    }
    edges.retain(|(a, b)| *a < GRAPH_NODES && *b < GRAPH_NODES);
    if edges.is_empty() {
        return None;
    }
    let mut out = String::from("flowchart LR\n");
    for (i, p) in named.iter().enumerate().take(GRAPH_NODES) {
        let name = p.name.as_deref().unwrap_or_default();
        out.push_str(&format!("  p{i}[\"{}\"]\n", label(name)));
    }
    for (a, b) in edges {
        out.push_str(&format!("  p{a} --> p{b}\n"));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, deps: &[&str]) -> PackageView {
        PackageView {
            path: format!("{name}/Cargo.toml"),
            dir: name.to_owned(),
            name: Some(name.to_owned()),
            purpose: None,
            dependencies: deps.iter().map(|d| (*d).to_owned()).collect(),
            depends_on: Vec::new(),
            binaries: Vec::new(),
        }
    }

    #[test]
    fn packages_link_by_name_and_the_graph_draws_them() {
        let mut p = vec![
            pkg("cli", &["clap", "core-lib"]),
            pkg("core-lib", &["serde"]),
            pkg("x\"]; click p0 call evil()%%", &["core-lib"]),
        ];
        link_packages(&mut p);
        assert_eq!(p[0].depends_on, ["core-lib"]);
        assert!(p[1].depends_on.is_empty());
        let g = mermaid(&p).unwrap();
        assert!(g.starts_with("flowchart LR\n"), "{g}");
        assert!(g.contains("p0 --> p1") && g.contains("p2 --> p1"), "{g}");
        // Hostile names cannot leave their label.
        assert!(!g.contains('"') || g.matches('"').count() == 6, "{g}");
        assert!(!g.contains("%%") && !g.contains(';'), "{g}");
        assert_eq!(mermaid(&[pkg("alone", &[])]), None);
    }
}
