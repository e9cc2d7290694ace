//! The Building Inspector (what it is now): keeps the repository's path inventory (added,
//! modified, removed, renamed paths) and the facts of its manifests, and rewrites
//! `system/architecture.md` and `system/tech_stack.md` to the current state.
//!
//! Languages, components, packages and tools are derived from the inventory at render time
//! through the pack's rules, so a rule change shows on the next render. The inventory keeps
//! up to [`MAX_PATHS`] paths by name; beyond that, files are only counted per component.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::budget::{PATH_BYTES, halve};
use super::journal::{keep_last, remember};
use super::{Agent, AgentInput, AgentRun, Finding, FindingKind, PlanItem, read_state, write_state};
use crate::WorkerError;
use crate::content::{FileFacts, ManifestFacts};
use crate::pack::AgentPack;
use crate::sink::DocFile;

/// The agent's name.
pub const NAME: &str = "building_inspector";
/// Paths kept by name.
pub const MAX_PATHS: usize = 5_000;
const RECENT: usize = 15;
const SEEN: usize = 2_000;
/// What compaction leaves, however tight the budget.
const SEEN_FLOOR: usize = 200;
const PATHS_FLOOR: usize = 500;
const MANIFESTS_FLOOR: usize = 10;
/// The component of files at the repository root.
pub const ROOT: &str = "(root)";

/// A structural change, for "recent structural changes".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Structural {
    /// Commit.
    pub sha: String,
    /// Link to it.
    pub url: String,
    /// What happened.
    pub what: String,
}

/// The inspector's part of the repository state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InspectorState {
    /// Paths of the tree, by name.
    #[serde(default)]
    pub paths: BTreeSet<String>,
    /// Files beyond [`MAX_PATHS`], counted per component.
    #[serde(default)]
    pub untracked: BTreeMap<String, u64>,
    /// Facts of manifests read through the content source, by path.
    #[serde(default)]
    pub manifests: BTreeMap<String, ManifestFacts>,
    /// Recent structural changes, oldest first.
    #[serde(default)]
    pub recent: Vec<Structural>,
    /// Recently applied commits (idempotency).
    #[serde(default)]
    pub seen: Vec<String>,
    /// The last commit applied: (sha, url).
    #[serde(default)]
    pub head: Option<(String, String)>,
}

/// The component of `path`: its top-level directory.
pub fn component(path: &str) -> &str {
    path.split_once('/').map_or(ROOT, |(top, _)| top)
}

impl InspectorState {
    fn has_component(&self, name: &str) -> bool {
        if name == ROOT {
            return self.paths.iter().any(|p| !p.contains('/'));
        }
        let prefix = format!("{name}/");
        self.paths
            .range(prefix.clone()..)
            .next()
            .is_some_and(|p| p.starts_with(&prefix))
            || self.untracked.get(name).is_some_and(|n| *n > 0)
    }

    fn add(&mut self, path: &str) {
        if self.paths.contains(path) {
            return;
        }
        if self.paths.len() < MAX_PATHS && path.len() <= PATH_BYTES {
            self.paths.insert(path.to_owned());
        } else {
            *self
                .untracked
                .entry(component(path).to_owned())
                .or_default() += 1;
        }
    }

    /// One compaction step (see [`Agent::compact`]): remembered commits, then recent
    /// changes, then the named inventory (half of it becomes per-component counts), then
    /// manifest facts lose half. Whether anything went.
    fn compact_step(&mut self) -> bool {
        if halve(&mut self.seen, SEEN_FLOOR) || halve(&mut self.recent, 3) {
            return true;
        }
        if self.paths.len() > PATHS_FLOOR {
            let keep = self.paths.len() / 2;
            let moved: Vec<String> = self.paths.iter().skip(keep).cloned().collect();
            for path in moved {
                self.paths.remove(&path);
                *self
                    .untracked
                    .entry(component(&path).to_owned())
                    .or_default() += 1;
            }
            return true;
        }
        if self.manifests.len() > MANIFESTS_FLOOR {
            let keep = self.manifests.len() / 2;
            let cut = self.manifests.keys().nth(keep).cloned();
            if let Some(cut) = cut {
                self.manifests.split_off(&cut);
            }
            return true;
        }
        false
    }

