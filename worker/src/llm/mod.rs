//! The optional LLM writer: prose in the marked sections of the deterministic docs.
//!
//! The agents' docs are complete without it. Templates mark the places prose may go
//! (`{{ prose_open("KIND") }}` … `{{ prose_close() }}` around the deterministic text: HTML
//! comments with a random nonce, see [`Markers`](coderipple_engine::pack::Markers)); after rendering, the [`ProseWriter`] asks a model for each marked section, with the
//! pack's prompt `prompts/KIND.md` and the section the marker sits in as *fenced data*, and
//! puts the model's answer, [sanitized](coderipple_engine::prose::sanitize), in place of the deterministic text. With
//! the writer off, or for any section it cannot fill, the markers are removed and the
//! deterministic text stays: the docs are then byte-identical to a worker without a writer.
//!
//! Order of effects and failure: answers are cached (an in-process LRU in front of the
//! store's `CACHE#` records) by pack version, model and prompt hash *before* the docs are
//! written, so a replay, a redelivery or a re-render never calls the model twice for one
//! prompt. A timeout, a refusal, an HTTP error, an unreadable answer or a daily token budget
//! (the repository's, or all repositories') leaves the deterministic text and a note in the
//! processing summary; it is never retried within the change set, never a DLQ entry, and
//! after a failure that says the model is unavailable the writer pauses (every section
//! meanwhile keeps its deterministic text), so a dead model server costs one timeout, not one
//! per section. Every call is charged to the budgets, failed or not (see `budget.rs`), and a
//! prompt whose call failed is remembered in the store (`writer-failed#…`, beside its answer's
//! key) for [`WriterLimits::retry_after`]: no change set, on any worker, asks it again before.
//!
//! Models: any OpenAI-compatible `/v1/chat/completions` ([`OpenAiModel`]: Ollama, llama.cpp's
//! server, vLLM) or Bedrock's Converse API ([`BedrockModel`]); `CODERIPPLE_WRITER` picks one
//! ([`WriterConfig`]).

mod bedrock;
mod budget;
mod config;
mod limits;
mod openai;
mod pass;

use std::time::Duration;

use async_trait::async_trait;
use coderipple_engine::grounding::Inventory;
use coderipple_engine::prose::sections;

pub use bedrock::BedrockModel;
pub use config::{WriterConfig, WriterKind, bedrock_config};
pub use limits::WriterLimits;
pub use openai::OpenAiModel;
pub use pass::ProseWriter;

/// One request to a model: the pack's system prompt and the rendered prompt of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// The instructions (`prompts/system.md`).
    pub system: String,
    /// The section's prompt, its data fenced.
    pub user: String,
    /// The longest answer wanted, in tokens.
    pub max_tokens: u32,
}

/// A model's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The text, as the model wrote it (sanitized later).
    pub text: String,
    /// Prompt tokens, as the model counted them.
    pub input_tokens: u64,
    /// Answer tokens.
    pub output_tokens: u64,
}

/// Why a model gave no usable answer. None of these is retried within a change set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// No answer within the writer's timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The model (or a guardrail) declined, or cut the answer for its content.
    #[error("refused: {reason}")]
    Refused {
        /// What the model or the guardrail said.
        reason: String,
        /// Prompt tokens the model reported for the call (0: it did not say).
        input_tokens: u64,
        /// Answer tokens the model reported for the call.
        output_tokens: u64,
    },
    /// The server answered with an error status.
    #[error("HTTP {status}: {message}")]
    Status {
        /// The status code.
        status: u16,
        /// The start of its body.
        message: String,
    },
    /// The server could not be reached, or the SDK call failed before an answer.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// An answer that is not what the API promises.
    #[error("unreadable answer: {0}")]
    Unreadable(String),
}

impl ModelError {
    /// Whether the model looks unavailable (so the writer pauses rather than ask again for
    /// the next section): timeouts, unreachable, 5xx, 429, and 401, 403 and 404 (a key, a
    /// permission or a model that is wrong for every prompt). A refusal or an odd answer is
    /// about one prompt.
    pub fn unavailable(&self) -> bool {
        match self {
            Self::Timeout(_) | Self::Unreachable(_) => true,
            Self::Status { status, .. } => {
                *status >= 500 || matches!(*status, 401 | 403 | 404 | 429)
            }
            Self::Refused { .. } | Self::Unreadable(_) => false,
        }
    }

    /// A refusal with no usage reported.
    pub fn refused(reason: impl Into<String>) -> Self {
        Self::Refused {
            reason: reason.into(),
            input_tokens: 0,
            output_tokens: 0,
        }
    }

    /// The prompt and answer tokens the model reported for the failed call: only a refusal
    /// comes with them; `(0, 0)` otherwise.
    pub fn usage(&self) -> (u64, u64) {
        match self {
            Self::Refused {
                input_tokens,
                output_tokens,
                ..
            } => (*input_tokens, *output_tokens),
            _ => (0, 0),
        }
    }
}

/// A model that writes prose: one prompt in, one answer out.
#[async_trait]
pub trait LanguageModel: Send + Sync + std::fmt::Debug {
    /// `openai:<model>` or `bedrock:<model id>`: part of every cache key and of the summary.
    fn name(&self) -> &str;

    /// What `input` and `output` tokens cost in US dollars, when known.
    fn cost_usd(&self, input: u64, output: u64) -> Option<f64> {
        let _ = (input, output);
        None
    }

    /// The model's answer to `prompt`.
    async fn complete(&self, prompt: &Prompt) -> Result<Completion, ModelError>;
}

tokio::task_local! {
    /// The last moment the writer may wait for a model in the work running under
    /// [`with_deadline`].
    static DEADLINE: std::time::Instant;
}

/// Runs `work` with `deadline` as the last moment the writer may wait for a model: in
/// Lambda, half of the time left when the change set starts (see the port's implementation in
/// the pipeline's `apply`), so the writer never uses
/// the time the batch needs to store and report its work.
pub async fn with_deadline<F: std::future::Future>(
    deadline: std::time::Instant,
    work: F,
) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

fn deadline() -> Option<std::time::Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// The last step of rendering: `writer` fills the marked sections of `files`, counting in
/// `stats` (made when the first section is met); without a writer the markers go and the
/// deterministic text stays.
pub(crate) async fn finish(
    writer: Option<&ProseWriter>,
    pack: &coderipple_engine::pack::AgentPack,
    repo: &str,
    files: &mut [coderipple_engine::DocFile],
    stats: &mut Option<coderipple_core::store::WriterStats>,
    inventory: Option<&Inventory>,
) {
    match writer {
        Some(writer) => {
            let mut s = stats.take().unwrap_or_default();
            writer.fill(pack, repo, files, &mut s, inventory).await;
            if s.sections > 0 {
                *stats = Some(s);
            }
        }
        None => {
            for file in files.iter_mut() {
                if file.contents.contains(&pack.markers().open) {
                    file.contents = sections::strip(&file.contents, pack.markers());
                }
            }
        }
    }
}
