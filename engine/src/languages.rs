//! Languages as GitHub's language bar counts them.
//!
//! A path's language comes from linguist's own data (the `linguist` crate carries
//! linguist's `languages.yml` and `vendor.yml`): by file name, then by extension; when an
//! extension belongs to several languages (`.h`: C, C++, Objective-C) the pack's
//! `[languages] prefer` table picks, else the first by name. As linguist does, only
//! programming and markup languages count; vendored paths (linguist's list: `.github/`,
//! `node_modules/`, test fixtures, …), generated paths and documentation (the pack's
//! globs: linguist decides these by content or from a list the crate does not carry) are
//! left out. A repository's `.gitattributes` overrides all of it with `linguist-vendored`,
//! `linguist-generated`, `linguist-documentation`, `linguist-detectable` and
//! `linguist-language`, the last matching line winning, as in git.

use std::collections::HashMap;
use std::sync::LazyLock;

use globset::{GlobBuilder, GlobMatcher, GlobSet};
use linguist_types::LanguageType;
use regex::RegexSet;
use serde::{Deserialize, Serialize};

/// Most `.gitattributes` lines kept (a collaborator controls the file).
pub const MAX_ATTRIBUTE_RULES: usize = 100;
/// Longest pattern or language name kept from `.gitattributes`.
pub(crate) const MAX_ATTRIBUTE_CHARS: usize = 100;

/// One `.gitattributes` line that says something to linguist.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeRule {
    /// The path pattern, as written.
    pub pattern: String,
    /// `linguist-vendored` set (`true`) or unset (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendored: Option<bool>,
    /// `linguist-generated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<bool>,
    /// `linguist-documentation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documentation: Option<bool>,
    /// `linguist-detectable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detectable: Option<bool>,
    /// `linguist-language=NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// The `linguist-*` lines of a `.gitattributes` file, at most [`MAX_ATTRIBUTE_RULES`].
/// Other attributes, comments and macro definitions are ignored.
pub fn parse_gitattributes(text: &str) -> Vec<AttributeRule> {
    let mut rules = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with("[attr]") {
            continue;
        }
        let mut words = line.split_whitespace();
        let Some(pattern) = words.next().filter(|p| p.len() <= MAX_ATTRIBUTE_CHARS) else {
            continue;
        };
        let mut rule = AttributeRule {
            pattern: pattern.to_owned(),
            ..AttributeRule::default()
        };
        for attr in words {
            // `attr` sets, `-attr` unsets, `!attr` leaves it unspecified (the default decides).
            let (set, name) = match (attr.strip_prefix('-'), attr.strip_prefix('!')) {
                (Some(name), _) => (Some(false), name),
                (_, Some(name)) => (None, name),
                _ => (Some(true), attr),
            };
            let (name, value) = name
                .split_once('=')
                .map_or((name, None), |(n, v)| (n, Some(v)));
            let flag = match value {
                None => set,
                Some("true") => Some(true),
                Some("false") => Some(false),
                Some(_) => None,
            };
            match name {
                "linguist-vendored" => rule.vendored = flag,
                "linguist-generated" => rule.generated = flag,
                "linguist-documentation" => rule.documentation = flag,
                "linguist-detectable" => rule.detectable = flag,
                "linguist-language" => {
                    rule.language = value
                        .filter(|v| v.len() <= MAX_ATTRIBUTE_CHARS)
                        .map(str::to_owned)
                }
                _ => {}
            }
        }
        let says_something = rule.vendored.is_some()
            || rule.generated.is_some()
            || rule.documentation.is_some()
            || rule.detectable.is_some()
            || rule.language.is_some();
        if says_something {
            rules.push(rule);
            if rules.len() == MAX_ATTRIBUTE_RULES {
                break;
            }
        }
    }
    rules
}

/// The pack's language rules (`[languages]` of `rules.toml`), compiled.
#[derive(Debug)]
pub struct LanguageRules {
    /// Extension (lower case, no dot) → the language to pick when linguist names several.
    pub(crate) prefer: HashMap<String, String>,
    /// Paths that are documentation.
    pub(crate) documentation: GlobSet,
    /// Paths that are generated.
    pub(crate) generated: GlobSet,
}

/// Linguist's vendored-path patterns: those the `regex` crate compiles in one set, and
/// whether some needed linguist's own (slower) matcher.
static VENDORED: LazyLock<(RegexSet, bool)> = LazyLock::new(|| {
    let patterns: Vec<&String> = linguist::definitions::VENDOR.iter().collect();
    let plain: Vec<&String> = patterns
        .iter()
        .copied()
        .filter(|p| regex::Regex::new(p).is_ok())
        .collect();
    let set = RegexSet::new(plain.iter().map(|p| p.as_str())).unwrap_or_else(|_| RegexSet::empty());
    (set, plain.len() < patterns.len())
});

/// Whether linguist's `vendor.yml` calls `path` vendored.
pub fn linguist_vendored(path: &str) -> bool {
    let (set, partial) = &*VENDORED;
    set.is_match(path) || (*partial && linguist::is_vendored(path).unwrap_or(false))
}

