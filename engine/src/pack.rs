//! The agent pack: the rules (TOML) and templates (minijinja) the agents work with.
//!
//! Built in from `engine/pack/`; a directory named by `CODERIPPLE_AGENT_PACK` (on AWS, the
//! agent pack layer at `/opt/agent-pack`) overrides it file by file, read by the worker and
//! handed in through [`AgentPack::with_files`]. The pack's version is
//! its name, its declared version and a hash of every file, and is part of every cache key,
//! so a changed rule never reads an analysis made under the old one.

use std::collections::{BTreeMap, HashMap};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use include_dir::{Dir, DirEntry, include_dir};
use minijinja::{Environment, State, Value};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::EngineError;
use crate::languages::LanguageRules;
use crate::markdown;

mod releases;

pub use releases::{ReleaseRules, TagRole};

/// The built-in pack: every file under `engine/pack/`, embedded at build time.
static BUILTIN_DIR: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/pack");

/// The built-in pack's files, (path relative to the pack, contents), sorted by path: the
/// files a pack directory may override.
fn builtin_files() -> Vec<(&'static str, &'static str)> {
    fn collect(dir: &'static Dir<'static>, out: &mut Vec<(&'static str, &'static str)>) {
        for entry in dir.entries() {
            match entry {
                DirEntry::Dir(d) => collect(d, out),
                DirEntry::File(f) => out.push((
                    f.path().to_str().expect("built-in pack paths are UTF-8"),
                    f.contents_utf8().expect("built-in pack files are UTF-8"),
                )),
            }
        }
    }
    let mut files = Vec::new();
    collect(&BUILTIN_DIR, &mut files);
    files.sort_unstable();
    files
}

/// Templates and compiled rules, loaded once per worker.
#[derive(Debug)]
pub struct AgentPack {
    version: String,
    source: String,
    env: Environment<'static>,
    markers: Markers,
    /// The compiled rules.
    pub rules: Rules,
}

#[derive(Debug, Deserialize)]
struct PackFile {
    name: String,
    version: String,
    /// Whether each page names CodeRipple's agent that keeps it (`Kept by CodeRipple's
    /// Historian`); `false` keeps the sentence without the name.
    #[serde(default = "attributed")]
    attribution: bool,
}

fn attributed() -> bool {
    true
}

impl AgentPack {
    /// The built-in pack.
    pub fn builtin() -> Self {
        Self::from_files(
            "built-in",
            builtin_files().into_iter().map(|(p, s)| (p, s.to_owned())),
        )
        .expect("the built-in agent pack is valid")
    }

    /// The built-in pack's files, each replaced by what `read(path)` gives (`None`: the
    /// built-in file stays); `source` names the pack in errors. The caller does the reading
    /// (the worker reads a directory named by `CODERIPPLE_AGENT_PACK`), so the engine never
    /// touches the disk.
    pub fn with_files(
        source: &str,
        mut read: impl FnMut(&'static str) -> Result<Option<String>, EngineError>,
    ) -> Result<Self, EngineError> {
        let mut files = Vec::new();
        for (rel, builtin) in builtin_files() {
            files.push((rel, read(rel)?.unwrap_or_else(|| builtin.to_owned())));
        }
        Self::from_files(source, files)
    }

    fn from_files(
        source: &str,
        files: impl IntoIterator<Item = (&'static str, String)>,
    ) -> Result<Self, EngineError> {
        let bad = |rel: &str, e: &dyn std::fmt::Display| {
            EngineError::invalid(format!("agent pack {source}: {rel}: {e}"))
        };
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        add_filters(&mut env);
        let markers = Markers::random();
        add_marker_functions(&mut env, &markers);
        let mut hash = Sha256::new();
        let mut meta = None;
        let mut rules = None;
        for (rel, text) in files {
            hash.update(rel.as_bytes());
            hash.update([0]);
            hash.update(text.as_bytes());
            hash.update([0]);
            match rel {
                "pack.toml" => {
                    meta = Some(toml::from_str::<PackFile>(&text).map_err(|e| bad(rel, &e))?)
                }
                "rules.toml" => {
                    let file: RulesFile = toml::from_str(&text).map_err(|e| bad(rel, &e))?;
                    rules = Some(Rules::compile(file).map_err(|e| bad(rel, &e))?);
                }
                _ => {
                    let name = rel
                        .trim_start_matches("templates/")
                        .trim_end_matches(".j2")
                        .to_owned();
                    env.add_template_owned(name, text)
                        .map_err(|e| bad(rel, &e))?;
                }
            }
        }
        let meta = meta.ok_or_else(|| bad("pack.toml", &"missing"))?;
        let attribution = meta.attribution;
        env.add_function("kept_by", move |agent: String| -> String {
            if attribution {
                format!("Kept by CodeRipple's {agent}")
            } else {
                "Kept from the repository's history".to_owned()
            }
        });
        let digest = hex::encode(hash.finalize());
        Ok(Self {
            version: format!("{}-{}+{}", meta.name, meta.version, &digest[..12]),
            source: source.to_owned(),
            env,
            markers,
            rules: rules.ok_or_else(|| bad("rules.toml", &"missing"))?,
        })
    }

    /// `name-version+hash`: changes whenever any file of the pack changes.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Where the pack came from (`built-in` or a directory).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The prose markers this pack's templates write (see [`Markers`]).
    pub fn markers(&self) -> &Markers {
        &self.markers
    }

    /// Whether the pack has template `name` (e.g. `prompts/release_summary.md`).
    pub fn has_template(&self, name: &str) -> bool {
        self.env.get_template(name).is_ok()
    }

    /// Renders template `name` (e.g. `changelog.md`) with `ctx`.
    pub fn render(&self, name: &str, ctx: impl Serialize) -> Result<String, EngineError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| EngineError::invalid(format!("template {name} ({}): {e}", self.source)))
    }
}

