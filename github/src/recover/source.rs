//! Where recovery reads deliveries and asks for redeliveries: the GitHub App's hook, or a
//! repository or organisation hook named `owner/repo:ID` / `org:ID`.

use crate::client::{GitHubApi, Method, Page};
use coderipple_core::WorkerError;

/// A repository or organisation webhook whose deliveries are checked too
/// (`owner/repo:HOOK_ID` or `org:HOOK_ID`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoHook {
    /// `owner/repo`, or an organisation's login.
    pub repo: String,
    /// The hook's id.
    pub id: u64,
}

impl RepoHook {
    /// Parses `owner/repo:ID` or `org:ID`.
    pub fn parse(spec: &str) -> Result<Self, WorkerError> {
        let bad = || WorkerError::Permanent {
            class: "config",
            reason: format!("a webhook is `owner/repo:HOOK_ID` or `org:HOOK_ID`, got {spec:?}"),
        };
        let (owner, id) = spec.trim().rsplit_once(':').ok_or_else(bad)?;
        let valid = if owner.contains('/') {
            coderipple_core::webhook::validate_repo(owner).is_ok()
        } else {
            is_login(owner)
        };
        if !valid {
            return Err(bad());
        }
        Ok(Self {
            repo: owner.to_owned(),
            id: id.parse().map_err(|_| bad())?,
        })
    }

    /// Whether it is an organisation's hook.
    pub fn is_org(&self) -> bool {
        !self.repo.contains('/')
    }

    /// Where its deliveries are listed: `/repos/{o}/{r}/hooks/{id}` or `/orgs/{org}/hooks/{id}`.
    fn base(&self) -> String {
        if self.is_org() {
            format!("/orgs/{}/hooks/{}", self.repo, self.id)
        } else {
            format!("/repos/{}/hooks/{}", self.repo, self.id)
        }
    }
}

/// A GitHub login: letters, digits and single hyphens, at most 39, not starting or ending
/// with a hyphen.
fn is_login(name: &str) -> bool {
    (1..=39).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// Where deliveries are listed and redelivered.
pub(super) enum Source<'a> {
    App,
    Repo(&'a RepoHook),
}

impl Source<'_> {
    pub(super) fn name(&self) -> String {
        match self {
            Self::App => "app".into(),
            Self::Repo(h) => format!("{}:{}", h.repo, h.id),
        }
    }

    pub(super) async fn page(
        &self,
        api: &GitHubApi,
        cursor: Option<&str>,
    ) -> Result<Page, WorkerError> {
        // (The serializer is not `Send`: it must be gone before the first await.)
        let query = {
            let mut q = form_urlencoded::Serializer::new(String::new());
            q.append_pair("per_page", "100");
            if let Some(c) = cursor {
                q.append_pair("cursor", c);
            }
            q.finish()
        };
        match self {
            Self::App => {
                api.app_get_page(&format!("/app/hook/deliveries?{query}"))
                    .await
            }
            Self::Repo(h) => {
                let path = format!("{}/deliveries?{query}", h.base());
                api.get_page(&h.repo, &path).await
            }
        }
    }

    pub(super) async fn redeliver(&self, api: &GitHubApi, id: u64) -> Result<(), WorkerError> {
        match self {
            Self::App => {
                api.app_post(&format!("/app/hook/deliveries/{id}/attempts"), None)
                    .await?;
            }
            Self::Repo(h) => {
                let path = format!("{}/deliveries/{id}/attempts", h.base());
                api.send(&h.repo, Method::POST, &path, None)
                    .await?
                    .map_err(|r| r.into_error(&h.repo))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_parse_and_bad_ones_are_refused() {
        assert_eq!(
            RepoHook::parse("o/r:42").unwrap(),
            RepoHook {
                repo: "o/r".into(),
                id: 42
            }
        );
        let org = RepoHook::parse("acme-corp:7").unwrap();
        assert!(org.is_org() && !RepoHook::parse("o/r:1").unwrap().is_org());
        assert_eq!(org.base(), "/orgs/acme-corp/hooks/7");
        for bad in [
            "o/r", "o/r:x", "../x:1", ":1", "-acme:1", "ac me:1", "a--b:1", "o/:1",
        ] {
            assert!(RepoHook::parse(bad).is_err(), "{bad}");
        }
    }
}
