//! Bedrock's Converse API: one system block, one user message, the text of the answer.
//! The request and the answer are mapped by plain functions over the SDK's own types
//! ([`converse_input`], [`completion`]), tested without a network.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::operation::converse::{ConverseError, ConverseInput, ConverseOutput};
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ConverseOutput as Answer, InferenceConfiguration, Message,
    StopReason, SystemContentBlock,
};

use super::{Completion, LanguageModel, ModelError, Prompt};

/// A Bedrock model (or inference profile) through the Converse API.
#[derive(Debug)]
pub struct BedrockModel {
    name: String,
    model_id: String,
    timeout: Duration,
    client: Client,
}

impl BedrockModel {
    /// `model_id` through `client`; a call gives up after `timeout`.
    pub fn new(client: Client, model_id: &str, timeout: Duration) -> Self {
        Self {
            name: format!("bedrock:{model_id}"),
            model_id: model_id.to_owned(),
            timeout,
            client,
        }
    }
}

#[async_trait]
impl LanguageModel for BedrockModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn cost_usd(&self, input: u64, output: u64) -> Option<f64> {
        coderipple_core::pricing::bedrock_tokens_usd(&self.model_id, input, output)
    }

    async fn complete(&self, prompt: &Prompt) -> Result<Completion, ModelError> {
        let input = converse_input(&self.model_id, prompt)?;
        let call = self
            .client
            .converse()
            .set_model_id(input.model_id)
            .set_system(input.system)
            .set_messages(input.messages)
            .set_inference_config(input.inference_config)
            .send();
        match tokio::time::timeout(self.timeout, call).await {
            Err(_) => Err(ModelError::Timeout(self.timeout)),
            Ok(Err(e)) => Err(sdk_error(e, self.timeout)),
            Ok(Ok(out)) => completion(out),
        }
    }
}

/// The Converse request for `prompt` to `model_id`.
pub fn converse_input(model_id: &str, prompt: &Prompt) -> Result<ConverseInput, ModelError> {
    let built = |e: aws_sdk_bedrockruntime::error::BuildError| {
        ModelError::Unreachable(format!("request: {e}"))
    };
    let message = Message::builder()
        .role(ConversationRole::User)
        .content(ContentBlock::Text(prompt.user.clone()))
        .build()
        .map_err(built)?;
    ConverseInput::builder()
        .model_id(model_id)
        .system(SystemContentBlock::Text(prompt.system.clone()))
        .messages(message)
        .inference_config(
            InferenceConfiguration::builder()
                .max_tokens(i32::try_from(prompt.max_tokens).unwrap_or(i32::MAX))
                .temperature(0.2)
                .build(),
        )
        .build()
        .map_err(built)
}

