//! SDK errors → the core [`Error`], so callers can tell a retry from a permanent failure.
//!
//! Transport failures, timeouts, throttling and service errors are `Unavailable` (retry:
//! nothing was acknowledged). A request the service rejects as invalid for this item
//! (`ValidationException`, e.g. an item over DynamoDB's 400 KB) is `Corrupt`: the same item
//! fails the same way, so the worker dead-letters it with that reason instead of retrying.

use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};

use crate::error::Error;

/// The service's error code, when the call reached the service.
pub(crate) fn code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}

/// Maps an SDK error of operation `what` to a core error.
pub(crate) fn sdk_error<E, R>(what: &str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let detail = match &err {
        SdkError::ServiceError(e) => format!(
            "{}: {}",
            e.err().code().unwrap_or("unknown"),
            e.err().message().unwrap_or("no message")
        ),
        other => format!("{}", aws_sdk_sqs::error::DisplayErrorContext(other)),
    };
    match code(&err) {
        Some("ValidationException") => Error::Corrupt(format!("{what}: {detail}")),
        Some(
            "AWS.SimpleQueueService.NonExistentQueue"
            | "QueueDoesNotExist"
            | "ResourceNotFoundException"
            | "NoSuchBucket",
        ) => Error::Unavailable(format!(
            "{what}: {detail} (create it with `coderipple init --backend aws`, or check the names)"
        )),
        _ => Error::Unavailable(format!("{what}: {detail}")),
    }
}
