//! What the agents keep of a file: a README's title, description, install and usage
//! sections; a manifest's package name, members and dependencies.

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::languages::{AttributeRule, parse_gitattributes};
use crate::overrides::{self, OVERRIDES_FILE, Override};
use crate::pack::AgentPack;
use crate::project_rules::{self, ProjectRules};

/// Most dependencies kept per manifest.
pub const MAX_DEPENDENCIES: usize = 60;
/// Longest version requirement, description or name kept from a manifest.
const MAX_VALUE: usize = 300;
/// Longest section kept from a README (characters).
const MAX_SECTION: usize = 1_500;

/// The facts of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FileFacts {
    /// A README.
    Readme(ReadmeFacts),
    /// A manifest.
    Manifest(ManifestFacts),
    /// A `.gitattributes` file's `linguist-*` lines.
    Attributes(Vec<AttributeRule>),
    /// A repository's own changelog rules (`cliff.toml`, `release-please-config.json`,
    /// `.github/release.yml`), or why they cannot be followed.
    ReleaseRules(Box<RulesFacts>),
    /// The repository's overrides of changelog entries, or why they cannot be followed.
    Overrides(Box<OverridesFacts>),
}

/// What `.coderipple/overrides.toml` says: (commit id prefix, override) pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverridesFacts {
    /// The overrides, in the file's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<(String, Override)>,
    /// Why the file cannot be followed (its previous overrides stay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a release-rules file says, or why it cannot be followed (the pack's rules apply).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesFacts {
    /// The rules read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<ProjectRules>,
    /// Why the file cannot be followed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Whether `path` is a file of release rules read on its own. git-cliff also reads its
/// settings from `Cargo.toml` and `pyproject.toml` metadata; those files are read as
/// manifests here, so that form is not followed.
pub fn is_rules_file(path: &str) -> bool {
    project_rules::is_rules_file(path)
        && !path.ends_with("Cargo.toml")
        && !path.ends_with("pyproject.toml")
}

/// What getting started shows of a README.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadmeFacts {
    /// The first `# ` heading.
    pub title: Option<String>,
    /// The first paragraph of prose.
    pub description: Option<String>,
    /// The section whose heading mentions installing.
    pub install: Option<String>,
    /// The section whose heading mentions usage or getting started.
    pub usage: Option<String>,
}

/// What the tech stack shows of a manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFacts {
    /// The tool (pack rule name).
    pub tool: String,
    /// The package or module name.
    pub name: Option<String>,
    /// Workspace members.
    pub members: Vec<String>,
    /// Dependency names, sorted, at most [`MAX_DEPENDENCIES`].
    pub dependencies: Vec<String>,
    /// What the manifest says the package is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Dependencies on packages of the same repository (a path, a workspace member or a
    /// `workspace:` version), by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub local: Vec<String>,
    /// Version requirement of each dependency, by name (for what changed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub versions: BTreeMap<String, String>,
    /// Executables the manifest declares (Cargo `[[bin]]`, npm `bin`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binaries: Vec<String>,
    /// Toolchain requirements (`rust-version`, `edition`, `requires-python`, `go`,
    /// `engines.node`), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub toolchain: BTreeMap<String, String>,
}

/// Whether `path` is the repository's README (root only).
pub fn is_readme(path: &str) -> bool {
    !path.contains('/') && is_readme_name(path)
}

/// `README`, `README.md`, `readme.rst`, …: one README a folder (not `README.zh-CN.md`).
fn is_readme_name(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    name == "readme"
        || name
            .strip_prefix("readme.")
            .is_some_and(|ext| ["md", "markdown", "rst", "adoc", "org"].contains(&ext))
}

/// Whether `path` is a component's README (one or two directories down), which says what
/// the component is for.
pub fn is_component_readme(path: &str) -> bool {
    (1..=2).contains(&path.matches('/').count()) && is_readme_name(path)
}

/// Whether `path` is the repository's `.gitattributes` (root only).
pub fn is_gitattributes(path: &str) -> bool {
    path == ".gitattributes"
}

