//! Claim-check storage: envelope bodies too large for a queue message are stored here and
//! the message carries a reference (`change_ref`). Local backend: files in the data dir,
//! written to a temporary name, synced, then renamed, so a reference never names half a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::error::{Error, Result};

/// Whether `name` may name a claim-checked blob (a file in the payloads dir, an S3 key under
/// `claim-check/`): non-empty, only `[A-Za-z0-9._:-]`, not starting with `.` (no hidden file,
/// no `..`). Every blob store checks its references with this, and ingest checks delivery ids
/// with it (they become blob keys), so a delivery it would refuse is refused at once.
pub fn is_valid_key(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Stores and fetches claim-checked bodies.
#[async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Stores `bytes` under `key` durably; returns the reference to put in the message.
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<String>;
    /// Fetches a stored body by reference.
    async fn get(&self, reference: &str) -> Result<Vec<u8>>;
}

/// [`BlobStore`] in a directory.
#[derive(Debug, Clone)]
pub struct DirBlobStore {
    root: PathBuf,
}

impl DirBlobStore {
    /// Blobs under `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path_of(&self, reference: &str) -> Result<PathBuf> {
        let name = reference
            .strip_prefix("file:")
            .ok_or_else(|| Error::Corrupt(format!("not a local blob reference: {reference}")))?;
        if !is_valid_key(name) {
            return Err(Error::Corrupt(format!("bad blob reference: {reference}")));
        }
        Ok(self.root.join(name))
    }
}

#[async_trait]
impl BlobStore for DirBlobStore {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<String> {
        let reference = format!("file:{key}.json");
        let path = self.path_of(&reference)?;
        // Webhook payloads: readable by this user only.
        tokio::task::spawn_blocking(move || write_private(&path, &bytes))
            .await
            .map_err(|e| Error::Unavailable(format!("blob write task: {e}")))??;
        Ok(reference)
    }

    async fn get(&self, reference: &str) -> Result<Vec<u8>> {
        let path = self.path_of(reference)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::Corrupt(format!(
                "claim-check {reference} does not exist"
            ))),
            Err(e) => Err(Error::Unavailable(format!("cannot read {reference}: {e}"))),
        }
    }
}

/// Replaces `path` with `bytes` so that a reader sees the old file or the new one, never
/// half of one, and the new one survives a crash once this returns: a hidden temporary file
/// in the same directory, synced, renamed over `path`, then the directory synced. For
/// private data: a missing directory is created 0700 and the file 0600 (the claim-checked
/// payloads).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with_modes(path, bytes, 0o700, 0o600)
}

/// One file, with the modes new directories and the file get (less the umask).
fn write_with_modes(path: &Path, bytes: &[u8], dir_mode: u32, file_mode: u32) -> Result<()> {
    let dir = replace_file(path, bytes, dir_mode, file_mode)?;
    sync_dir(&dir)
}

/// [`write_private`]'s atomic replacement for several public files at once (a change set's
/// docs; modes 0777/0666 less the umask): each file is
/// written to a temporary name, synced and renamed, then each directory touched is synced
/// once, instead of once per file.
pub fn write_all_atomically<'a>(
    files: impl IntoIterator<Item = (PathBuf, &'a [u8])>,
) -> Result<()> {
    let mut dirs = std::collections::BTreeSet::new();
    for (path, bytes) in files {
        dirs.insert(replace_file(&path, bytes, 0o777, 0o666)?);
    }
    dirs.iter().try_for_each(|d| sync_dir(d))
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it over `path`;
/// returns the directory, whose entry is not synced yet.
fn replace_file(path: &Path, bytes: &[u8], dir_mode: u32, file_mode: u32) -> Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let io = |e: std::io::Error| Error::Unavailable(format!("write {}: {e}", path.display()));
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(dir_mode)
        .create(dir)
        .map_err(io)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp-{}", uuid::Uuid::new_v4().simple()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(file_mode)
        .open(&tmp)
        .map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(dir.to_path_buf())
}

/// Makes the renames inside `dir` durable.
fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::Unavailable(format!("sync {}: {e}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stores_and_refuses_paths_outside_its_root() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = DirBlobStore::new(dir.path());
        let r = blobs.put("d-1", b"hello".to_vec()).await.unwrap();
        assert_eq!(blobs.get(&r).await.unwrap(), b"hello");
        assert!(matches!(
            blobs.get("file:../etc/passwd").await,
            Err(Error::Corrupt(_))
        ));
        assert!(matches!(
            blobs.get("file:missing.json").await,
            Err(Error::Corrupt(_))
        ));
    }

    #[tokio::test]
    async fn payloads_are_private_to_their_user() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("payloads");
        let r = DirBlobStore::new(&root)
            .put("d-1", b"{}".to_vec())
            .await
            .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join(r.strip_prefix("file:").unwrap())), 0o600);
    }
}
