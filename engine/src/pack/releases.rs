//! Which tags cut a release in the changelog, with git-cliff's meaning of `tag_pattern`,
//! `ignore_tags` and `skip_tags`. By default a SemVer pre-release tag (`v1.2.0-rc.1`) and a
//! GitHub release marked `prerelease` fold into the next final release, as projects cut
//! their changelogs.

use regex::Regex;
use serde::{Deserialize, Serialize};

/// SemVer pre-release tags: `1.2.3-rc.1`, `v2.0.0-beta`, … (with or without the `v`).
const SEMVER_PRE_RELEASE: &str = r"^v?[0-9]+\.[0-9]+\.[0-9]+-[0-9A-Za-z.-]+$";

/// What a tag is to the changelog.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TagRole {
    /// Cuts a release: the changes since the last cut are listed under it.
    #[default]
    Cut,
    /// Cuts nothing: its changes go on into the next cut, which lists it as a pre-release.
    Folded,
    /// Cuts a release that is left out of the changelog, with its changes.
    Skipped,
}

/// `[releases]` of `rules.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReleasesFile {
    /// Only tags matching this cut a release; others fold (unset: every tag).
    #[serde(default)]
    tag_pattern: Option<String>,
    /// Tags matching this fold into the next cut ("" for none).
    #[serde(default = "default_ignore")]
    ignore_tags: String,
    /// Tags matching this are left out, with their changes ("" for none).
    #[serde(default)]
    skip_tags: String,
    /// GitHub releases marked `prerelease` fold too.
    #[serde(default = "yes")]
    fold_github_prereleases: bool,
}

impl Default for ReleasesFile {
    fn default() -> Self {
        Self {
            tag_pattern: None,
            ignore_tags: default_ignore(),
            skip_tags: String::new(),
            fold_github_prereleases: true,
        }
    }
}

fn default_ignore() -> String {
    SEMVER_PRE_RELEASE.to_owned()
}

fn yes() -> bool {
    true
}

/// The compiled `[releases]` rules.
#[derive(Debug, Clone)]
pub struct ReleaseRules {
    tag_pattern: Option<Regex>,
    ignore: Option<Regex>,
    skip: Option<Regex>,
    fold_github_prereleases: bool,
}

impl ReleaseRules {
    pub(super) fn compile(file: ReleasesFile) -> Result<Self, String> {
        let compile = |name: &str, pattern: &str| {
            if pattern.is_empty() {
                return Ok(None);
            }
            Regex::new(pattern)
                .map(Some)
                .map_err(|e| format!("[releases] {name}: {e}"))
        };
        Ok(Self {
            tag_pattern: match &file.tag_pattern {
                Some(p) => compile("tag_pattern", p)?,
                None => None,
            },
            ignore: compile("ignore_tags", &file.ignore_tags)?,
            skip: compile("skip_tags", &file.skip_tags)?,
            fold_github_prereleases: file.fold_github_prereleases,
        })
    }

    /// What `tag` is; `github_prerelease` when a GitHub release marks it so.
    pub fn role(&self, tag: &str, github_prerelease: bool) -> TagRole {
        // A tag outside `tag_pattern` is no release at all, whatever else matches it.
        if self.tag_pattern.as_ref().is_some_and(|r| !r.is_match(tag)) {
            return TagRole::Folded;
        }
        if self.skip.as_ref().is_some_and(|r| r.is_match(tag)) {
            return TagRole::Skipped;
        }
        let ignored = self.ignore.as_ref().is_some_and(|r| r.is_match(tag));
        if ignored || (github_prerelease && self.fold_github_prereleases) {
            return TagRole::Folded;
        }
        TagRole::Cut
    }
}

impl Default for ReleaseRules {
    fn default() -> Self {
        Self::compile(ReleasesFile::default()).expect("the default pattern compiles")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(toml_text: &str) -> ReleaseRules {
        ReleaseRules::compile(toml::from_str(toml_text).unwrap()).unwrap()
    }

    #[test]
    fn pre_releases_fold_by_default_and_the_settings_mean_what_git_cliff_means() {
        let d = ReleaseRules::default();
        assert_eq!(d.role("v1.2.0", false), TagRole::Cut);
        assert_eq!(d.role("1.2.0", false), TagRole::Cut);
        for pre in ["v1.2.0-rc.1", "v2.0.0-beta", "1.0.0-alpha.3"] {
            assert_eq!(d.role(pre, false), TagRole::Folded, "{pre}");
        }
        assert_eq!(
            d.role("v1.3.0", true),
            TagRole::Folded,
            "marked a pre-release"
        );
        assert_eq!(
            d.role("nightly", false),
            TagRole::Cut,
            "any tag cuts by default"
        );

        let r = rules(
            "tag_pattern = '^v[0-9]'\nignore_tags = ''\nskip_tags = '^v0\\.'\n\
             fold_github_prereleases = false",
        );
        assert_eq!(r.role("v1.2.0-rc.1", false), TagRole::Cut);
        assert_eq!(r.role("nightly", false), TagRole::Folded);
        assert_eq!(r.role("v0.9.0", false), TagRole::Skipped);
        assert_eq!(r.role("v1.3.0", true), TagRole::Cut);
        let outside = rules("tag_pattern = '^v'\nskip_tags = 'nightly'");
        assert_eq!(
            outside.role("nightly", false),
            TagRole::Folded,
            "not a release at all"
        );
    }

    #[test]
    fn a_bad_pattern_is_refused_with_its_setting() {
        let file: ReleasesFile = toml::from_str("skip_tags = '('").unwrap();
        let err = ReleaseRules::compile(file).unwrap_err();
        assert!(err.contains("skip_tags"), "{err}");
    }
}