/// Whether the content source should read `path` for the agents.
pub fn worth_reading(pack: &AgentPack, path: &str) -> bool {
    is_readme(path)
        || is_component_readme(path)
        || is_gitattributes(path)
        || is_rules_file(path)
        || path == OVERRIDES_FILE
        || manifest_tool(pack, path).is_some()
}

/// The manifest tool of `path`, if it is one.
pub fn manifest_tool<'a>(pack: &'a AgentPack, path: &str) -> Option<&'a str> {
    pack.rules
        .tool_of(path)
        .filter(|t| t.kind == "manifest")
        .map(|t| t.name.as_str())
}

/// The part of a cache key that says how the file is read.
pub fn kind_key(pack: &AgentPack, path: &str) -> String {
    if is_readme(path) || is_component_readme(path) {
        "readme".into()
    } else if is_gitattributes(path) {
        "gitattributes".into()
    } else if is_rules_file(path) {
        format!("release-rules:{path}")
    } else if path == OVERRIDES_FILE {
        "overrides".into()
    } else {
        let file = path.rsplit('/').next().unwrap_or(path);
        format!("{}:{file}", manifest_tool(pack, path).unwrap_or("file"))
    }
}

/// Analyses `text`, the contents of `path`.
pub fn analyse(pack: &AgentPack, path: &str, text: &str) -> Option<FileFacts> {
    if is_readme(path) || is_component_readme(path) {
        return Some(FileFacts::Readme(readme(text)));
    }
    if is_gitattributes(path) {
        return Some(FileFacts::Attributes(parse_gitattributes(text)));
    }
    if path == OVERRIDES_FILE {
        let facts = match overrides::parse_file(text) {
            Ok(entries) => OverridesFacts {
                entries,
                error: None,
            },
            Err(e) => OverridesFacts {
                entries: Vec::new(),
                error: Some(crate::text::clip_plain(&e, 500)),
            },
        };
        return Some(FileFacts::Overrides(Box::new(facts)));
    }
    if is_rules_file(path) {
        let facts = match project_rules::parse(path, text) {
            Ok(rules) => RulesFacts { rules, error: None },
            Err(e) => RulesFacts {
                rules: None,
                error: Some(crate::text::clip_plain(&e, 500)),
            },
        };
        return Some(FileFacts::ReleaseRules(Box::new(facts)));
    }
    let tool = manifest_tool(pack, path)?;
    let file = path.rsplit('/').next().unwrap_or(path);
    let mut facts = match file {
        "Cargo.toml" => cargo(text),
        "package.json" => package_json(text),
        "pyproject.toml" => pyproject(text),
        "go.mod" => go_mod(text),
        _ => ManifestFacts::default(),
    };
    facts.tool = tool.to_owned();
    facts.bound();
    Some(FileFacts::Manifest(facts))
}

fn readme(text: &str) -> ReadmeFacts {
    let mut facts = ReadmeFacts::default();
    // (level, heading, body lines)
    let mut sections: Vec<(usize, String, Vec<&str>)> = vec![(0, String::new(), Vec::new())];
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") || line.trim_start().starts_with("~~~") {
            fenced = !fenced;
        }
        let level = line.bytes().take_while(|b| *b == b'#').count();
        if !fenced && (1..=6).contains(&level) && line[level..].starts_with(' ') {
            let heading = line[level..].trim().to_owned();
            if level == 1 && facts.title.is_none() {
                facts.title = Some(heading.clone());
            }
            sections.push((level, heading, Vec::new()));
        } else if let Some(last) = sections.last_mut() {
            last.2.push(line);
        }
    }
    facts.description = sections
        .iter()
        .take(2)
        .flat_map(|(_, _, lines)| paragraphs(lines))
        .find(|p| !p.starts_with('[') && !p.starts_with('!') && !p.starts_with('<'))
        .map(|p| crate::text::clip_markdown(&p, MAX_SECTION / 2));
    let section = |words: &[&str]| {
        sections
            .iter()
            .enumerate()
            .find_map(|(i, (level, heading, _))| {
                let h = heading.to_lowercase();
                if !words.iter().any(|w| h.contains(w)) {
                    return None;
                }
                // The section and its subsections.
                let mut body: Vec<&str> = Vec::new();
                for (j, (l, sub, lines)) in sections.iter().enumerate().skip(i) {
                    if j > i {
                        if l <= level {
                            break;
                        }
                        body.push("");
                        body.push(sub);
                    }
                    body.extend(lines.iter().copied());
                }
                let text = body.join("\n").trim().to_owned();
                (!text.is_empty()).then(|| crate::text::clip_markdown(&text, MAX_SECTION))
            })
    };
    facts.install = section(&["install", "setup", "set up"]);
    facts.usage = section(&[
        "usage",
        "getting started",
        "quick start",
        "quickstart",
        "how to use",
    ]);
    facts
}