    fn remove(&mut self, path: &str) {
        if !self.paths.remove(path)
            && let Some(n) = self.untracked.get_mut(component(path))
        {
            {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.untracked.remove(component(path));
                }
            }
        }
        self.manifests.remove(path);
    }
}

/// The Building Inspector.
#[derive(Debug)]
pub struct BuildingInspector {
    pack: Arc<AgentPack>,
}

impl BuildingInspector {
    /// The inspector rendering with `pack`.
    pub fn new(pack: Arc<AgentPack>) -> Self {
        Self { pack }
    }

    fn apply_commit(
        &self,
        mine: &mut InspectorState,
        c: &super::ClassifiedCommit,
        findings: &mut Vec<Finding>,
    ) {
        let rules = &self.pack.rules;
        let found = |what| Finding {
            sha: c.sha.clone(),
            what,
        };
        let mut new_findings = Vec::new();
        // Renames: a name removed and added in one commit, unambiguously.
        let file = |p: &str| p.rsplit('/').next().unwrap_or(p).to_owned();
        let mut added_by_name: BTreeMap<String, Vec<&String>> = BTreeMap::new();
        for p in &c.paths.added {
            added_by_name.entry(file(p)).or_default().push(p);
        }
        let mut removed_by_name: BTreeMap<String, Vec<&String>> = BTreeMap::new();
        for p in &c.paths.removed {
            removed_by_name.entry(file(p)).or_default().push(p);
        }
        for (name, from) in &removed_by_name {
            if let (Some(to), [from]) = (added_by_name.get(name), from.as_slice())
                && let [to] = to.as_slice()
            {
                new_findings.push(found(FindingKind::Renamed {
                    from: (*from).clone(),
                    to: (*to).clone(),
                }));
            }
        }
        let before: BTreeSet<String> = c
            .paths
            .all()
            .map(|p| component(p).to_owned())
            .filter(|comp| mine.has_component(comp))
            .collect();
        for p in &c.paths.added {
            mine.add(p);
            if let Some(tool) = rules.tool_of(p) {
                new_findings.push(found(FindingKind::ToolAdded {
                    tool: tool.name.clone(),
                    path: p.clone(),
                }));
            }
        }
        for p in &c.paths.modified {
            mine.add(p);
            if let Some(tool) = rules
                .tool_of(p)
                .filter(|t| matches!(t.kind.as_str(), "iac" | "ci" | "container"))
            {
                new_findings.push(found(FindingKind::InfraChanged {
                    tool: tool.name.clone(),
                    path: p.clone(),
                }));
            }
        }
        for p in &c.paths.removed {
            mine.remove(p);
            if let Some(tool) = rules.tool_of(p) {
                new_findings.push(found(FindingKind::ToolRemoved {
                    tool: tool.name.clone(),
                    path: p.clone(),
                }));
            }
        }
        let touched: BTreeSet<&str> = c.paths.all().map(|p| component(p)).collect();
        for comp in touched {
            let now = mine.has_component(comp);
            if comp != ROOT && now && !before.contains(comp) {
                new_findings.push(found(FindingKind::ComponentAdded { name: comp.into() }));
            } else if comp != ROOT && !now && before.contains(comp) {
                new_findings.push(found(FindingKind::ComponentRemoved { name: comp.into() }));
            }
        }
        for f in &new_findings {
            if !matches!(f.what, FindingKind::InfraChanged { .. }) {
                mine.recent.push(Structural {
                    sha: c.sha.clone(),
                    url: c.url.clone(),
                    what: f.what.describe(),
                });
            }
        }
        keep_last(&mut mine.recent, RECENT);
        mine.head = Some((c.sha.clone(), c.url.clone()));
        findings.extend(new_findings);
    }
}

