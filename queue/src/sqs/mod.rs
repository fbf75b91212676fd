//! [`TaskQueue`] on Amazon SQS: a standard queue with a redrive policy to a dead
//! letter queue, which is exactly the model the trait describes.
//!
//! Each trait call is one or a few SQS API calls (see each method). SQS counts
//! time in whole seconds: visibility timeouts and waits are rounded up. What SQS
//! does not guarantee is listed on [`TaskQueue`]: an old receipt may still act on
//! a redelivered message, and `depth` lags. Errors never carry credentials: they
//! name the queue URL, the action and SQS's error code and message.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageAttributeValue, MessageSystemAttributeName,
    QueueAttributeName, SendMessageBatchRequestEntry,
};
use aws_sdk_sqs::Client;

mod errors;
mod setup;

use errors::{failed, receipt_error, sdk_error, unavailable};
use setup::{create_queue, queue_url, queue_url_or_none};

use super::{DeadLetter, Delivery, QueueDepth, Receipt, TaskQueue, MAX_BODY_BYTES};
use crate::Result;

/// SQS's limits: entries per batch call, messages per receive, the longest long
/// poll, the longest visibility timeout, the largest `maxReceiveCount`.
const MAX_BATCH: usize = 10;
const MAX_WAIT_SECS: u64 = 20;
const MAX_VISIBILITY_SECS: u64 = 43_200;
const MAX_RECEIVE_COUNT: u32 = 1_000;
/// A batch's bodies together may not exceed one message's limit.
const MAX_BATCH_BYTES: usize = MAX_BODY_BYTES;
/// Messages are kept 14 days (SQS's maximum) in both queues.
const RETENTION_SECS: &str = "1209600";
/// How long `take_dead_letters` hides what it received until it deleted it.
const DEAD_LETTER_VISIBILITY_SECS: i32 = 30;
/// `take_dead_letters` long-polls this long: a short poll samples only some SQS
/// servers and may miss the few messages a dead letter queue holds.
const DEAD_LETTER_WAIT_SECS: i32 = 1;

/// An SQS queue and its dead letter queue. Clones share the client.
#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
    dead_letter_url: String,
}

impl std::fmt::Debug for SqsQueue {
    // Not derived: the client's config holds the credentials provider.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqsQueue")
            .field("queue_url", &self.queue_url)
            .field("dead_letter_url", &self.dead_letter_url)
            .finish()
    }
}

impl SqsQueue {
    /// A queue that already exists, whose redrive policy sends dead letters to
    /// `dead_letter_url` (the max receive count is the redrive policy's).
    pub fn new(client: Client, queue_url: String, dead_letter_url: String) -> Self {
        Self {
            client,
            queue_url,
            dead_letter_url,
        }
    }

    /// Creates (or finds, if they exist with the same attributes) the queue `name`
    /// and its dead letter queue `<name>-dead`, with a redrive policy moving a
    /// message delivered `max_receives` times (1 to 1000) to the latter.
    pub async fn create(client: Client, name: &str, max_receives: u32) -> Result<Self> {
        let fail = |message: String| failed(name, "creating the queue", message);
        if !(1..=MAX_RECEIVE_COUNT).contains(&max_receives) {
            return Err(fail(format!(
                "max_receives is {max_receives}; SQS allows 1 to {MAX_RECEIVE_COUNT}"
            )));
        }
        let dead_name = format!("{name}-dead");
        let dead_letter_url = create_queue(&client, &dead_name, None).await?;
        let arn = client
            .get_queue_attributes()
            .queue_url(&dead_letter_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| sdk_error(&dead_letter_url, "reading its ARN", e))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or_else(|| fail(format!("SQS returned no QueueArn for {dead_letter_url}")))?;
        let policy =
            serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": max_receives});
        let queue_url = create_queue(&client, name, Some(policy.to_string())).await?;
        Ok(Self::new(client, queue_url, dead_letter_url))
    }

