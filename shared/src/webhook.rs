//! GitHub webhook bodies → [`Envelope`]: content-type handling, `payload=` form decoding and
//! the per-event parsing rules (`docs/http-contract.md`).
//!
//! Processed: `push`, `pull_request` (`closed` and merged), `release` (`published`),
//! `create` (`ref_type=tag`) and `ping`. Everything else is [`Parsed::Ignored`] with a reason.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::envelope::{
    Change, Commit, ENVELOPE_VERSION, Envelope, PullRequestChange, PushChange, ReleaseChange,
    TagChange,
};
use crate::error::{Error, Result};

/// The two body encodings GitHub offers for a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    /// `application/json`
    Json,
    /// `application/x-www-form-urlencoded` with the JSON in `payload`
    Form,
}

/// Maps a `Content-Type` header to a [`ContentKind`] (415 for anything else).
pub fn content_kind(content_type: Option<&str>) -> Result<ContentKind> {
    let raw = content_type.ok_or_else(|| Error::UnsupportedMediaType("(none)".into()))?;
    let mime = raw
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/json" => Ok(ContentKind::Json),
        "application/x-www-form-urlencoded" => Ok(ContentKind::Form),
        _ => Err(Error::UnsupportedMediaType(truncate(raw, 100))),
    }
}

/// The JSON payload inside a body: the body itself, or the form's `payload` field.
pub fn decode_body(kind: ContentKind, body: &[u8]) -> Result<Cow<'_, [u8]>> {
    match kind {
        ContentKind::Json => Ok(Cow::Borrowed(body)),
        ContentKind::Form => form_urlencoded::parse(body)
            .find(|(key, _)| key == "payload")
            .map(|(_, value)| Cow::Owned(value.into_owned().into_bytes()))
            .ok_or_else(|| Error::BadRequest("form body has no `payload` field".into())),
    }
}

/// Checks an `X-GitHub-Delivery` id: 1–128 characters of `[A-Za-z0-9._:-]`, not starting
/// with `.`. A delivery id is the key of its claim-checked body, so this is the blob stores'
/// own rule ([`crate::blob::is_valid_key`]) within SQS's 128 for a deduplication id.
pub fn validate_delivery_id(id: &str) -> Result<()> {
    if id.len() <= 128 && crate::blob::is_valid_key(id) {
        Ok(())
    } else {
        Err(Error::BadRequest(
            "X-GitHub-Delivery must be 1-128 characters of [A-Za-z0-9._:-], not starting with '.'"
                .into(),
        ))
    }
}

/// Checks a repository full name: `owner/name`, each part `[A-Za-z0-9._-]`, never `.`/`..`.
pub fn validate_repo(full_name: &str) -> Result<()> {
    let valid_part = |p: &str| {
        !p.is_empty()
            && p.len() <= 100
            && p != "."
            && p != ".."
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    match full_name.split_once('/') {
        Some((owner, name)) if valid_part(owner) && valid_part(name) => Ok(()),
        _ => Err(Error::BadRequest(format!(
            "repository.full_name is not owner/name: {}",
            truncate(full_name, 100)
        ))),
    }
}

/// The outcome of parsing one delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// GitHub's `ping`: answered, never queued.
    Ping,
    /// Valid, but not an event CodeRipple processes.
    Ignored {
        /// Why, in a few words.
        reason: String,
        /// The repository, when the payload names one.
        repo: Option<String>,
    },
    /// To be queued.
    Event(Box<Envelope>),
}