impl Agent for BuildingInspector {
    fn name(&self) -> &'static str {
        NAME
    }

    fn apply(&self, input: AgentInput<'_>, state: &mut Value) -> Result<AgentRun, WorkerError> {
        let mut mine: InspectorState = read_state(NAME, state)?;
        let mut seen: BTreeSet<String> = mine.seen.iter().cloned().collect();
        let mut run = AgentRun::default();
        let mut fresh = Vec::new();
        for item in &input.plan.items {
            match item {
                PlanItem::Commit(c) => {
                    if !seen.insert(c.sha.clone()) {
                        run.already_applied += 1;
                        continue;
                    }
                    self.apply_commit(&mut mine, c, &mut run.findings);
                    fresh.push(c.sha.clone());
                    run.applied += 1;
                }
                PlanItem::Snapshot(s) => {
                    let key = format!("snapshot:{}", s.sha);
                    if !seen.insert(key.clone()) {
                        run.already_applied += 1;
                        continue;
                    }
                    mine.paths.clear();
                    mine.untracked.clear();
                    for p in &s.paths {
                        mine.add(p);
                    }
                    mine.manifests.retain(|p, _| s.paths.contains(p));
                    mine.head = Some((s.sha.clone(), s.url.clone()));
                    fresh.push(key);
                    run.applied += 1;
                }
                _ => {}
            }
        }
        for (path, facts) in &input.plan.contents {
            if let FileFacts::Manifest(m) = facts
                && mine.paths.contains(path)
            {
                mine.manifests.insert(path.clone(), m.clone());
            }
        }
        remember(&mut mine.seen, fresh, SEEN);
        *state = write_state(NAME, &mine)?;
        Ok(run)
    }

    fn compact(&self, state: &mut Value) -> Result<Option<Vec<DocFile>>, WorkerError> {
        let mut mine: InspectorState = read_state(NAME, state)?;
        if !mine.compact_step() {
            return Ok(None);
        }
        *state = write_state(NAME, &mine)?;
        Ok(Some(Vec::new()))
    }

    fn render(&self, repo: &str, state: &Value) -> Result<Vec<DocFile>, WorkerError> {
        let mine: InspectorState = read_state(NAME, state)?;
        let view = View::of(&self.pack, &mine);
        let head = mine
            .head
            .as_ref()
            .map(|(sha, url)| serde_json::json!({"short": &sha[..7.min(sha.len())], "url": url}));
        let recent: Vec<Value> = mine
            .recent
            .iter()
            .rev()
            .map(|r| serde_json::json!({"what": r.what, "short": &r.sha[..7.min(r.sha.len())], "url": r.url}))
            .collect();
        let untracked: u64 = mine.untracked.values().sum();
        let architecture = self.pack.render(
            "architecture.md",
            minijinja::context! {
                repo, head, recent, untracked,
                files => mine.paths.len() as u64 + untracked,
                components => view.components,
            },
        )?;
        let tech_stack = self.pack.render(
            "tech_stack.md",
            minijinja::context! {
                repo,
                languages => view.languages,
                tools => view.tools,
                packages => view.packages,
            },
        )?;
        Ok(vec![
            DocFile {
                path: "system/architecture.md".into(),
                contents: architecture,
            },
            DocFile {
                path: "system/tech_stack.md".into(),
                contents: tech_stack,
            },
        ])
    }
}

#[derive(Debug, Default, Serialize)]
struct ComponentView {
    name: String,
    files: u64,
    languages: Vec<String>,
    packages: Vec<String>,
    entry_points: Vec<String>,
}

#[derive(Debug, Serialize)]
struct LanguageView {
    name: String,
    files: u64,
    share: String,
}

#[derive(Debug, Serialize)]
struct ToolView {
    name: String,
    kind: String,
    paths: Vec<String>,
}

#[derive(Debug, Serialize)]
struct PackageView {
    path: String,
    name: Option<String>,
    dependencies: Vec<String>,
}

/// The inventory seen through the pack's rules.
struct View {
    components: Vec<ComponentView>,
    languages: Vec<LanguageView>,
    tools: Vec<ToolView>,
    packages: Vec<PackageView>,
}

/// Most paths listed per tool.
const PATHS_PER_TOOL: usize = 8;

impl View {
    fn of(pack: &AgentPack, mine: &InspectorState) -> Self {
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

#[cfg(test)]
mod tests;
