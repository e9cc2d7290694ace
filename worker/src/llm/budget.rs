//! The writer's daily token budgets, counted in the store: one per repository
//! (`writer-tokens#<repo>#<day>`) and one for all repositories (`writer-tokens-all#<day>`),
//! both added to atomically ([`Store::counter_add`]), so change sets running at once on any
//! worker are all counted.
//!
//! Every call is charged, failed or not: the tokens the model reported, or, when it reported
//! none (a timeout, an HTTP error, a server that does not count), the call's [`estimate`].
//! Each charge is added to both counters as soon as the call returns, and the totals they
//! answer (other workers' calls included) are what the next call is checked against.

use std::time::Duration;

use coderipple_core::store::Store;

use super::{Prompt, WriterLimits};

/// How long a day's token count is kept: it is named by its UTC day and never read after
/// it; the second day is slack.
const BUDGET_TTL: Duration = Duration::from_secs(2 * 24 * 3600);

/// One pass's view of the day's budgets.
pub(super) struct Budget {
    repo_key: String,
    all_key: String,
    /// The counts last read or added to: (repository, all repositories).
    used: Option<(u64, u64)>,
}

impl Budget {
    /// The budgets of `repo` today.
    pub(super) fn new(repo: &str) -> Self {
        let day = chrono::Utc::now().format("%Y-%m-%d");
        Self {
            repo_key: format!("writer-tokens#{repo}#{day}"),
            all_key: format!("writer-tokens-all#{day}"),
            used: None,
        }
    }

    /// Why a call of `prompt` may not be made: a budget it would pass, or counts that cannot
    /// be read. Read once per pass, then kept up to date by [`Self::charge`].
    pub(super) async fn why_not(
        &mut self,
        store: &dyn Store,
        limits: &WriterLimits,
        prompt: &Prompt,
    ) -> Option<String> {
        let (repo, all) = match self.used {
            Some(used) => used,
            None => {
                let read = async {
                    let repo = store.counter_add(&self.repo_key, 0, BUDGET_TTL).await?;
                    let all = store.counter_add(&self.all_key, 0, BUDGET_TTL).await?;
                    Ok::<_, coderipple_core::Error>((repo, all))
                };
                match read.await {
                    Ok(used) => *self.used.insert(used),
                    // Unknown spending: no call (and no write of a wrong count).
                    Err(e) => return Some(format!("the token budget is unreadable ({e})")),
                }
            }
        };
        let cost = estimate(prompt);
        if repo + cost > limits.daily_tokens {
            return Some(format!(
                "the repository's daily token budget ({} tokens, CODERIPPLE_WRITER_DAILY_TOKENS) is spent",
                limits.daily_tokens
            ));
        }
        if all + cost > limits.daily_tokens_total {
            return Some(format!(
                "the daily token budget of all repositories ({} tokens, CODERIPPLE_WRITER_DAILY_TOKENS_TOTAL) is spent",
                limits.daily_tokens_total
            ));
        }
        None
    }

    /// Charges a call of `prompt` that reported `reported` tokens (0: none) to both budgets.
    pub(super) async fn charge(&mut self, store: &dyn Store, prompt: &Prompt, reported: u64) {
        let tokens = match reported {
            0 => estimate(prompt),
            n => n,
        };
        let (mut repo, mut all) = self.used.unwrap_or_default();
        // Added, not written: change sets that overlap (on any worker) are all counted.
        match store.counter_add(&self.repo_key, tokens, BUDGET_TTL).await {
            Ok(total) => repo = total,
            Err(e) => {
                tracing::warn!(error = %e, "writer budget not recorded");
                repo += tokens;
            }
        }
        match store.counter_add(&self.all_key, tokens, BUDGET_TTL).await {
            Ok(total) => all = total,
            Err(e) => {
                tracing::warn!(error = %e, "writer budget of all repositories not recorded");
                all += tokens;
            }
        }
        self.used = Some((repo, all));
    }
}

/// What a call of `prompt` may cost in tokens, before the model says: a token per four
/// characters of prompt, and the longest answer.
pub(super) fn estimate(prompt: &Prompt) -> u64 {
    (prompt.system.len() + prompt.user.len()) as u64 / 4 + u64::from(prompt.max_tokens)
}