fn paragraphs(lines: &[&str]) -> Vec<String> {
    lines
        .split(|l| l.trim().is_empty())
        .map(|p| p.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect()
}

mod manifest;

use manifest::{cargo, go_mod, package_json, pyproject};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_title_description_and_sections() {
        let text = "# Widget\n\n[![ci](x)](y)\n\nWidget turns gears.\nFast.\n\n## Install\n\n```sh\n# not a heading\ncargo install widget\n```\n\n### From source\n\nmake\n\n## Usage\n\nwidget run\n\n## License\n\nMIT\n";
        let f = readme(text);
        assert_eq!(f.title.as_deref(), Some("Widget"));
        assert_eq!(f.description.as_deref(), Some("Widget turns gears. Fast."));
        let install = f.install.unwrap();
        assert!(install.contains("cargo install widget") && install.contains("From source"));
        assert!(!install.contains("widget run"));
        assert_eq!(f.usage.as_deref(), Some("widget run"));
    }

    #[test]
    fn manifests_give_names_members_and_dependencies() {
        let pack = AgentPack::builtin();
        let Some(FileFacts::Manifest(c)) = analyse(
            &pack,
            "Cargo.toml",
            "[workspace]\nmembers = [\"a\", \"b\"]\n[workspace.dependencies]\nserde = \"1\"\n",
        ) else {
            panic!("a manifest")
        };
        assert_eq!((c.tool.as_str(), c.members.len()), ("Cargo", 2));
        assert_eq!(c.dependencies, ["serde"]);
        let Some(FileFacts::Manifest(p)) = analyse(
            &pack,
            "web/package.json",
            r#"{"name":"web","dependencies":{"react":"18","axios":"1"}}"#,
        ) else {
            panic!("a manifest")
        };
        assert_eq!(p.name.as_deref(), Some("web"));
        assert_eq!(p.dependencies, ["axios", "react"]);
        let Some(FileFacts::Manifest(g)) = analyse(
            &pack,
            "go.mod",
            "module example.com/x\n\nrequire (\n\tgithub.com/a/b v1.0.0\n)\nrequire c.io/d v2\n",
        ) else {
            panic!("a manifest")
        };
        assert_eq!(g.name.as_deref(), Some("example.com/x"));
        assert_eq!(g.dependencies, ["c.io/d", "github.com/a/b"]);
        let Some(FileFacts::Manifest(py)) = analyse(
            &pack,
            "pyproject.toml",
            "[project]\nname = \"tool\"\ndependencies = [\"requests>=2\", \"click\"]\n",
        ) else {
            panic!("a manifest")
        };
        assert_eq!(py.dependencies, ["click", "requests"]);
        // Garbage is a manifest with nothing known, not an error.
        assert!(matches!(
            analyse(&pack, "Cargo.toml", "not [toml"),
            Some(FileFacts::Manifest(ManifestFacts { name: None, .. }))
        ));
        assert!(analyse(&pack, "src/lib.rs", "fn x() {}").is_none());
    }
}