/// The markers around the prose sections of the docs (the LLM writer's, see
/// the worker's LLM writer), written by the template functions `prose_open(kind)` (or
/// `prose_open(kind, from_text=true)`) and `prose_close()`. They carry a random nonce made
/// when the pack is loaded, so no text from a payload can forge one: a commit message shown
/// verbatim in a code span holds at most a marker without the nonce, which is only text. They
/// never reach a written doc: the writer replaces or removes every section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Markers {
    /// `<!-- coderipple:prose:NONCE ` (the kind and ` -->` follow).
    pub open: String,
    /// `<!-- /coderipple:prose:NONCE -->`.
    pub close: String,
}

impl Markers {
    /// Markers with `nonce`.
    pub fn with_nonce(nonce: &str) -> Self {
        Self {
            open: format!("<!-- coderipple:prose:{nonce} "),
            close: format!("<!-- /coderipple:prose:{nonce} -->"),
        }
    }

    fn random() -> Self {
        Self::with_nonce(&uuid::Uuid::new_v4().simple().to_string())
    }
}

/// `prose_open(kind, from_text=false)` and `prose_close()`.
fn add_marker_functions(env: &mut Environment<'static>, markers: &Markers) {
    let open = markers.open.clone();
    env.add_function(
        "prose_open",
        move |kind: String, kwargs: minijinja::value::Kwargs| -> Result<Value, minijinja::Error> {
            let from_text: Option<bool> = kwargs.get("from_text")?;
            kwargs.assert_all_used()?;
            if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                return Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!("prose_open: the kind must be lowercase letters and _, got {kind:?}"),
                ));
            }
            let from = if from_text.unwrap_or(false) {
                " from=text"
            } else {
                ""
            };
            Ok(Value::from_safe_string(format!("{open}{kind}{from} -->")))
        },
    );
    let close = markers.close.clone();
    env.add_function("prose_close", move || {
        Value::from_safe_string(close.clone())
    });
}

