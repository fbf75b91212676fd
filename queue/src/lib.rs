//! The narrow task-queue interface between the coordinator and the workers.
//!
//! The semantics are Amazon SQS's (standard queue with a redrive policy), so the
//! embedded SQLite queue and an SQS queue are interchangeable. `contract_tests`
//! checks every implementation against the same expectations; it only checks what
//! SQS guarantees too, except the functions it marks as beyond SQS.

pub mod backoff;
#[cfg(any(test, feature = "test-support"))]
pub mod contract_tests;
pub mod sqs;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// What every queue call returns.
pub type Result<T, E = QueueError> = std::result::Result<T, E>;

/// SQS's limit on one message body; implementations refuse longer bodies.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The opaque handle of one delivery of a message. Each delivery gets a new one;
/// it is the only way to extend, release or delete that delivery.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Receipt(pub String);

/// One delivery of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub message_id: String,
    pub receipt: Receipt,
    pub body: String,
    /// How many times the message has been delivered, this delivery included (1 on
    /// the first delivery).
    pub receive_count: u32,
}

/// How many messages are waiting, being worked on, and dead. Approximate: SQS's
/// counts lag by up to a minute; SqliteQueue's are exact at the time of the call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Deliverable now.
    pub visible: u64,
    /// Delivered and hidden until their visibility timeout ends.
    pub in_flight: u64,
    /// Dead letters not yet taken with `take_dead_letters`.
    pub dead: u64,
}

/// A message that was delivered the maximum number of times without being deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub message_id: String,
    pub body: String,
    /// Deliveries before it was dead-lettered: at least the max receive count
    /// (exactly it for SqliteQueue).
    pub receive_count: u32,
}

/// A durable queue of task messages with leases (visibility timeouts), as SQS has.
///
/// The queue is built with a max receive count N (SQS's redrive `maxReceiveCount`).
///
/// Guaranteed by every implementation (checked by `contract_tests`):
/// - `send_batch` stores all bodies and returns their message ids in the order of
///   `bodies` (an empty slice is a no-op). On `Err`, some bodies may have been sent:
///   a retry may duplicate them. Bodies are UTF-8 of at most [`MAX_BODY_BYTES`];
///   keep to JSON-like text (SQS refuses most control characters).
/// - `receive` returns at most `max` deliveries (possibly fewer than are visible:
///   SQS returns at most 10 per call) and hides each from every receiver for
///   `visibility`, counted from the receive. It waits up to `wait` for a first
///   message and returns as soon as one is available; empty means none came
///   within `wait` (with `wait` zero SQS samples some of its servers and may
///   return empty although messages are visible). `receive_count` grows by one
///   per delivery and every delivery has a new receipt. No order is guaranteed.
/// - A message is delivered to one receiver at a time: while hidden, no other
///   `receive` returns it. When its visibility ends without a `delete` it is
///   delivered again. (SQS standard queues are at-least-once and may, rarely,
///   deliver a duplicate anyway; consumers must be idempotent. Floe's commits are.)
/// - Dead letters: a message already delivered N times that becomes visible again
///   (expired or released) is moved to the dead letters instead of being
///   delivered, at the latest by the first `receive` that would otherwise deliver
///   it (SqliteQueue already counts it as dead in `depth`, and `take_dead_letters`
///   moves it too). It is never delivered again.
/// - `extend(receipt, v)`: while the delivery is current, hides the message for `v`
///   from now (it may shorten the lease too). If the message was deleted (or the
///   receipt was never issued) it fails with [`QueueError::StaleReceipt`].
/// - `delete(receipt)` removes the message for good. With the current receipt it
///   succeeds; deleting twice returns `Ok` or `StaleReceipt`.
/// - `release(receipt)` makes the message visible now. The released delivery still
///   counts toward the max receive count. Errors as for `extend`.
/// - `dead_letter(delivery, reason)` moves the delivered message to the dead
///   letters at once, whatever its receive count: it is never delivered again,
///   and `take_dead_letters` returns it. For a message a consumer refuses to
///   run (unsigned, forged). `reason` is kept where the queue can hold it (an
///   SQS message attribute), for whoever inspects the dead letters. Errors as
///   for `extend`; SQS moves it by sending it to the dead letter queue, then
///   deleting it, so a failure in between may leave it in both.
/// - `take_dead_letters(max)` returns up to `max` dead letters (body and receive
///   count) and removes them: each is returned by one call only. A caller that
///   loses the result (crash) loses them: at most once.
/// - `depth` counts visible, in-flight and dead messages (approximately).
///
/// Not guaranteed by SQS, guaranteed by SqliteQueue (checked by the suite's
/// `old_receipts_never_touch_a_redelivery`, which SQS implementations skip):
/// - A receipt superseded by a later delivery (the lease expired or was released
///   and someone received the message again), or whose message was dead-lettered,
///   is stale: `extend`, `release` and `delete` fail with `StaleReceipt` and change
///   nothing. On SQS an old receipt may still extend, release, or even delete the
///   message now held by someone else (moto accepts any receipt a message ever
///   had). So a successful `extend` is not
///   proof of exclusive ownership anywhere: exactly-once comes from the commit
///   protocol, never from the lease.
/// - Unspecified everywhere: `extend` with the latest receipt after the visibility
///   ended but before anyone received the message again. SqliteQueue hides it
///   again (`Ok`); SQS may answer "not in flight", mapped to `StaleReceipt`.
///
/// Errors: [`QueueError::Unavailable`] (busy database, lost connection, throttling)
/// is retryable; the outcome of the call is then unknown (a `receive` may have
/// hidden messages that reappear after their visibility; a `delete` may have
/// happened). Dropping a `receive` future mid-call has the same effect.
/// `wait` above 20 s may be cut to 20 s (SQS's limit); callers loop anyway.
#[async_trait]
pub trait TaskQueue: Send + Sync + std::fmt::Debug {
    /// Sends the bodies; returns their message ids in the same order.
    async fn send_batch(&self, bodies: &[String]) -> Result<Vec<String>>;