/// Parses a verified payload of event `event` into a [`Parsed`].
pub fn parse(
    event: &str,
    delivery: &str,
    payload: &[u8],
    received_at: DateTime<Utc>,
) -> Result<Parsed> {
    validate_delivery_id(delivery)?;
    if event.is_empty() || event.len() > 64 {
        return Err(Error::BadRequest(
            "X-GitHub-Event is empty or too long".into(),
        ));
    }
    let starts_as_object = payload
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    if !starts_as_object {
        return Err(Error::BadRequest(
            "invalid JSON payload: not a JSON object".into(),
        ));
    }
    if event == "ping" {
        serde_json::from_slice::<serde::de::IgnoredAny>(payload)
            .map_err(|e| Error::BadRequest(format!("invalid JSON payload: {e}")))?;
        return Ok(Parsed::Ping);
    }
    let ignored = |reason: String, repo: Option<RawRepo>| {
        let repo = repo.map(|r| validate_repo(&r.full_name).map(|()| r.full_name));
        Ok(Parsed::Ignored {
            reason,
            repo: repo.transpose()?,
        })
    };
    let (change, repo, installation) = match event {
        "push" => {
            let p = typed::<PushPayload>(event, payload)?;
            let repo = p.repository.clone();
            let installation = p.installation.as_ref().map(|i| i.id);
            (push(p), repo, installation)
        }
        "pull_request" => {
            let p = typed::<PullRequestPayload>(event, payload)?;
            if p.action != "closed" {
                let reason = format!("pull_request action '{}' is not processed", p.action);
                return ignored(reason, p.repository);
            }
            if !p.pull_request.merged {
                return ignored("pull_request closed without merge".into(), p.repository);
            }
            let installation = p.installation.map(|i| i.id);
            (pull_request(p.pull_request), p.repository, installation)
        }
        "release" => {
            let p = typed::<ReleasePayload>(event, payload)?;
            // `released`: a release published, or a pre-release promoted to a release (GitHub
            // sends it beside `published` for a plain release: the same tag, applied once).
            if p.action != "published" && p.action != "released" {
                let reason = format!("release action '{}' is not processed", p.action);
                return ignored(reason, p.repository);
            }
            let installation = p.installation.map(|i| i.id);
            let promoted = p.action == "released";
            (release(p.release, promoted), p.repository, installation)
        }
        "create" => {
            let p = typed::<CreatePayload>(event, payload)?;
            if p.ref_type != "tag" {
                let reason = format!("create of a {} is not processed", p.ref_type);
                return ignored(reason, p.repository);
            }
            let repo_url = p
                .repository
                .as_ref()
                .map(|r| r.html_url.clone())
                .unwrap_or_default();
            (
                Change::Tag(TagChange {
                    tag: p.git_ref,
                    repo_url,
                    date: None,
                }),
                p.repository,
                p.installation.map(|i| i.id),
            )
        }
        other => {
            let head = typed::<Head>(event, payload)?;
            let reason = format!("event '{}' is not processed", truncate(other, 64));
            return ignored(reason, head.repository);
        }
    };
    let repo = repo
        .ok_or_else(|| Error::BadRequest(format!("{event} payload has no repository.full_name")))?;
    validate_repo(&repo.full_name)?;
    Ok(Parsed::Event(Box::new(Envelope {
        v: ENVELOPE_VERSION,
        delivery: delivery.to_owned(),
        event: event.to_owned(),
        repo: repo.full_name,
        received_at,
        change: Some(change),
        change_ref: None,
        installation,
    })))
}

/// Parses the payload straight into the event's own shape (no intermediate tree).
fn typed<T: for<'de> Deserialize<'de>>(event: &str, payload: &[u8]) -> Result<T> {
    serde_json::from_slice(payload).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => Error::BadRequest(format!("{event} payload: {e}")),
        _ => Error::BadRequest(format!("invalid JSON payload: {e}")),
    })
}

fn push(p: PushPayload) -> Change {
    let repo = p.repository.unwrap_or_default();
    Change::Push(PushChange {
        git_ref: p.git_ref,
        before: p.before,
        after: p.after,
        default_branch: repo.default_branch.or(repo.master_branch),
        repo_url: repo.html_url,
        created: p.created,
        deleted: p.deleted,
        forced: p.forced,
        head_commit: p.head_commit.as_ref().and_then(|h| h.id.clone()),
        head_timestamp: p.head_commit.and_then(|h| h.timestamp),
        commits: p
            .commits
            .into_iter()
            .map(|c| Commit {
                id: c.id,
                message: c.message,
                author: c.author.map(|a| a.name).unwrap_or_default(),
                timestamp: c.timestamp.unwrap_or_default(),
                added: c.added,
                modified: c.modified,
                removed: c.removed,
            })
            .collect(),
    })
}

