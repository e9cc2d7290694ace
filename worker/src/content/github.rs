//! The [`ContentSource`] over GitHub's API: a file at a commit through the contents API
//! (`GET /repos/{owner}/{repo}/contents/{path}?ref={sha}`, which also says its blob sha), a
//! blob through the Git Data API (`GET /repos/{owner}/{repo}/git/blobs/{sha}`), the sizes of
//! a commit's files through its tree (`GET /repos/{owner}/{repo}/git/trees/{sha}`). Analyses are
//! cached by blob sha by the caller, exactly as for a checkout, so an unchanged README costs
//! one contents call and no analysis.
//!
//! The App not being installed, or lacking permission, makes the contents unavailable (the
//! docs are built without them and the summary counts them missing); it never fails the
//! event. Rate limits and GitHub's `5xx` are transient (the event is retried).

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine;
use lru::LruCache;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use crate::content::{ContentSource, MAX_FILE_BYTES};
use coderipple_core::WorkerError;
use coderipple_github::GitHubApi;

/// Every byte but the unreserved ones is escaped in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Contents the contents API already returned, by blob sha, so reading them costs no call.
const KEPT: usize = 64;

/// File contents from GitHub's API, for every repository the credentials reach.
#[derive(Debug)]
pub struct GitHubContent {
    api: Arc<GitHubApi>,
    kept: Mutex<LruCache<String, Option<Vec<u8>>>>,
}

impl GitHubContent {
    /// A content source over `api`.
    pub fn new(api: Arc<GitHubApi>) -> Self {
        Self {
            api,
            kept: Mutex::new(LruCache::new(NonZeroUsize::new(KEPT).expect("non-zero"))),
        }
    }

    fn keep(&self, sha: &str, bytes: Option<Vec<u8>>) {
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .put(sha.to_owned(), bytes);
    }

    /// `Ok(None)` for an answer that means "not available to us" (permanent refusals), and
    /// for a read the invocation's deadline leaves no time for: the docs are built without
    /// that file (counted as missing) rather than the change set cut off.
    async fn get(&self, repo: &str, path: &str) -> Result<Option<Value>, WorkerError> {
        match self.api.get(repo, path).await {
            Err(e) if !e.is_retryable() || coderipple_github::is_out_of_time(&e) => {
                tracing::warn!(error = %e, "file contents unavailable from GitHub");
                Ok(None)
            }
            other => other,
        }
    }
}

#[async_trait]
impl ContentSource for GitHubContent {
    fn covers(&self, repo: &str) -> bool {
        coderipple_core::webhook::validate_repo(repo).is_ok()
    }

    fn note_installation(&self, repo: &str, installation: u64) {
        self.api.note_installation(repo, installation);
    }

    async fn blob_id(
        &self,
        repo: &str,
        commit: &str,
        path: &str,
    ) -> Result<Option<String>, WorkerError> {
        // Dot segments would be resolved away in the URL and reach another endpoint.
        let plain = path.split('/').all(|seg| !matches!(seg, "" | "." | ".."));
        if !is_sha(commit) || !plain || !self.covers(repo) {
            return Ok(None);
        }
        let encoded: Vec<String> = path
            .split('/')
            .map(|seg| utf8_percent_encode(seg, SEGMENT).to_string())
            .collect();
        let url = format!("/repos/{repo}/contents/{}?ref={commit}", encoded.join("/"));
        let Some(file) = self.get(repo, &url).await? else {
            return Ok(None);
        };
        // A directory answers with an array; a symlink or submodule with another type.
        if file["type"] != "file" {
            return Ok(None);
        }
        let Some(sha) = file["sha"].as_str().filter(|s| is_sha(s)) else {
            return Ok(None);
        };
        let size = file["size"].as_u64().unwrap_or(u64::MAX);
        let bytes = if size > MAX_FILE_BYTES as u64 {
            None
        } else {
            decode(&file)
        };
        self.keep(sha, bytes);
        Ok(Some(sha.to_owned()))
    }

    /// One call: the commit's tree, recursive (`GET …/git/trees/{sha}?recursive=1`), whose
    /// blobs carry their sizes. A tree GitHub truncates (over 100,000 entries) gives the
    /// sizes it lists.
    async fn sizes(
        &self,
        repo: &str,
        commit: &str,
        paths: &[String],
    ) -> Result<BTreeMap<String, u64>, WorkerError> {
        let mut sizes = BTreeMap::new();
        if !is_sha(commit) || !self.covers(repo) || paths.is_empty() {
            return Ok(sizes);
        }
        let url = format!("/repos/{repo}/git/trees/{commit}?recursive=1");
        let Some(tree) = self.get(repo, &url).await? else {
            return Ok(sizes);
        };
        let wanted: std::collections::HashSet<&str> = paths.iter().map(String::as_str).collect();
        for item in tree["tree"].as_array().into_iter().flatten() {
            if item["type"] == "blob"
                && let (Some(path), Some(size)) = (item["path"].as_str(), item["size"].as_u64())
                && wanted.contains(path)
            {
                sizes.insert(path.to_owned(), size);
            }
        }
        Ok(sizes)
    }

    async fn read_blob(&self, repo: &str, blob: &str) -> Result<Option<Vec<u8>>, WorkerError> {
        if !is_sha(blob) || !self.covers(repo) {
            return Ok(None);
        }
        let kept = self
            .kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(blob)
            .cloned();
        if let Some(bytes) = kept {
            return Ok(bytes);
        }
        let Some(found) = self
            .get(repo, &format!("/repos/{repo}/git/blobs/{blob}"))
            .await?
        else {
            return Ok(None);
        };
        if found["size"].as_u64().unwrap_or(u64::MAX) > MAX_FILE_BYTES as u64 {
            return Ok(None);
        }
        Ok(decode(&found))
    }
}

/// The base64 `content` of a contents or blob answer (GitHub wraps it in lines).
fn decode(answer: &Value) -> Option<Vec<u8>> {
    if answer["encoding"] != "base64" {
        return None;
    }
    let text: String = answer["content"]
        .as_str()?
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

fn is_sha(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_decode_and_paths_cannot_leave_their_segment() {
        let answer = serde_json::json!({"encoding": "base64", "content": "aGVs\nbG8=\n"});
        assert_eq!(decode(&answer).as_deref(), Some(&b"hello"[..]));
        assert_eq!(
            decode(&serde_json::json!({"encoding": "none", "content": ""})),
            None
        );
        let seg = utf8_percent_encode("../x?ref=main#", SEGMENT).to_string();
        assert_eq!(seg, "..%2Fx%3Fref%3Dmain%23");
        assert!(is_sha(&"a".repeat(40)) && !is_sha("main") && !is_sha(&"g".repeat(40)));
    }
}
