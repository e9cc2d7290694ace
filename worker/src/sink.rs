//! Docs sinks: where rendered documentation files go.
//!
//! The directory sink never writes or reads through a symlink below its root: a link at a
//! repository's folder, a docs folder or a doc is refused (the root itself may be one).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use coderipple_core::blob::write_all_atomically;
use coderipple_core::{Error, Result};
use coderipple_engine::DocFile;

/// Writes a repository's docs.
#[async_trait]
pub trait DocsSink: Send + Sync + std::fmt::Debug {
    /// Writes (replaces) `files` under the docs root of `repo`.
    async fn write(&self, repo: &str, files: &[DocFile]) -> Result<()>;

    /// Every doc of `repo` (what publishing commits), sorted by path.
    async fn read_all(&self, repo: &str) -> Result<Vec<DocFile>>;
}

/// Docs under `<root>/<owner>/<repo>/`, each file replaced atomically (temp file + rename),
/// untouched when its contents did not change; each directory is synced once per write. A
/// symlink anywhere below the root on a doc's path is refused, never followed.
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
        let (root, repo) = (self.root.clone(), repo.to_owned());
        let files = files.to_vec();
        tokio::task::spawn_blocking(move || {
            let mut changed = Vec::with_capacity(files.len());
            for file in &files {
                let rel = checked(file)?;
                no_links(&root, &Path::new(&repo).join(rel))?;
                let path = base.join(rel);
                if std::fs::read(&path).is_ok_and(|old| old == file.contents.as_bytes()) {
                    continue;
                }
                changed.push((path, file.contents.as_bytes()));
            }
            write_all_atomically(changed)
        })
        .await
        .map_err(|e| Error::Unavailable(format!("docs write task: {e}")))?
    }

    async fn read_all(&self, repo: &str) -> Result<Vec<DocFile>> {
        coderipple_core::webhook::validate_repo(repo)?;
        let base = self.root.join(repo);
        let (root, repo) = (self.root.clone(), repo.to_owned());
        tokio::task::spawn_blocking(move || {
            no_links(&root, Path::new(&repo))?;
            let mut out = Vec::new();
            if base.exists() {
                read_tree(&base, &base, &mut out)?;
            }
            out.sort_by(|a, b| a.path.cmp(&b.path));
            Ok(out)
        })
        .await
        .map_err(|e| Error::Unavailable(format!("docs read task: {e}")))?
    }
}

/// Refuses `rel` (below `root`) when one of its components exists as a symlink; `root`
/// itself is trusted.
fn no_links(root: &Path, rel: &Path) -> Result<()> {
    let mut at = root.to_path_buf();
    for component in rel.components() {
        at.push(component);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(linked(&at)),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::Unavailable(format!("stat {}: {e}", at.display()))),
        }
    }
    Ok(())
}

fn linked(path: &Path) -> Error {
    Error::Corrupt(format!(
        "{} is a symlink: docs are never written or read through one",
        path.display()
    ))
}

/// Every file under `dir` but dotfiles (a write's temp file), relative to `base`; a symlink
/// is refused.
fn read_tree(base: &Path, dir: &Path, out: &mut Vec<DocFile>) -> Result<()> {
    let io = |p: &Path, e: std::io::Error| Error::Unavailable(format!("read {}: {e}", p.display()));
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let entry = entry.map_err(|e| io(dir, e))?;
        let path = entry.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        let kind = entry.file_type().map_err(|e| io(&path, e))?;
        if kind.is_symlink() {
            return Err(linked(&path));
        }
        if kind.is_dir() {
            read_tree(base, &path, out)?;
            continue;
        }
        let rel = path.strip_prefix(base).unwrap_or(&path);
        let rel: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let contents = std::fs::read_to_string(&path).map_err(|e| {
            Error::Corrupt(format!("doc {} is not UTF-8 text: {e}", path.display()))
        })?;
        out.push(DocFile {
            path: rel.join("/"),
            contents,
        });
    }
    Ok(())
}

/// A doc's path, refused (`corrupt`) when it is absolute or leaves the docs root.
fn checked(file: &DocFile) -> Result<&Path> {
    file.checked_path().map_err(|e| Error::Corrupt(e.reason))
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

    async fn read_all(&self, repo: &str) -> Result<Vec<DocFile>> {
        coderipple_core::webhook::validate_repo(repo)?;
        let root = self.key(repo, "");
        let unavailable = |what: &str, e: String| Error::Unavailable(format!("{what}: {e}"));
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&root)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                unavailable(
                    "list docs",
                    aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
                )
            })?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let object = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| {
                    unavailable(
                        "get docs",
                        aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
                    )
                })?;
            let bytes = object
                .body
                .collect()
                .await
                .map_err(|e| unavailable("read docs", e.to_string()))?
                .into_bytes();
            let contents = String::from_utf8(bytes.to_vec())
                .map_err(|e| Error::Corrupt(format!("doc {key} is not UTF-8 text: {e}")))?;
            out.push(DocFile {
                path: key[root.len()..].to_owned(),
                contents,
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
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

    #[tokio::test]
    async fn reads_back_every_doc_but_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let sink = DirSink::new(dir.path());
        let doc = |p: &str, c: &str| DocFile {
            path: p.into(),
            contents: c.into(),
        };
        sink.write("o/r", &[doc("user/a.md", "a"), doc("decisions/b.md", "b")])
            .await
            .unwrap();
        std::fs::write(dir.path().join("o/r/user/.a.md.tmp-1"), "half").unwrap();
        assert_eq!(
            sink.read_all("o/r").await.unwrap(),
            [doc("decisions/b.md", "b"), doc("user/a.md", "a")]
        );
        assert!(sink.read_all("o/none").await.unwrap().is_empty());
        assert!(sink.read_all("../x").await.is_err());
    }

    #[tokio::test]
    async fn never_writes_or_reads_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret");
        std::fs::write(&secret, "precious\n").unwrap();
        let sink = DirSink::new(dir.path());
        let doc = |p: &str| DocFile {
            path: p.into(),
            contents: "overwritten".into(),
        };
        sink.write("o/r", &[doc("user/a.md")]).await.unwrap();
        let link = |target: &Path, at: &str| {
            let at = dir.path().join(at);
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target, at).unwrap();
        };
        // A doc, a docs folder, a repository's folder: each a link out of the root.
        link(&secret, "o/r/decisions/changelog.md");
        link(outside.path(), "o/r/system");
        link(outside.path(), "o/linked");
        for (repo, path) in [
            ("o/r", "decisions/changelog.md"),
            ("o/r", "system/new.md"),
            ("o/linked", "user/a.md"),
        ] {
            let err = sink.write(repo, &[doc(path)]).await.unwrap_err();
            assert!(err.to_string().contains("symlink"), "{err}");
        }
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "precious\n");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
        // Nor is a link read back (and published).
        for repo in ["o/r", "o/linked"] {
            let err = sink.read_all(repo).await.unwrap_err();
            assert!(err.to_string().contains("symlink"), "{err}");
        }
    }
}