/// The escaping filters every template (built-in or custom) can use on text from payloads
/// (see [`crate::markdown`]); each gives a safe string, which they all pass on unchanged:
///
/// - `md_inline` / `md_inline(max)`: a line of text ([`markdown::inline`]);
/// - `md_block`: paragraphs, list items and code blocks ([`markdown::block`]);
/// - `md_repo`: the repository's own Markdown (README sections), sanitized
///   ([`markdown::repository_text`]);
/// - `md_code`: a path or name as code ([`markdown::code`]);
/// - `text|md_link(url)`: `text` linked to `url` when it is a page of the template's `repo`
///   on [`markdown::LINK_HOST`], else `text` alone ([`markdown::link`]).
fn add_filters(env: &mut Environment<'static>) {
    env.add_filter("md_inline", |value: Value, max: Option<usize>| {
        escaped(value, |text| {
            markdown::inline_capped(text, max.unwrap_or(markdown::INLINE_MAX_CHARS))
        })
    });
    env.add_filter("md_block", |value: Value| escaped(value, markdown::block));
    env.add_filter("md_repo", |value: Value| {
        escaped(value, markdown::repository_text)
    });
    env.add_filter("md_code", |value: Value| escaped(value, markdown::code));
    env.add_filter(
        "md_link",
        |state: &State, text: Value, url: Option<Value>| {
            let text = escaped(text, markdown::inline);
            let url = url.as_ref().and_then(plain_text).unwrap_or_default();
            let repo = state
                .lookup("repo")
                .and_then(|r| r.as_str().map(str::to_owned))
                .filter(|r| !r.is_empty());
            Value::from_safe_string(markdown::link(
                text.as_str().unwrap_or(""),
                &url,
                repo.as_deref(),
            ))
        },
    );
}

/// A value's text: none for `none` and undefined, a string's contents, anything else shown.
fn plain_text(value: &Value) -> Option<String> {
    if value.is_undefined() || value.is_none() {
        None
    } else if let Some(s) = value.as_str() {
        Some(s.to_owned())
    } else {
        Some(value.to_string())
    }
}

/// `value` escaped with `escape` as a safe string; a safe string (already escaped) as it is.
fn escaped(value: Value, escape: impl Fn(&str) -> String) -> Value {
    if value.is_safe() {
        return value;
    }
    Value::from_safe_string(plain_text(&value).map_or_else(String::new, |t| escape(&t)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    categories: BTreeMap<String, Vec<String>>,
    heuristics: BTreeMap<String, Vec<String>>,
    signals: Signals,
    tourist: TouristFile,
    changelog: Vec<ChangelogSection>,
    languages: LanguagesFile,
    tools: Vec<ToolRule>,
    entry_points: EntryPointsFile,
    #[serde(default)]
    releases: releases::ReleasesFile,
}

/// Phrases that mark a message breaking or stating a decision.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signals {
    /// Phrases (lower case) that make a free-form message breaking.
    pub breaking: Vec<String>,
    /// Phrases (lower case) that make a commit state a decision.
    pub decision: Vec<String>,
    /// Pull request labels that mark a breaking change.
    pub breaking_labels: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TouristFile {
    user_visible_types: Vec<String>,
    user_visible_categories: Vec<String>,
    getting_started: Vec<String>,
    whats_new_entries: usize,
    upgrading_entries: usize,
}

/// A changelog section: commits of `type` under `title`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChangelogSection {
    /// Commit type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Heading.
    pub title: String,
}

/// A manifest or tool recognized by path.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolRule {
    /// Display name.
    pub name: String,
    /// `manifest`, `build`, `ci`, `container`, `iac` or `config`.
    pub kind: String,
    /// Globs.
    pub patterns: Vec<String>,
}

/// `[languages]`: what linguist's data leaves to the pack.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguagesFile {
    /// Extension → the language picked when linguist names several.
    prefer: BTreeMap<String, String>,
    /// Documentation paths (left out of the language counts).
    documentation: Vec<String>,
    /// Generated paths (left out of the language counts).
    generated: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryPointsFile {
    patterns: Vec<String>,
}

/// The Tourist Guide's rules.
#[derive(Debug)]
pub struct TouristRules {
    /// Commit types that are user-visible.
    pub user_visible_types: Vec<String>,
    /// Path categories that make a free-form commit user-visible.
    pub user_visible_categories: Vec<String>,
    /// Paths that keep getting started in step.
    pub getting_started: GlobSet,
    /// What's-new entries kept.
    pub whats_new_entries: usize,
    /// Upgrade notes kept.
    pub upgrading_entries: usize,
}

/// The rules, compiled.
#[derive(Debug)]
pub struct Rules {
    categories: Vec<(String, GlobSet)>,
    heuristics: HashMap<String, String>,
    /// Breaking and decision phrases.
    pub signals: Signals,
    /// The Tourist Guide's rules.
    pub tourist: TouristRules,
    /// Changelog sections, in order.
    pub changelog: Vec<ChangelogSection>,
    /// Which language a path is in, and which paths the language counts leave out.
    pub languages: LanguageRules,
    /// Tools, in declaration order.
    pub tools: Vec<ToolRule>,
    tool_globs: GlobSet,
    tool_of_glob: Vec<usize>,
    entry_points: GlobSet,
    /// Which tags cut a release.
    pub releases: ReleaseRules,
}