    /// Long-polls up to `wait` for up to `max` messages, hiding each for `visibility`.
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Delivery>>;

    /// Heartbeat: keeps the delivery hidden for `visibility` from now.
    async fn extend(&self, receipt: &Receipt, visibility: Duration) -> Result<()>;

    /// Acknowledges the delivery: the message is gone for good.
    async fn delete(&self, receipt: &Receipt) -> Result<()>;

    /// Gives the delivery up: the message is visible again now.
    async fn release(&self, receipt: &Receipt) -> Result<()>;

    async fn depth(&self) -> Result<QueueDepth>;

    /// Dead-letters the delivery now: a message its receiver refuses to run.
    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<()>;

    /// Removes and returns up to `max` dead letters; each is returned once.
    async fn take_dead_letters(&self, max: usize) -> Result<Vec<DeadLetter>>;
}

/// Errors of a [`TaskQueue`].
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(
        "receipt {receipt} is stale: the message was deleted, dead-lettered or delivered \
         again since. Another worker may own it now: stop working on it, do not retry"
    )]
    StaleReceipt { receipt: String },

    #[error(
        "queue {queue} is unavailable while {action}: {message}. This may pass on its own; retry"
    )]
    Unavailable {
        queue: String,
        action: String,
        message: String,
    },

    #[error("queue {queue} failed while {action}: {message}")]
    Failed {
        queue: String,
        action: String,
        message: String,
    },
}

impl QueueError {
    pub fn stale(receipt: &Receipt) -> QueueError {
        QueueError::StaleReceipt {
            receipt: receipt.0.clone(),
        }
    }

    /// True for [`QueueError::StaleReceipt`]: the caller lost the message.
    pub fn is_stale(&self) -> bool {
        matches!(self, QueueError::StaleReceipt { .. })
    }

    /// A busy database or lost connection may pass; a stale receipt never does.
    pub fn is_retryable(&self) -> bool {
        matches!(self, QueueError::Unavailable { .. })
    }
}
