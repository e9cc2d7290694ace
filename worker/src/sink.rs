//! Docs sinks: where rendered documentation files go.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use coderipple_core::blob::write_atomically;
use coderipple_core::{Error, Result};

/// One rendered file, relative to the repository's docs root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocFile {
    /// Relative path, e.g. `decisions/changelog.md`.
    pub path: String,
    /// Full contents.
    pub contents: String,
}

/// Writes a repository's docs.
#[async_trait]
pub trait DocsSink: Send + Sync + std::fmt::Debug {
    /// Writes (replaces) `files` under the docs root of `repo`.
    async fn write(&self, repo: &str, files: &[DocFile]) -> Result<()>;
}

/// Docs under `<root>/<owner>/<repo>/`, each file replaced atomically (temp file + rename),
/// untouched when its contents did not change.
#[derive(Debug, Clone)]
pub struct DirSink {
    root: PathBuf,
}

impl DirSink {
    /// A sink rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

#[async_trait]
impl DocsSink for DirSink {
    async fn write(&self, repo: &str, files: &[DocFile]) -> Result<()> {
        coderipple_core::webhook::validate_repo(repo)?;
        let base = self.root.join(repo);
        let files = files.to_vec();
        tokio::task::spawn_blocking(move || {
            for file in &files {
                write_one(&base, file)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| Error::Unavailable(format!("docs write task: {e}")))?
    }
}

/// Refuses a doc path that is absolute or leaves the repository's docs root.
fn checked(file: &DocFile) -> Result<&Path> {
    let rel = Path::new(&file.path);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(Error::Corrupt(format!(
            "doc path escapes its root: {}",
            file.path
        )));
    }
    Ok(rel)
}

fn write_one(base: &Path, file: &DocFile) -> Result<()> {
    let path = base.join(checked(file)?);
    if std::fs::read(&path).is_ok_and(|old| old == file.contents.as_bytes()) {
        return Ok(());
    }
    write_atomically(&path, file.contents.as_bytes())
}

/// Docs in S3 under `<prefix><owner>/<repo>/<path>` (AWS mode). Each `PutObject` replaces
/// the object whole, so readers never see half a file.
#[derive(Debug, Clone)]
pub struct S3Sink {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl S3Sink {
    /// Docs in `bucket` under `prefix` (e.g. `docs/`).
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    /// The object key of `path` in `repo`'s docs.
    pub fn key(&self, repo: &str, path: &str) -> String {
        format!("{}{repo}/{path}", self.prefix)
    }
}

#[async_trait]
impl DocsSink for S3Sink {
    async fn write(&self, repo: &str, files: &[DocFile]) -> Result<()> {
        coderipple_core::webhook::validate_repo(repo)?;
        for file in files {
            checked(file)?;
        }
        for file in files {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(self.key(repo, &file.path))
                .content_type("text/markdown; charset=utf-8")
                .body(file.contents.clone().into_bytes().into())
                .send()
                .await
                .map_err(|e| {
                    Error::Unavailable(format!(
                        "put docs {}: {}",
                        file.path,
                        aws_sdk_s3::error::DisplayErrorContext(e)
                    ))
                })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_under_the_repo_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let sink = DirSink::new(dir.path());
        let doc = |p: &str| DocFile {
            path: p.into(),
            contents: "x".into(),
        };
        sink.write("o/r", &[doc("decisions/changelog.md")])
            .await
            .unwrap();
        assert!(dir.path().join("o/r/decisions/changelog.md").exists());
        assert!(sink.write("o/r", &[doc("../../escape.md")]).await.is_err());
        assert!(sink.write("../x", &[doc("a.md")]).await.is_err());
        assert!(!dir.path().join("escape.md").exists());
    }
}
