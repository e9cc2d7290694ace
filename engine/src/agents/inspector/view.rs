//! What the Building Inspector's pages show, computed from its state: components, languages,
//! tools with a few of their paths, packages.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{InspectorState, ROOT, component};
use crate::pack::AgentPack;

#[derive(Debug, Default, Serialize)]
pub(super) struct ComponentView {
    name: String,
    files: u64,
    languages: Vec<String>,
    packages: Vec<String>,
    entry_points: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct LanguageView {
    name: String,
    files: u64,
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
    name: Option<String>,
    dependencies: Vec<String>,
}

/// The inventory seen through the pack's rules.
pub(super) struct View {
    pub(super) components: Vec<ComponentView>,
    pub(super) languages: Vec<LanguageView>,
    pub(super) tools: Vec<ToolView>,
    pub(super) packages: Vec<PackageView>,
}

/// Most paths listed per tool.
const PATHS_PER_TOOL: usize = 8;

impl View {
    pub(super) fn of(pack: &AgentPack, mine: &InspectorState) -> Self {
        let rules = &pack.rules;
        let mut components: BTreeMap<&str, ComponentView> = BTreeMap::new();
        let mut component_langs: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
        let mut languages: BTreeMap<&str, u64> = BTreeMap::new();
        let mut tools: BTreeMap<usize, ToolView> = BTreeMap::new();
        let mut packages = Vec::new();
        for path in &mine.paths {
            let comp = component(path);
            let view = components.entry(comp).or_insert_with(|| ComponentView {
                name: comp.to_owned(),
                ..ComponentView::default()
            });
            view.files += 1;
            if let Some(lang) = rules.language_of(path) {
                *languages.entry(lang).or_default() += 1;
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
                    let facts = mine.manifests.get(path);
                    packages.push(PackageView {
                        path: path.clone(),
                        name: facts.and_then(|f| f.name.clone()),
                        dependencies: facts.map(|f| f.dependencies.clone()).unwrap_or_default(),
                    });
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
        let total: u64 = languages.values().sum();
        let mut languages: Vec<LanguageView> = languages
            .into_iter()
            .map(|(name, files)| LanguageView {
                name: name.to_owned(),
                files,
                share: format!("{:.1}", files as f64 * 100.0 / total.max(1) as f64),
            })
            .collect();
        languages.sort_by(|a, b| b.files.cmp(&a.files).then(a.name.cmp(&b.name)));
        // Root files last: the named components are the map.
        let mut components: Vec<ComponentView> = components.into_values().collect();
        components.sort_by_key(|c| c.name == ROOT);
        packages.retain(|p| p.name.is_some() || !p.dependencies.is_empty() || p.path.contains('/'));
        Self {
            components,
            languages,
            tools: tools.into_values().collect(),
            packages,
        }
    }
}
