//! Reading manifests: `Cargo.toml`, `package.json`, `pyproject.toml` and `go.mod`. Text a
//! collaborator wrote: nothing here fails on it, and [`ManifestFacts::bound`] caps what is kept.

use std::collections::BTreeMap;

use super::{MAX_DEPENDENCIES, MAX_VALUE, ManifestFacts};
use crate::text::clip_plain;

/// Most local dependencies, binaries and toolchain entries kept.
const MAX_LIST: usize = 30;

impl ManifestFacts {
    /// Sorts and caps what was read.
    pub(super) fn bound(&mut self) {
        self.dependencies
            .retain(|d| !d.is_empty() && d.len() <= MAX_VALUE / 3);
        self.dependencies.sort();
        self.dependencies.dedup();
        self.dependencies.truncate(MAX_DEPENDENCIES);
        let kept = &self.dependencies;
        self.versions.retain(|name, _| kept.contains(name));
        for v in self.versions.values_mut() {
            *v = clip_plain(v.trim(), MAX_VALUE / 5);
        }
        self.description = self
            .description
            .take()
            .map(|d| clip_plain(d.trim(), MAX_VALUE))
            .filter(|d| !d.is_empty());
        self.name = self
            .name
            .take()
            .map(|n| clip_plain(n.trim(), MAX_VALUE / 3));
        for list in [&mut self.local, &mut self.binaries, &mut self.members] {
            list.sort();
            list.dedup();
            list.retain(|s| !s.is_empty() && s.len() <= MAX_VALUE);
            list.truncate(MAX_LIST);
        }
        while self.toolchain.len() > MAX_LIST {
            self.toolchain.pop_last();
        }
        for v in self.toolchain.values_mut() {
            *v = clip_plain(v.trim(), MAX_VALUE / 5);
        }
    }
}

fn at<'a>(table: &'a toml::Table, path: &[&str]) -> Option<&'a toml::Value> {
    let (last, parents) = path.split_last()?;
    let mut t = table;
    for key in parents {
        t = t.get(*key)?.as_table()?;
    }
    t.get(*last)
}

fn text_at(table: &toml::Table, path: &[&str]) -> Option<String> {
    at(table, path)
        .and_then(toml::Value::as_str)
        .map(str::to_owned)
}