fn globs(patterns: &[String]) -> Result<GlobSet, globset::Error> {
    let mut set = GlobSetBuilder::new();
    for p in patterns {
        set.add(GlobBuilder::new(p).literal_separator(true).build()?);
    }
    set.build()
}

impl Rules {
    fn compile(mut file: RulesFile) -> Result<Self, String> {
        let releases = ReleaseRules::compile(std::mem::take(&mut file.releases))?;
        Self::compile_globs(file, releases).map_err(|e| e.to_string())
    }

    fn compile_globs(file: RulesFile, releases: ReleaseRules) -> Result<Self, globset::Error> {
        let categories = file
            .categories
            .iter()
            .map(|(name, pats)| Ok((name.clone(), globs(pats)?)))
            .collect::<Result<_, globset::Error>>()?;
        let heuristics = file
            .heuristics
            .iter()
            .flat_map(|(kind, words)| {
                words
                    .iter()
                    .map(move |w| (w.to_ascii_lowercase(), kind.clone()))
            })
            .collect();
        let mut tool_globs = GlobSetBuilder::new();
        let mut tool_of_glob = Vec::new();
        for (i, tool) in file.tools.iter().enumerate() {
            for p in &tool.patterns {
                tool_globs.add(GlobBuilder::new(p).literal_separator(true).build()?);
                tool_of_glob.push(i);
            }
        }
        let lower = |v: Vec<String>| v.into_iter().map(|s| s.to_lowercase()).collect();
        Ok(Self {
            categories,
            heuristics,
            signals: Signals {
                breaking: lower(file.signals.breaking),
                decision: lower(file.signals.decision),
                breaking_labels: lower(file.signals.breaking_labels),
            },
            tourist: TouristRules {
                getting_started: globs(&file.tourist.getting_started)?,
                user_visible_types: file.tourist.user_visible_types,
                user_visible_categories: file.tourist.user_visible_categories,
                whats_new_entries: file.tourist.whats_new_entries.max(1),
                upgrading_entries: file.tourist.upgrading_entries.max(1),
            },
            changelog: file.changelog,
            languages: LanguageRules {
                prefer: file
                    .languages
                    .prefer
                    .into_iter()
                    .map(|(ext, lang)| (ext.to_ascii_lowercase(), lang))
                    .collect(),
                documentation: globs(&file.languages.documentation)?,
                generated: globs(&file.languages.generated)?,
            },
            tools: file.tools,
            tool_globs: tool_globs.build()?,
            tool_of_glob,
            entry_points: globs(&file.entry_points.patterns)?,
            releases,
        })
    }

    /// The categories `path` falls into, in name order.
    pub fn categories_of<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let candidate = globset::Candidate::new(path);
        self.categories
            .iter()
            .filter(move |(_, set)| set.is_match_candidate(&candidate))
            .map(|(name, _)| name.as_str())
    }

    /// The type a free-form message's first word suggests.
    pub fn heuristic_kind(&self, first_word: &str) -> Option<&str> {
        self.heuristics
            .get(&first_word.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The tool `path` belongs to (the first declared that matches).
    pub fn tool_of(&self, path: &str) -> Option<&ToolRule> {
        self.tool_index(path).map(|i| &self.tools[i])
    }

    /// The index in [`Rules::tools`] of the tool `path` belongs to.
    pub fn tool_index(&self, path: &str) -> Option<usize> {
        self.tool_globs
            .matches(path)
            .into_iter()
            .map(|g| self.tool_of_glob[g])
            .min()
    }

    /// Whether `path` is an entry point.
    pub fn is_entry_point(&self, path: &str) -> bool {
        self.entry_points.is_match(path)
    }

    /// Whether `text` (any case) contains one of `phrases` (lower case).
    pub fn mentions(text: &str, phrases: &[String]) -> bool {
        let text = text.to_lowercase();
        phrases.iter().any(|p| text.contains(p.as_str()))
    }
}

#[cfg(test)]
pub(crate) mod tests;
