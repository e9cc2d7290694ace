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

use super::budget::halve;
use super::journal::{keep_last, remember};
use super::orchestrator::join;
use super::{
    Agent, AgentInput, AgentRun, Finding, FindingKind, Plan, PlanItem, read_state, write_state,
};
use crate::classify::PATH_BYTES;
use crate::doc::DocFile;
use crate::error::EngineError;
use crate::facts::ManifestFacts;
use crate::languages::AttributeRule;
use crate::pack::AgentPack;

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
/// Longest description kept from a component's README (characters).
const README_CHARS: usize = 300;
/// Component READMEs kept however tight the budget.
const READMES_FLOOR: usize = 10;
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
    /// Sizes in bytes of the named paths, where the content source gave them.
    #[serde(default)]
    pub sizes: BTreeMap<String, u64>,
    /// The `.gitattributes` lines that speak to linguist.
    #[serde(default)]
    pub attributes: Vec<AttributeRule>,
    /// What each component's README says it is for, by directory.
    #[serde(default)]
    pub readmes: BTreeMap<String, String>,
    /// Recent dependency and toolchain changes, oldest first.
    #[serde(default)]
    pub dependency_changes: Vec<Structural>,
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
        if halve(&mut self.seen, SEEN_FLOOR)
            || halve(&mut self.recent, 3)
            || halve(&mut self.dependency_changes, 3)
        {
            return true;
        }
        if self.paths.len() > PATHS_FLOOR {
            let keep = self.paths.len() / 2;
            let moved: Vec<String> = self.paths.iter().skip(keep).cloned().collect();
            for path in moved {
                self.paths.remove(&path);
                self.sizes.remove(&path);
                *self
                    .untracked
                    .entry(component(&path).to_owned())
                    .or_default() += 1;
            }
            return true;
        }
        if self.readmes.len() > READMES_FLOOR {
            let keep = self.readmes.len() / 2;
            let cut = self.readmes.keys().nth(keep).cloned();
            if let Some(cut) = cut {
                self.readmes.split_off(&cut);
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
        self.sizes.remove(path);
        if crate::facts::is_gitattributes(path) {
            self.attributes.clear();
        }
        if let Some((dir, _)) = path.rsplit_once('/')
            && crate::facts::is_component_readme(path)
        {
            self.readmes.remove(dir);
        }
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

    /// Paths were touched (or a tree snapshot came): the inventory and the stack follow.
    fn wants(&self, plan: &Plan) -> Option<String> {
        let (mut added, mut removed, mut paths, mut commits) = (0, 0, 0, 0);
        for c in plan.commits() {
            added += c.paths.added.len();
            removed += c.paths.removed.len();
            let n = c.paths.all().count();
            paths += n;
            commits += usize::from(n > 0);
        }
        let snapshot = plan.snapshot();
        if paths == 0 && snapshot.is_none() {
            return None;
        }
        let mut reason = match snapshot {
            Some(s) => format!(
                "tree snapshot of {} path(s) at {}",
                s.paths.len(),
                &s.sha[..7.min(s.sha.len())]
            ),
            None => format!(
                "{commits} commit(s) touched {paths} path(s) ({added} added, {removed} removed)"
            ),
        };
        let tools = plan.tools(&self.pack.rules);
        if !tools.is_empty() {
            reason.push_str(&format!("; manifests/tools: {}", join(tools.into_iter())));
        }
        Some(reason)
    }

    fn apply(&self, input: AgentInput<'_>, state: &mut Value) -> Result<AgentRun, EngineError> {
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
                    let InspectorState {
                        paths,
                        sizes,
                        readmes,
                        attributes,
                        ..
                    } = &mut mine;
                    sizes.retain(|p, _| paths.contains(p));
                    readmes.retain(|dir, _| {
                        let prefix = format!("{dir}/");
                        paths.iter().any(|p| p.starts_with(&prefix))
                    });
                    if !paths.contains(".gitattributes") {
                        attributes.clear();
                    }
                    mine.head = Some((s.sha.clone(), s.url.clone()));
                    fresh.push(key);
                    run.applied += 1;
                }
                _ => {}
            }
        }
        changes::apply_contents(&mut mine, input.plan, &mut run.findings);
        for c in input.plan.commits().filter(|c| c.breaking) {
            if let Some(packages) = changes::library_break(&self.pack.rules, &mine, c) {
                run.findings.push(Finding {
                    sha: c.sha.clone(),
                    what: FindingKind::LibraryBreak { packages },
                });
            }
        }
        remember(&mut mine.seen, fresh, SEEN);
        *state = write_state(NAME, &mine)?;
        Ok(run)
    }

    fn compact(&self, state: &mut Value) -> Result<Option<Vec<DocFile>>, EngineError> {
        let mut mine: InspectorState = read_state(NAME, state)?;
        if !mine.compact_step() {
            return Ok(None);
        }
        *state = write_state(NAME, &mine)?;
        Ok(Some(Vec::new()))
    }

    fn render(&self, repo: &str, state: &Value) -> Result<Vec<DocFile>, EngineError> {
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
        let changes: Vec<Value> = mine
            .dependency_changes
            .iter()
            .rev()
            .map(|r| serde_json::json!({"what": r.what, "short": &r.sha[..7.min(r.sha.len())], "url": r.url}))
            .collect();
        let architecture = self.pack.render(
            "architecture.md",
            minijinja::context! {
                repo, head, recent, untracked,
                files => mine.paths.len() as u64 + untracked,
                components => view.components,
                packages => &view.packages,
                graph => view.graph,
            },
        )?;
        let tech_stack = self.pack.render(
            "tech_stack.md",
            minijinja::context! {
                repo,
                languages => view.languages,
                basis => view.language_basis,
                tools => view.tools,
                packages => &view.packages,
                changes,
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

mod changes;

pub(crate) use changes::raised;
mod view;

use view::View;

#[cfg(test)]
mod tests;
