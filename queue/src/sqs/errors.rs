//! How SQS failures become queue errors: which may pass on their own,
//! which mean a stale receipt, and what the message says (never the request).

use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::{QueueError, Receipt};

pub(super) fn failed(queue: &str, action: &str, message: impl ToString) -> QueueError {
    QueueError::Failed {
        queue: queue.to_string(),
        action: action.to_string(),
        message: message.to_string(),
    }
}

pub(super) fn unavailable(queue: &str, action: &str, message: impl ToString) -> QueueError {
    QueueError::Unavailable {
        queue: queue.to_string(),
        action: action.to_string(),
        message: message.to_string(),
    }
}

/// SQS's error code without the query protocol's `AWS.SimpleQueueService.` prefix.
fn error_code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<&str> {
    e.code()
        .map(|c| c.strip_prefix("AWS.SimpleQueueService.").unwrap_or(c))
}

/// Throttling, server errors, timeouts and connection trouble may pass
/// (`Unavailable`); anything else is `Failed`. The message is the error code and
/// SQS's message, or the error chain of a failed dispatch: never a request.
pub(super) fn sdk_error<E>(
    queue: &str,
    action: &str,
    e: SdkError<E, aws_sdk_sqs::config::http::HttpResponse>,
) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &e {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = error_code(&e).unwrap_or("unknown error").to_string();
            let message = format!("{code}: {}", e.message().unwrap_or("no message"));
            let transient = status >= 500
                || status == 429
                || matches!(
                    code.as_str(),
                    "RequestThrottled"
                        | "ThrottlingException"
                        | "Throttling"
                        | "KmsThrottled"
                        | "ServiceUnavailable"
                        | "InternalError"
                        | "InternalFailure"
                );
            if transient {
                unavailable(queue, action, message)
            } else {
                failed(queue, action, message)
            }
        }
        SdkError::DispatchFailure(d) if d.is_user() => {
            failed(queue, action, DisplayErrorContext(&e))
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            unavailable(queue, action, DisplayErrorContext(&e))
        }
        _ => failed(queue, action, DisplayErrorContext(&e)),
    }
}

/// As [`sdk_error`], but SQS's answers for a receipt that no longer names a
/// message in flight are [`QueueError::StaleReceipt`]: ReceiptHandleIsInvalid
/// (moto, and real SQS for a malformed or unknown receipt), MessageNotInflight,
/// and InvalidParameterValue about the ReceiptHandle ("Message does not exist or
/// is not available for visibility timeout change").
pub(super) fn receipt_error<E>(
    queue: &str,
    action: &str,
    receipt: &Receipt,
    e: SdkError<E, aws_sdk_sqs::config::http::HttpResponse>,
) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let stale = match error_code(&e) {
        Some("ReceiptHandleIsInvalid" | "MessageNotInflight") => true,
        Some("InvalidParameterValue") => e.message().is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            m.contains("receipthandle") || m.contains("receipt handle")
        }),
        _ => false,
    };
    if stale {
        QueueError::stale(receipt)
    } else {
        sdk_error(queue, action, e)
    }
}