/// The completion in a Converse answer: its text blocks, joined; a content filter or a
/// guardrail is a refusal.
pub fn completion(out: ConverseOutput) -> Result<Completion, ModelError> {
    let (input_tokens, output_tokens) = out.usage().map_or((0, 0), |u| {
        (
            u64::try_from(u.input_tokens()).unwrap_or(0),
            u64::try_from(u.output_tokens()).unwrap_or(0),
        )
    });
    match out.stop_reason() {
        StopReason::ContentFiltered | StopReason::GuardrailIntervened => {
            // Charged like an answer: the tokens were used.
            return Err(ModelError::Refused {
                reason: out.stop_reason().as_str().to_owned(),
                input_tokens,
                output_tokens,
            });
        }
        _ => {}
    }
    let Some(Answer::Message(message)) = out.output() else {
        return Err(ModelError::Unreadable("no message in the answer".into()));
    };
    let text: Vec<&str> = message
        .content()
        .iter()
        .filter_map(|block| match block {
            ContentBlock::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    Ok(Completion {
        text: text.join("\n\n"),
        input_tokens,
        output_tokens,
    })
}

fn sdk_error(
    e: SdkError<ConverseError, aws_smithy_runtime_api::http::Response>,
    timeout: Duration,
) -> ModelError {
    let status = e.raw_response().map(|r| r.status().as_u16());
    match (e, status) {
        (SdkError::ServiceError(service), Some(status)) => {
            let err = service.into_err();
            let status = match &err {
                ConverseError::ThrottlingException(_) => 429,
                ConverseError::ModelTimeoutException(_)
                | ConverseError::ServiceUnavailableException(_)
                | ConverseError::ModelNotReadyException(_) => status.max(500),
                _ => status,
            };
            ModelError::Status {
                status,
                message: format!(
                    "{}: {}",
                    err.code().unwrap_or("error"),
                    coderipple_engine::text::clip(err.message().unwrap_or(""), 200)
                ),
            }
        }
        (SdkError::TimeoutError(_), _) => ModelError::Timeout(timeout),
        (e, _) => ModelError::Unreachable(
            aws_sdk_bedrockruntime::error::DisplayErrorContext(e).to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_bedrockruntime::types::{ConverseMetrics, TokenUsage};

    use super::*;

    fn prompt() -> Prompt {
        Prompt {
            system: "Write release notes.".into(),
            user: "Summarize:\n```text\nfeat: x\n```".into(),
            max_tokens: 200,
        }
    }

    fn answer(stop: StopReason, blocks: Vec<ContentBlock>) -> ConverseOutput {
        let mut message = Message::builder().role(ConversationRole::Assistant);
        for b in blocks {
            message = message.content(b);
        }
        ConverseOutput::builder()
            .output(Answer::Message(message.build().unwrap()))
            .stop_reason(stop)
            .usage(
                TokenUsage::builder()
                    .input_tokens(40)
                    .output_tokens(9)
                    .total_tokens(49)
                    .build()
                    .unwrap(),
            )
            .metrics(ConverseMetrics::builder().latency_ms(120).build().unwrap())
            .build()
            .unwrap()
    }

    #[test]
    fn the_request_has_the_system_prompt_one_user_message_and_the_limits() {
        let input = converse_input("amazon.nova-micro-v1:0", &prompt()).unwrap();
        assert_eq!(input.model_id(), Some("amazon.nova-micro-v1:0"));
        assert_eq!(
            input.system(),
            [SystemContentBlock::Text("Write release notes.".into())]
        );
        let [message] = input.messages() else {
            panic!("one message: {:?}", input.messages());
        };
        assert_eq!(message.role(), &ConversationRole::User);
        assert_eq!(message.content(), [ContentBlock::Text(prompt().user)]);
        let config = input.inference_config().unwrap();
        assert_eq!(config.max_tokens(), Some(200));
        assert_eq!(config.temperature(), Some(0.2));
    }

    #[test]
    fn the_answer_is_its_text_and_usage_and_a_filter_is_a_refusal() {
        let out = completion(answer(
            StopReason::EndTurn,
            vec![
                ContentBlock::Text("Adds ports.".into()),
                ContentBlock::Text("Faster.".into()),
            ],
        ))
        .unwrap();
        assert_eq!(out.text, "Adds ports.\n\nFaster.");
        assert_eq!((out.input_tokens, out.output_tokens), (40, 9));
        let cut = completion(answer(
            StopReason::MaxTokens,
            vec![ContentBlock::Text("Adds".into())],
        ));
        assert_eq!(cut.unwrap().text, "Adds");
        for stop in [StopReason::ContentFiltered, StopReason::GuardrailIntervened] {
            let refused = completion(answer(stop, vec![ContentBlock::Text("x".into())]));
            assert_eq!(refused.unwrap_err().usage(), (40, 9), "with its usage");
        }
    }

    #[test]
    fn nova_micro_has_a_price() {
        let model = BedrockModel::new(
            Client::from_conf(
                aws_sdk_bedrockruntime::Config::builder()
                    .behavior_version(aws_sdk_bedrockruntime::config::BehaviorVersion::latest())
                    .region(aws_sdk_bedrockruntime::config::Region::new("us-east-1"))
                    .build(),
            ),
            "amazon.nova-micro-v1:0",
            Duration::from_secs(1),
        );
        assert_eq!(model.name(), "bedrock:amazon.nova-micro-v1:0");
        assert!(model.cost_usd(1_000_000, 0).unwrap() > 0.0);
    }
}