/// A language as the bar shows it: its group when linguist groups it (`TSX` is TypeScript).
struct Known {
    name: &'static str,
    counted: bool,
}

fn known(name: &'static str) -> Option<Known> {
    let def = linguist::definitions::LANGUAGES.get(name)?;
    let counted = matches!(
        def.language_type,
        LanguageType::Programming | LanguageType::Markup
    );
    let shown = def
        .group
        .as_deref()
        .and_then(|g| linguist::definitions::LANGUAGES.get_key_value(g))
        .map_or(name, |(k, _)| k.as_str());
    Some(Known {
        name: shown,
        counted,
    })
}

/// A language name as linguist spells it, for a name or alias written any case.
fn by_name(written: &str) -> Option<&'static str> {
    let lower = written.to_ascii_lowercase().replace('-', " ");
    linguist::definitions::LANGUAGES
        .iter()
        .find_map(|(name, def)| {
            let alias = def
                .aliases
                .iter()
                .flatten()
                .any(|a| a.replace('-', " ") == lower);
            (name.to_ascii_lowercase() == lower || alias).then_some(name.as_str())
        })
}

impl LanguageRules {
    /// `path`'s language (linguist's name, grouped), and whether the bar counts its kind.
    fn detect(&self, path: &str) -> Option<Known> {
        let by_file = linguist::detect_language_by_filename(path).unwrap_or_default();
        let candidates = if by_file.is_empty() {
            // Extensions match in any case, as linguist matches them.
            linguist::detect_language_by_extension(path.to_ascii_lowercase()).unwrap_or_default()
        } else {
            by_file
        };
        let name = match candidates.as_slice() {
            [] => return None,
            [one] => one.name,
            many => {
                let ext = path
                    .rsplit('/')
                    .next()
                    .and_then(|f| f.rsplit_once('.'))
                    .map(|(_, e)| e.to_ascii_lowercase())
                    .unwrap_or_default();
                let preferred = self.prefer.get(&ext);
                many.iter()
                    .find(|c| preferred.is_some_and(|p| p == c.name))
                    .or_else(|| many.iter().min_by_key(|c| c.name))
                    .map(|c| c.name)?
            }
        };
        known(name)
    }

    /// `path`'s language for the project's own code (the components' languages), whether
    /// or not the bar counts it; vendored, generated and documentation paths have none.
    pub fn language_of(&self, path: &str) -> Option<&'static str> {
        if linguist_vendored(path)
            || self.documentation.is_match(path)
            || self.generated.is_match(path)
        {
            return None;
        }
        self.detect(path).filter(|k| k.counted).map(|k| k.name)
    }
}

/// The language rules of one repository: the pack's, overridden by its `.gitattributes`.
#[derive(Debug)]
pub struct RepoLanguages<'a> {
    rules: &'a LanguageRules,
    attributes: Vec<(GlobMatcher, &'a AttributeRule)>,
}

impl<'a> RepoLanguages<'a> {
    /// `rules` with `attributes` on top; a pattern that is no glob is ignored.
    pub fn new(rules: &'a LanguageRules, attributes: &'a [AttributeRule]) -> Self {
        let attributes = attributes
            .iter()
            .filter_map(|a| Some((matcher(&a.pattern)?, a)))
            .collect();
        Self { rules, attributes }
    }

    /// The language GitHub's bar would count `path` under, or `None` when it counts none.
    pub fn counted(&self, path: &str) -> Option<&'static str> {
        let mut over = AttributeRule::default();
        for (m, a) in &self.attributes {
            if m.is_match(path) {
                over.vendored = a.vendored.or(over.vendored);
                over.generated = a.generated.or(over.generated);
                over.documentation = a.documentation.or(over.documentation);
                over.detectable = a.detectable.or(over.detectable);
                over.language = a.language.clone().or(over.language);
            }
        }
        let rules = self.rules;
        let vendored = over.vendored.unwrap_or_else(|| linguist_vendored(path));
        let generated = over
            .generated
            .unwrap_or_else(|| rules.generated.is_match(path));
        let documentation = over
            .documentation
            .unwrap_or_else(|| rules.documentation.is_match(path));
        if vendored || generated || documentation {
            return None;
        }
        let lang = match over.language.as_deref().and_then(by_name) {
            Some(name) => known(name),
            None => rules.detect(path),
        }?;
        over.detectable.unwrap_or(lang.counted).then_some(lang.name)
    }
}

/// A `.gitattributes` pattern as a glob: without a slash it matches a name at any depth,
/// with one it is anchored at the root, as git reads it.
fn matcher(pattern: &str) -> Option<GlobMatcher> {
    let anchored = pattern.trim_start_matches('/');
    let glob = if pattern.trim_end_matches('/').contains('/') {
        anchored.to_owned()
    } else {
        format!("**/{anchored}")
    };
    GlobBuilder::new(&glob)
        .literal_separator(true)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

#[cfg(test)]
mod tests;