    /// The existing queue `name` and its dead letter queue `<name>-dead`, as
    /// [`SqsQueue::create`] (or Floe's Terraform) made them.
    pub async fn open(client: Client, name: &str) -> Result<Self> {
        let queue_url = queue_url(&client, name).await?;
        let dead_letter_url = queue_url_or_none(&client, &format!("{name}-dead"))
            .await?
            .unwrap_or_default();
        Ok(Self::new(client, queue_url, dead_letter_url))
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    pub fn dead_letter_url(&self) -> &str {
        &self.dead_letter_url
    }

    /// One ReceiveMessage call on `url`.
    async fn receive_once(
        &self,
        url: &str,
        max: usize,
        visibility_secs: i32,
        wait_secs: i32,
    ) -> Result<Vec<Delivery>> {
        let out = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max.min(MAX_BATCH) as i32)
            .visibility_timeout(visibility_secs)
            .wait_time_seconds(wait_secs)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| sdk_error(url, "receiving", e))?;
        let malformed = |what: &str| failed(url, "receiving", format!("a message without {what}"));
        out.messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let receive_count = m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .ok_or_else(|| malformed("an ApproximateReceiveCount"))?;
                Ok(Delivery {
                    message_id: m.message_id.ok_or_else(|| malformed("a MessageId"))?,
                    receipt: Receipt(m.receipt_handle.ok_or_else(|| malformed("a receipt"))?),
                    body: m.body.ok_or_else(|| malformed("a body"))?,
                    receive_count,
                })
            })
            .collect()
    }

    async fn change_visibility(&self, action: &str, receipt: &Receipt, secs: i32) -> Result<()> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(&receipt.0)
            .visibility_timeout(secs)
            .send()
            .await
            .map_err(|e| receipt_error(&self.queue_url, action, receipt, e))?;
        Ok(())
    }

    /// ApproximateNumberOfMessages and ApproximateNumberOfMessagesNotVisible of `url`.
    async fn counts(&self, url: &str) -> Result<(u64, u64)> {
        let (visible, hidden) = (
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        );
        let attributes = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(visible.clone())
            .attribute_names(hidden.clone())
            .send()
            .await
            .map_err(|e| sdk_error(url, "counting messages", e))?
            .attributes
            .unwrap_or_default();
        let count = |name: &QueueAttributeName| -> Result<u64> {
            attributes
                .get(name)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| failed(url, "counting messages", format!("SQS returned no {name}")))
        };
        Ok((count(&visible)?, count(&hidden)?))
    }
}

/// Whole seconds, rounded up and capped (SQS counts in seconds).
fn seconds(d: Duration, max: u64) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.min(max) as i32
}

