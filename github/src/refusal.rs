//! [`Refusal`]: a non-2xx answer GitHub gave on purpose, and what it means as an error
//! (permanent, class `github`, with what the status usually means).

use coderipple_core::WorkerError;
use reqwest::StatusCode;

/// A non-2xx answer GitHub gave on purpose.
#[derive(Debug)]
pub struct Refusal {
    /// The status.
    pub status: StatusCode,
    /// GitHub's `message`, when it sent one.
    pub message: String,
}

impl Refusal {
    /// The refusal as an error about `repo`: permanent (it needs an operator or a change on
    /// GitHub's side), with what the status usually means.
    pub fn into_error(self, repo: &str) -> WorkerError {
        refused(repo, &self)
    }
}

pub(crate) fn refused(repo: &str, r: &Refusal) -> WorkerError {
    let why = match r.status {
        StatusCode::UNAUTHORIZED => "the credentials were refused",
        StatusCode::FORBIDDEN => {
            "no permission (is the GitHub App installed with the permissions it needs?)"
        }
        StatusCode::NOT_FOUND => "not found (or the GitHub App is not installed on it)",
        _ => "refused",
    };
    WorkerError::Permanent {
        class: "github",
        reason: format!("GitHub, {repo}: {why}: {} {}", r.status.as_u16(), r.message),
    }
}
