//! Any OpenAI-compatible chat completions endpoint (`POST {base}/chat/completions`):
//! Ollama, llama.cpp's server, vLLM, or a hosted API with a key.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Completion, LanguageModel, ModelError, Prompt};

/// The largest answer read; a bigger one is unreadable.
const MAX_BODY_BYTES: usize = 1 << 20;

/// A model behind an OpenAI-compatible `/v1` base URL.
#[derive(Debug)]
pub struct OpenAiModel {
    name: String,
    model: String,
    endpoint: String,
    key: Option<String>,
    timeout: Duration,
    http: reqwest::Client,
}

#[derive(Debug, Serialize)]
struct Request<'a> {
    model: &'a str,
    messages: [Message<'a>; 2],
    max_tokens: u32,
    temperature: f32,
    stream: bool,
}

#[derive(Debug, Serialize)]
struct Message<'a> {
    role: &'a str,
    content: &'a str,
}

#[derive(Debug, Deserialize)]
struct Response {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: Answer,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

impl OpenAiModel {
    /// `model` at `base_url` (up to and including `/v1`), with an optional bearer `key`;
    /// a call gives up after `timeout`.
    pub fn new(
        base_url: &str,
        model: &str,
        key: Option<String>,
        timeout: Duration,
    ) -> Result<Self, ModelError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| ModelError::Unreachable(e.to_string()))?;
        Ok(Self {
            name: format!("openai:{model}"),
            model: model.to_owned(),
            endpoint: format!("{}/chat/completions", base_url.trim_end_matches('/')),
            key,
            timeout,
            http,
        })
    }
}

#[async_trait]
impl LanguageModel for OpenAiModel {
    fn name(&self) -> &str {
        &self.name
    }

    async fn complete(&self, prompt: &Prompt) -> Result<Completion, ModelError> {
        let body = Request {
            model: &self.model,
            messages: [
                Message {
                    role: "system",
                    content: &prompt.system,
                },
                Message {
                    role: "user",
                    content: &prompt.user,
                },
            ],
            max_tokens: prompt.max_tokens,
            temperature: 0.2,
            stream: false,
        };
        let mut req = self.http.post(&self.endpoint).json(&body);
        if let Some(key) = &self.key {
            req = req.bearer_auth(key);
        }
        let mut res = req.send().await.map_err(|e| self.failed(e))?;
        let status = res.status();
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| self.failed(e))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(ModelError::Unreadable(format!(
                    "an answer over {MAX_BODY_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&body);
        if !status.is_success() {
            return Err(ModelError::Status {
                status: status.as_u16(),
                message: coderipple_engine::text::clip(text.trim(), 200),
            });
        }
        answer(&text)
    }
}

impl OpenAiModel {
    fn failed(&self, e: reqwest::Error) -> ModelError {
        if e.is_timeout() {
            ModelError::Timeout(self.timeout)
        } else {
            // Without the URL: it may carry a key in its query, and notes are shown by `status`.
            ModelError::Unreachable(e.without_url().to_string())
        }
    }
}

/// The completion in a chat completions response body.
fn answer(body: &str) -> Result<Completion, ModelError> {
    let res: Response =
        serde_json::from_str(body).map_err(|e| ModelError::Unreadable(e.to_string()))?;
    let usage = res.usage.unwrap_or(Usage {
        prompt_tokens: 0,
        completion_tokens: 0,
    });
    let choice = res
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| ModelError::Unreadable("no choices".into()))?;
    // A refusal used tokens too: it carries what the server reported.
    let refused = |reason: String| ModelError::Refused {
        reason,
        input_tokens: usage.prompt_tokens,
        output_tokens: usage.completion_tokens,
    };
    if let Some(refusal) = choice.message.refusal.filter(|r| !r.trim().is_empty()) {
        return Err(refused(coderipple_engine::text::clip(&refusal, 200)));
    }
    if choice.finish_reason.as_deref() == Some("content_filter") {
        return Err(refused("content filter".into()));
    }
    Ok(Completion {
        text: choice.message.content.unwrap_or_default(),
        input_tokens: usage.prompt_tokens,
        output_tokens: usage.completion_tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_refusals_and_odd_bodies_are_told_apart() {
        let ok = answer(
            r#"{"choices":[{"message":{"role":"assistant","content":"Hi."},"finish_reason":"stop"}],
                "usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"#,
        )
        .unwrap();
        assert_eq!(
            (ok.text.as_str(), ok.input_tokens, ok.output_tokens),
            ("Hi.", 12, 3)
        );
        let refused = answer(r#"{"choices":[{"message":{"content":null,"refusal":"No."}}]}"#);
        assert_eq!(refused, Err(ModelError::refused("No.")));
        let counted = answer(
            r#"{"choices":[{"message":{"content":null,"refusal":"No."}}],
                "usage":{"prompt_tokens":40,"completion_tokens":2}}"#,
        );
        assert_eq!(counted.unwrap_err().usage(), (40, 2));
        let filtered =
            answer(r#"{"choices":[{"message":{"content":"x"},"finish_reason":"content_filter"}]}"#);
        assert!(matches!(filtered, Err(ModelError::Refused { .. })));
        assert!(matches!(
            answer(r#"{"choices":[]}"#),
            Err(ModelError::Unreadable(_))
        ));
        assert!(matches!(answer("<html>"), Err(ModelError::Unreadable(_))));
    }
}