/// Splits `bodies` into SendMessageBatch calls: at most 10 entries and
/// [`MAX_BATCH_BYTES`] per call, in order.
fn chunks(bodies: &[String]) -> Vec<&[String]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, body) in bodies.iter().enumerate() {
        if i > start && (i - start == MAX_BATCH || bytes + body.len() > MAX_BATCH_BYTES) {
            out.push(&bodies[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += body.len();
    }
    if start < bodies.len() {
        out.push(&bodies[start..]);
    }
    out
}

#[async_trait]
impl TaskQueue for SqsQueue {
    /// SendMessageBatch calls of up to 10 bodies; ids in the order of `bodies`.
    async fn send_batch(&self, bodies: &[String]) -> Result<Vec<String>> {
        let url = &self.queue_url;
        if let Some(big) = bodies.iter().find(|b| b.len() > MAX_BODY_BYTES) {
            let message = format!(
                "a body has {} bytes; the limit is {MAX_BODY_BYTES}",
                big.len()
            );
            return Err(failed(url, "sending", message));
        }
        let mut ids = Vec::with_capacity(bodies.len());
        for chunk in chunks(bodies) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                        .map_err(|e| failed(url, "sending", e))
                })
                .collect::<Result<Vec<_>>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sdk_error(url, "sending", e))?;
            if let Some(f) = out.failed.first() {
                // Some entries of this call may have been sent: the caller's retry
                // may duplicate them, as the trait allows.
                let message = format!(
                    "{} of {} messages refused, e.g. {}: {}",
                    out.failed.len(),
                    chunk.len(),
                    f.code,
                    f.message.as_deref().unwrap_or("no message")
                );
                return Err(if f.sender_fault {
                    failed(url, "sending", message)
                } else {
                    unavailable(url, "sending", message)
                });
            }
            let mut by_entry: HashMap<String, String> = out
                .successful
                .into_iter()
                .map(|s| (s.id, s.message_id))
                .collect();
            for i in 0..chunk.len() {
                let id = by_entry.remove(&i.to_string()).ok_or_else(|| {
                    failed(
                        url,
                        "sending",
                        format!("SQS returned no result for entry {i}"),
                    )
                })?;
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// ReceiveMessage with WaitTimeSeconds (up to 20) and up to 10 messages; more
    /// calls without waiting only when `max` is above 10 and a call came back full.
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Delivery>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let visibility = seconds(visibility, MAX_VISIBILITY_SECS).max(1);
        let mut wait = seconds(wait, MAX_WAIT_SECS);
        let mut got = Vec::new();
        while got.len() < max {
            let want = (max - got.len()).min(MAX_BATCH);
            let batch = self
                .receive_once(&self.queue_url, want, visibility, wait)
                .await?;
            let full = batch.len() == want;
            got.extend(batch);
            if !full {
                break;
            }
            wait = 0;
        }
        Ok(got)
    }

    /// ChangeMessageVisibility.
    async fn extend(&self, receipt: &Receipt, visibility: Duration) -> Result<()> {
        let secs = seconds(visibility, MAX_VISIBILITY_SECS);
        self.change_visibility("extending a lease", receipt, secs)
            .await
    }

    /// DeleteMessage.
    async fn delete(&self, receipt: &Receipt) -> Result<()> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(&receipt.0)
            .send()
            .await
            .map_err(|e| receipt_error(&self.queue_url, "deleting", receipt, e))?;
        Ok(())
    }

    /// SendMessage to the dead letter queue (the reason as the `floe-refused`
    /// attribute), then DeleteMessage on the task queue.
    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<()> {
        let url = &self.dead_letter_url;
        let attribute = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(reason)
            .build()
            .map_err(|e| failed(url, "dead-lettering", e))?;
        self.client
            .send_message()
            .queue_url(url)
            .message_body(&delivery.body)
            .message_attributes("floe-refused", attribute)
            .send()
            .await
            .map_err(|e| sdk_error(url, "dead-lettering", e))?;
        self.delete(&delivery.receipt).await
    }

    /// ChangeMessageVisibility to 0.
    async fn release(&self, receipt: &Receipt) -> Result<()> {
        self.change_visibility("releasing", receipt, 0).await
    }

    /// GetQueueAttributes on both queues; dead counts the dead letter queue's
    /// visible and in-flight messages (those being taken).
    async fn depth(&self) -> Result<QueueDepth> {
        let (visible, in_flight) = self.counts(&self.queue_url).await?;
        let (dead, taking) = self.counts(&self.dead_letter_url).await?;
        Ok(QueueDepth {
            visible,
            in_flight,
            dead: dead + taking,
        })
    }

    /// Receives from the dead letter queue, then deletes what it received
    /// (DeleteMessageBatch) and returns the messages it deleted. A message whose
    /// delete failed is visible again after 30 s and is taken by a later call. The
    /// receive count is the dead letter queue's ApproximateReceiveCount, which on
    /// SQS includes this receive: at least the max receive count.
    async fn take_dead_letters(&self, max: usize) -> Result<Vec<DeadLetter>> {
        let url = &self.dead_letter_url;
        let mut out = Vec::new();
        while out.len() < max {
            let want = (max - out.len()).min(MAX_BATCH);
            let wait = if out.is_empty() {
                DEAD_LETTER_WAIT_SECS
            } else {
                0
            };
            let batch = self
                .receive_once(url, want, DEAD_LETTER_VISIBILITY_SECS, wait)
                .await?;
            if batch.is_empty() {
                break;
            }
            let full = batch.len() == want;
            let entries = batch
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(&d.receipt.0)
                        .build()
                        .map_err(|e| failed(url, "taking dead letters", e))
                })
                .collect::<Result<Vec<_>>>()?;
            let deleted = self
                .client
                .delete_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sdk_error(url, "taking dead letters", e))?;
            let ok: std::collections::HashSet<String> =
                deleted.successful.into_iter().map(|s| s.id).collect();
            for (i, d) in batch.into_iter().enumerate() {
                if ok.contains(&i.to_string()) {
                    out.push(DeadLetter {
                        message_id: d.message_id,
                        body: d.body,
                        receive_count: d.receive_count,
                    });
                }
            }
            if !full || !deleted.failed.is_empty() {
                break;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_up_and_cap() {
        assert_eq!(seconds(Duration::ZERO, 20), 0);
        assert_eq!(seconds(Duration::from_millis(1), 20), 1);
        assert_eq!(seconds(Duration::from_secs(2), 20), 2);
        assert_eq!(seconds(Duration::from_millis(2001), 20), 3);
        assert_eq!(seconds(Duration::from_secs(3600), 20), 20);
    }

    #[test]
    fn chunks_keep_order_within_count_and_bytes() {
        let small: Vec<String> = (0..23).map(|i| i.to_string()).collect();
        let sizes: Vec<usize> = chunks(&small).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [10, 10, 3]);
        assert_eq!(chunks(&small).concat(), small);
        let big = vec!["x".repeat(100 * 1024); 5];
        let sizes: Vec<usize> = chunks(&big).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [2, 2, 1]);
        assert!(chunks(&[]).is_empty());
    }
}
