//! The queue contract suite against the embedded SQLite queue: on one handle, and
//! on two handles over one file taking turns (as two processes would share it);
//! then what only SqliteQueue promises: durability across restarts.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use floe_coordinator::embedded_queue::SqliteQueue;
use floe_queue::contract_tests::{self as suite, MAX_RECEIVES};
use floe_queue::Result;
use floe_queue::{DeadLetter, Delivery, QueueDepth, Receipt, TaskQueue, MAX_BODY_BYTES};

async fn open(path: &Path) -> SqliteQueue {
    SqliteQueue::open(path, MAX_RECEIVES)
        .await
        .expect("open queue")
}

/// Two independent handles (pools, wake-ups, write locks) on one file; each call
/// goes to the next handle in turn, so a long poll on one handle must see what the
/// other sends without being woken.
#[derive(Debug)]
struct TwoHandles {
    handles: [SqliteQueue; 2],
    next: AtomicUsize,
}

impl TwoHandles {
    fn pick(&self) -> &SqliteQueue {
        &self.handles[self.next.fetch_add(1, Ordering::Relaxed) % 2]
    }
}

#[async_trait]
impl TaskQueue for TwoHandles {
    async fn send_batch(&self, bodies: &[String]) -> Result<Vec<String>> {
        self.pick().send_batch(bodies).await
    }
    async fn receive(&self, max: usize, vis: Duration, wait: Duration) -> Result<Vec<Delivery>> {
        self.pick().receive(max, vis, wait).await
    }
    async fn extend(&self, receipt: &Receipt, visibility: Duration) -> Result<()> {
        self.pick().extend(receipt, visibility).await
    }
    async fn delete(&self, receipt: &Receipt) -> Result<()> {
        self.pick().delete(receipt).await
    }
    async fn release(&self, receipt: &Receipt) -> Result<()> {
        self.pick().release(receipt).await
    }
    async fn depth(&self) -> Result<QueueDepth> {
        self.pick().depth().await
    }
    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<()> {
        self.pick().dead_letter(delivery, reason).await
    }
    async fn take_dead_letters(&self, max: usize) -> Result<Vec<DeadLetter>> {
        self.pick().take_dead_letters(max).await
    }
}

macro_rules! contract_test {
    ($name:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn one_handle() {
                let dir = tempfile::tempdir().unwrap();
                let queue = open(&dir.path().join("queue.db")).await;
                suite::$name(&queue).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn two_handles() {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("queue.db");
                let queue = TwoHandles {
                    handles: [open(&path).await, open(&path).await],
                    next: AtomicUsize::new(0),
                };
                suite::$name(&queue).await;
            }
        }
    };
}

contract_test!(send_then_receive);
contract_test!(hidden_until_visibility_expires);
contract_test!(extend_keeps_message_hidden);
contract_test!(stale_receipts_are_refused);
contract_test!(old_receipts_never_touch_a_redelivery);
contract_test!(delete_removes_for_good);
contract_test!(release_makes_visible_at_once);
contract_test!(long_poll_returns_on_arrival);
contract_test!(long_poll_times_out_empty);
contract_test!(concurrent_receivers_never_share);
contract_test!(max_receives_dead_letters);
contract_test!(refused_messages_are_dead_lettered_at_once);
contract_test!(depth_counts_messages);

/// A message in flight when its process goes away is delivered again after its
/// visibility timeout by a queue reopened on the same file; a message never
/// received survives too; the old receipt is stale after the redelivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_message_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let queue = open(&path).await;
    let ids = queue
        .send_batch(&["first".to_string(), "second".to_string()])
        .await
        .unwrap();
    let leased = queue
        .receive(1, Duration::from_secs(1), Duration::ZERO)
        .await
        .unwrap()
        .remove(0);
    let received = Instant::now();
    assert_eq!(
        (leased.message_id.as_str(), leased.body.as_str()),
        (ids[0].as_str(), "first")
    );
    queue.close().await;
    drop(queue);

    let queue = open(&path).await;
    let depth = queue.depth().await.unwrap();
    assert_eq!((depth.visible, depth.in_flight, depth.dead), (1, 1, 0));
    let second = queue
        .receive(10, Duration::from_secs(5), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        second.len(),
        1,
        "only the message never received: {second:?}"
    );
    assert_eq!(second[0].message_id, ids[1]);
    let again = queue
        .receive(10, Duration::from_secs(5), Duration::from_secs(3))
        .await
        .unwrap();
    assert!(
        received.elapsed() >= Duration::from_millis(950),
        "{:?}",
        received.elapsed()
    );
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(
        (again[0].message_id.as_str(), again[0].receive_count),
        (ids[0].as_str(), 2)
    );
    assert_ne!(again[0].receipt, leased.receipt);
    let stale = queue.extend(&leased.receipt, Duration::from_secs(1)).await;
    assert!(stale.as_ref().is_err_and(|e| e.is_stale()), "{stale:?}");
    assert!(!stale.unwrap_err().is_retryable());
}

/// Dead letters are durable and carry the exact receive count; `take_dead_letters`
/// moves a message that is visible again after max receives without a `receive`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let queue = SqliteQueue::open(&path, 1).await.unwrap();
    let id = queue
        .send_batch(&["poison".to_string()])
        .await
        .unwrap()
        .remove(0);
    let d = queue
        .receive(1, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap()
        .remove(0);
    queue.release(&d.receipt).await.unwrap();
    queue.close().await;
    drop(queue);

    let queue = SqliteQueue::open(&path, 1).await.unwrap();
    assert_eq!(queue.depth().await.unwrap().dead, 1);
    let letters = queue.take_dead_letters(10).await.unwrap();
    assert_eq!(
        letters,
        vec![DeadLetter {
            message_id: id,
            body: "poison".into(),
            receive_count: 1
        }]
    );
    assert!(queue.take_dead_letters(10).await.unwrap().is_empty());
    assert_eq!(queue.depth().await.unwrap(), QueueDepth::default());
}

/// Misuse is refused with a clear, non-retryable error.
#[tokio::test]
async fn refuses_bad_settings_and_oversized_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let err = SqliteQueue::open(&dir.path().join("q.db"), 0)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("max_receives"), "{err}");
    let queue = open(&dir.path().join("q.db")).await;
    let err = queue
        .send_batch(&["x".repeat(MAX_BODY_BYTES + 1)])
        .await
        .unwrap_err();
    assert!(
        !err.is_retryable() && err.to_string().contains("limit"),
        "{err}"
    );
    assert_eq!(queue.depth().await.unwrap(), QueueDepth::default());
}
