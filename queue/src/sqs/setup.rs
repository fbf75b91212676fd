//! Finding and creating the queues (once, at start-up).

use aws_sdk_sqs::types::QueueAttributeName;
use aws_sdk_sqs::Client;

use super::errors::{failed, sdk_error};
use super::RETENTION_SECS;
use crate::Result;

pub(super) async fn queue_url(client: &Client, name: &str) -> Result<String> {
    queue_url_or_none(client, name).await?.ok_or_else(|| {
        failed(
            name,
            "finding the queue",
            "it does not exist: create it (e.g. start the coordinator with the same --sqs-queue, \
             or apply deploy/terraform) or fix the name",
        )
    })
}

pub(super) async fn queue_url_or_none(client: &Client, name: &str) -> Result<Option<String>> {
    match client.get_queue_url().queue_name(name).send().await {
        Ok(out) => Ok(out.queue_url),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_queue_does_not_exist()) =>
        {
            Ok(None)
        }
        Err(e) => Err(sdk_error(name, "finding the queue", e)),
    }
}

/// The queue `name`, created with Floe's settings if absent. An existing queue
/// is used as it is (e.g. made by Terraform with its own retention or
/// encryption): SQS refuses a CreateQueue whose attributes differ from it.
pub(super) async fn create_queue(
    client: &Client,
    name: &str,
    redrive: Option<String>,
) -> Result<String> {
    if let Some(url) = queue_url_or_none(client, name).await? {
        return Ok(url);
    }
    let mut request = client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::MessageRetentionPeriod, RETENTION_SECS);
    if let Some(policy) = redrive {
        request = request.attributes(QueueAttributeName::RedrivePolicy, policy);
    }
    request
        .send()
        .await
        .map_err(|e| sdk_error(name, "creating the queue", e))?
        .queue_url
        .ok_or_else(|| failed(name, "creating the queue", "SQS returned no QueueUrl"))
}