fn strings(v: Option<&toml::Value>) -> Vec<String> {
    v.and_then(toml::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn cargo(text: &str) -> ManifestFacts {
    let Ok(t) = text.parse::<toml::Table>() else {
        return ManifestFacts::default();
    };
    let mut facts = ManifestFacts {
        name: text_at(&t, &["package", "name"]),
        description: text_at(&t, &["package", "description"])
            .or_else(|| text_at(&t, &["workspace", "package", "description"])),
        members: strings(at(&t, &["workspace", "members"])),
        ..ManifestFacts::default()
    };
    for deps in [&["dependencies"][..], &["workspace", "dependencies"]] {
        let Some(table) = at(&t, deps).and_then(toml::Value::as_table) else {
            continue;
        };
        for (name, spec) in table {
            facts.dependencies.push(name.clone());
            let version = match spec {
                toml::Value::String(v) => Some(v.clone()),
                toml::Value::Table(s) => s
                    .get("version")
                    .and_then(toml::Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| s.contains_key("workspace").then(|| "workspace".into())),
                _ => None,
            };
            if let Some(v) = version {
                facts.versions.insert(name.clone(), v);
            }
            if spec.get("path").is_some() {
                facts.local.push(name.clone());
            }
        }
    }
    facts.binaries = at(&t, &["bin"])
        .and_then(toml::Value::as_array)
        .map(|bins| {
            bins.iter()
                .filter_map(|b| b.get("name")?.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for (key, path) in [
        ("rust-version", &["package", "rust-version"][..]),
        ("rust-version", &["workspace", "package", "rust-version"]),
        ("edition", &["package", "edition"]),
        ("edition", &["workspace", "package", "edition"]),
    ] {
        if let Some(v) = text_at(&t, path) {
            facts.toolchain.entry(key.into()).or_insert(v);
        }
    }
    facts
}

pub(super) fn package_json(text: &str) -> ManifestFacts {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return ManifestFacts::default();
    };
    let text_of = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let workspaces = match &v["workspaces"] {
        serde_json::Value::Array(a) => a.clone(),
        w => w["packages"].as_array().cloned().unwrap_or_default(),
    };
    let mut facts = ManifestFacts {
        name: text_of(&v["name"]),
        description: text_of(&v["description"]),
        members: workspaces.iter().filter_map(text_of).collect(),
        ..ManifestFacts::default()
    };
    if let Some(deps) = v["dependencies"].as_object() {
        for (name, version) in deps {
            facts.dependencies.push(name.clone());
            if let Some(version) = version.as_str() {
                facts.versions.insert(name.clone(), version.to_owned());
                if ["workspace:", "file:", "link:"]
                    .iter()
                    .any(|p| version.starts_with(p))
                {
                    facts.local.push(name.clone());
                }
            }
        }
    }
    facts.binaries = match &v["bin"] {
        serde_json::Value::String(_) => facts.name.iter().cloned().collect(),
        serde_json::Value::Object(bins) => bins.keys().cloned().collect(),
        _ => Vec::new(),
    };
    if let Some(node) = text_of(&v["engines"]["node"]) {
        facts.toolchain.insert("node".into(), node);
    }
    facts
}

/// `name>=1.2` → (`name`, `>=1.2`).
fn requirement(spec: &str) -> (String, String) {
    let end = spec
        .find(|c: char| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    (
        spec[..end].to_owned(),
        spec[end..].trim().trim_start_matches(';').trim().to_owned(),
    )
}

pub(super) fn pyproject(text: &str) -> ManifestFacts {
    let Ok(t) = text.parse::<toml::Table>() else {
        return ManifestFacts::default();
    };
    let mut facts = ManifestFacts {
        name: text_at(&t, &["project", "name"])
            .or_else(|| text_at(&t, &["tool", "poetry", "name"])),
        description: text_at(&t, &["project", "description"])
            .or_else(|| text_at(&t, &["tool", "poetry", "description"])),
        ..ManifestFacts::default()
    };
    for spec in strings(at(&t, &["project", "dependencies"])) {
        let (name, version) = requirement(&spec);
        if !version.is_empty() {
            facts.versions.insert(name.clone(), version);
        }
        facts.dependencies.push(name);
    }
    if let Some(poetry) = at(&t, &["tool", "poetry", "dependencies"]).and_then(|v| v.as_table()) {
        for (name, spec) in poetry {
            if name == "python" {
                if let Some(v) = spec.as_str() {
                    facts.toolchain.insert("python".into(), v.to_owned());
                }
                continue;
            }
            facts.dependencies.push(name.clone());
            if let Some(v) = spec.as_str() {
                facts.versions.insert(name.clone(), v.to_owned());
            }
            if spec.get("path").is_some() {
                facts.local.push(name.clone());
            }
        }
    }
    if let Some(v) = text_at(&t, &["project", "requires-python"]) {
        facts.toolchain.insert("python".into(), v);
    }
    facts.binaries = at(&t, &["project", "scripts"])
        .and_then(toml::Value::as_table)
        .map(|s| s.keys().cloned().collect())
        .unwrap_or_default();
    facts
}

pub(super) fn go_mod(text: &str) -> ManifestFacts {
    let mut facts = ManifestFacts::default();
    let mut block = "";
    let mut replaced: BTreeMap<String, String> = BTreeMap::new();
    for line in text
        .lines()
        .map(|l| l.split("//").next().unwrap_or("").trim())
    {
        if let Some(m) = line.strip_prefix("module ") {
            facts.name = Some(m.trim().trim_matches('"').to_owned());
        } else if let Some(v) = line.strip_prefix("go ") {
            facts.toolchain.insert("go".into(), v.trim().to_owned());
        } else if let Some(kind) = line.strip_suffix('(').map(str::trim) {
            block = match kind {
                "require" => "require",
                "replace" => "replace",
                _ => "other",
            };
        } else if line == ")" {
            block = "";
        } else {
            let (kind, rest) = match line.split_once(' ') {
                Some(("require", rest)) => ("require", rest),
                Some(("replace", rest)) => ("replace", rest),
                _ => (block, line),
            };
            let mut words = rest.split_whitespace();
            match kind {
                "require" => {
                    if let (Some(name), Some(version)) = (words.next(), words.next()) {
                        facts.dependencies.push(name.to_owned());
                        facts.versions.insert(name.to_owned(), version.to_owned());
                    }
                }
                "replace" => {
                    let parts: Vec<&str> = rest.split("=>").map(str::trim).collect();
                    if let [from, to] = parts.as_slice()
                        && (to.starts_with("./") || to.starts_with("../"))
                        && let Some(name) = from.split_whitespace().next()
                    {
                        replaced.insert(name.to_owned(), (*to).to_owned());
                    }
                }
                _ => {}
            }
        }
    }
    facts.local = replaced.into_keys().collect();
    facts
}
