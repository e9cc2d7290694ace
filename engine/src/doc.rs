//! [`DocFile`]: one rendered documentation file, what the agents return and what sinks and
//! publishers write. Its path is relative to the repository's docs root; [`DocFile::checked_path`]
//! refuses one that would leave it.

use std::path::{Component, Path};

use crate::error::EngineError;

/// One rendered file, relative to the repository's docs root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocFile {
    /// Relative path, e.g. `decisions/changelog.md`.
    pub path: String,
    /// Full contents.
    pub contents: String,
}

impl DocFile {
    /// The path, refused (`corrupt`) when it is absolute or leaves the docs root (`..`,
    /// `.`, a prefix): only plain names below the root.
    pub fn checked_path(&self) -> Result<&Path, EngineError> {
        let rel = Path::new(&self.path);
        if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(EngineError {
                class: "corrupt",
                reason: format!("doc path escapes its root: {}", self.path),
            });
        }
        Ok(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(path: &str) -> DocFile {
        DocFile {
            path: path.into(),
            contents: String::new(),
        }
    }

    #[test]
    fn plain_relative_paths_pass_and_escapes_are_refused() {
        assert_eq!(
            doc("decisions/changelog.md").checked_path().unwrap(),
            Path::new("decisions/changelog.md")
        );
        for bad in ["/etc/passwd", "../x.md", "a/../../x.md", "./x.md"] {
            let err = doc(bad).checked_path().unwrap_err();
            assert_eq!(err.class, "corrupt", "{bad}");
            assert!(err.reason.contains(bad), "{bad}: {err}");
        }
    }
}