fn pull_request(pr: RawPullRequest) -> Change {
    Change::PullRequest(PullRequestChange {
        number: pr.number,
        title: pr.title,
        body: pr.body.unwrap_or_default(),
        labels: pr.labels.into_iter().map(|l| l.name).collect(),
        base_ref: pr.base.map(|b| b.git_ref).unwrap_or_default(),
        merge_commit_sha: pr.merge_commit_sha,
        url: pr.html_url,
        merged_at: pr.merged_at,
    })
}

fn release(r: RawRelease, released: bool) -> Change {
    Change::Release(ReleaseChange {
        promoted: released && !r.prerelease,
        tag: r.tag_name,
        name: r.name.unwrap_or_default(),
        body: r.body.unwrap_or_default(),
        url: r.html_url,
        prerelease: r.prerelease,
        published_at: r.published_at,
        target: r
            .target_commitish
            .filter(|t| t.len() == 40 && t.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(|t| t.to_ascii_lowercase()),
    })
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[derive(Deserialize)]
struct Head {
    #[serde(default)]
    repository: Option<RawRepo>,
}

#[derive(Deserialize, Clone, Default)]
struct RawRepo {
    full_name: String,
    #[serde(default)]
    html_url: String,
    #[serde(default)]
    default_branch: Option<String>,
    #[serde(default)]
    master_branch: Option<String>,
}

#[derive(Deserialize)]
struct PushPayload {
    #[serde(rename = "ref")]
    git_ref: String,
    before: String,
    after: String,
    #[serde(default)]
    created: bool,
    #[serde(default)]
    deleted: bool,
    #[serde(default)]
    forced: bool,
    #[serde(default)]
    commits: Vec<RawCommit>,
    #[serde(default)]
    head_commit: Option<RawHeadCommit>,
    #[serde(default)]
    repository: Option<RawRepo>,
    #[serde(default)]
    installation: Option<RawInstallation>,
}

#[derive(Deserialize)]
struct RawHeadCommit {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct RawCommit {
    id: String,
    message: String,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    author: Option<RawAuthor>,
    #[serde(default)]
    added: Vec<String>,
    #[serde(default)]
    modified: Vec<String>,
    #[serde(default)]
    removed: Vec<String>,
}

#[derive(Deserialize)]
struct RawAuthor {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct PullRequestPayload {
    action: String,
    pull_request: RawPullRequest,
    #[serde(default)]
    repository: Option<RawRepo>,
    #[serde(default)]
    installation: Option<RawInstallation>,
}

/// The GitHub App installation that delivered the webhook.
#[derive(Deserialize)]
struct RawInstallation {
    id: u64,
}

#[derive(Deserialize)]
struct RawPullRequest {
    number: u64,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    merged: bool,
    #[serde(default)]
    merge_commit_sha: Option<String>,
    #[serde(default)]
    html_url: String,
    #[serde(default)]
    merged_at: Option<String>,
    #[serde(default)]
    base: Option<RawBase>,
    #[serde(default)]
    labels: Vec<RawLabel>,
}

#[derive(Deserialize)]
struct RawBase {
    #[serde(rename = "ref")]
    git_ref: String,
}

#[derive(Deserialize)]
struct RawLabel {
    name: String,
}

#[derive(Deserialize)]
struct ReleasePayload {
    action: String,
    release: RawRelease,
    #[serde(default)]
    repository: Option<RawRepo>,
    #[serde(default)]
    installation: Option<RawInstallation>,
}

#[derive(Deserialize)]
struct RawRelease {
    tag_name: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    html_url: String,
    #[serde(default)]
    prerelease: bool,
    #[serde(default)]
    published_at: Option<String>,
    #[serde(default)]
    target_commitish: Option<String>,
}

#[derive(Deserialize)]
struct CreatePayload {
    #[serde(rename = "ref")]
    git_ref: String,
    ref_type: String,
    #[serde(default)]
    repository: Option<RawRepo>,
    #[serde(default)]
    installation: Option<RawInstallation>,
}

#[cfg(test)]
mod tests;
