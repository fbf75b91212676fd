//! The queue contract suite: every [`TaskQueue`] implementation must pass it.
//!
//! Each check takes a fresh, empty queue built with max receive count
//! [`MAX_RECEIVES`]. The checks only rely on what SQS guarantees (also against
//! moto), except [`old_receipts_never_touch_a_redelivery`], which is beyond SQS.
//! Timings stay short (visibility timeouts of 1-2 s, whole seconds, since SQS
//! counts in seconds), and every wait for the queue has a generous deadline.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Delivery, QueueDepth, Receipt, TaskQueue};
use crate::Result;

/// The max receive count the queue under test must be built with.
pub const MAX_RECEIVES: u32 = 2;

const SEC: Duration = Duration::from_secs(1);
const PATIENCE: Duration = Duration::from_secs(10);

fn bodies(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{{\"{prefix}\":{i}}}")).collect()
}

/// Receives until `n` deliveries arrived (or `PATIENCE` passed), with 1 s long polls.
async fn receive_n(q: &dyn TaskQueue, n: usize, visibility: Duration) -> Vec<Delivery> {
    let start = Instant::now();
    let mut got = Vec::new();
    while got.len() < n && start.elapsed() < PATIENCE {
        got.extend(q.receive(10, visibility, SEC).await.unwrap());
    }
    assert_eq!(
        got.len(),
        n,
        "expected {n} deliveries within {PATIENCE:?}: {got:?}"
    );
    got
}

/// Receives with 1 s long polls until `until` passed; nothing may arrive. The last
/// poll may end up to 1 s after `until` (SQS waits in whole seconds): leave room.
async fn receive_none_until(q: &dyn TaskQueue, until: Instant, why: &str) {
    while Instant::now() < until {
        let got = q.receive(10, SEC, SEC).await.unwrap();
        assert!(got.is_empty(), "{why}, yet received {got:?}");
    }
}

fn assert_stale<T: std::fmt::Debug>(result: Result<T>, what: &str) {
    match result {
        Err(e) if e.is_stale() => {}
        other => panic!("{what}: expected a stale receipt error, got {other:?}"),
    }
}

/// Polls `depth` until it equals `expected` (counts may lag) or `PATIENCE` passed.
async fn assert_depth(q: &dyn TaskQueue, expected: QueueDepth) {
    let start = Instant::now();
    loop {
        let depth = q.depth().await.unwrap();
        if depth == expected {
            return;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "depth {depth:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `send_batch` returns one id per body in order; each message is then received
/// once with its body, `receive_count` 1 and a distinct receipt. An empty batch is
/// a no-op.
pub async fn send_then_receive(q: &dyn TaskQueue) {
    assert!(q.send_batch(&[]).await.unwrap().is_empty());
    let sent = bodies("send", 3);
    let ids = q.send_batch(&sent).await.unwrap();
    assert_eq!(ids.len(), 3);
    let expected: HashMap<_, _> = ids.iter().cloned().zip(sent.iter().cloned()).collect();
    assert_eq!(expected.len(), 3, "message ids must be distinct: {ids:?}");
    let got = receive_n(q, 3, Duration::from_secs(2)).await;
    let received: HashMap<_, _> = got
        .iter()
        .map(|d| (d.message_id.clone(), d.body.clone()))
        .collect();
    assert_eq!(received, expected);
    assert!(got.iter().all(|d| d.receive_count == 1), "{got:?}");
    let receipts: std::collections::HashSet<_> = got.iter().map(|d| &d.receipt).collect();
    assert_eq!(receipts.len(), 3, "receipts must be distinct: {got:?}");
    assert!(got.iter().all(|d| !d.receipt.0.is_empty()));
}

/// A received message is hidden from every receiver for its visibility timeout,
/// then delivered again with `receive_count` 2 and a new receipt.
pub async fn hidden_until_visibility_expires(q: &dyn TaskQueue) {
    let id = q.send_batch(&bodies("hide", 1)).await.unwrap().remove(0);
    let start = Instant::now();
    let first = receive_n(q, 1, SEC).await.remove(0);
    assert!(q.receive(10, SEC, Duration::ZERO).await.unwrap().is_empty());
    let again = receive_n(q, 1, SEC).await.remove(0);
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "redelivered after {:?}",
        start.elapsed()
    );
    assert_eq!(
        (again.message_id.as_str(), again.receive_count),
        (id.as_str(), 2)
    );
    assert_eq!(again.body, first.body);
    assert_ne!(
        again.receipt, first.receipt,
        "each delivery has a new receipt"
    );
}

/// `extend` keeps a message hidden past its original visibility timeout, for the
/// new timeout counted from the call; then it is delivered again.
pub async fn extend_keeps_message_hidden(q: &dyn TaskQueue) {
    q.send_batch(&bodies("extend", 1)).await.unwrap();
    let d = receive_n(q, 1, SEC).await.remove(0);
    let received = Instant::now();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let extended = Instant::now();
    q.extend(&d.receipt, Duration::from_secs(2)).await.unwrap();
    // Hidden until ~2.4 s after the receive; the polls cover ~0.4 s to ~1.7-2 s,
    // well past the original 1 s.
    receive_none_until(q, extended + Duration::from_millis(700), "extended for 2 s").await;
    let again = receive_n(q, 1, SEC).await.remove(0);
    let back = received.elapsed();
    assert!(back >= Duration::from_millis(2300), "back after {back:?}");
    assert_eq!((again.message_id, again.receive_count), (d.message_id, 2));
}

/// A receipt whose message was deleted is stale: `extend` and `release` fail with
/// `StaleReceipt`; a second `delete` is `Ok` or `StaleReceipt`. So is a receipt the
/// queue never issued.
pub async fn stale_receipts_are_refused(q: &dyn TaskQueue) {
    q.send_batch(&bodies("stale", 1)).await.unwrap();
    let d = receive_n(q, 1, Duration::from_secs(2)).await.remove(0);
    q.delete(&d.receipt).await.unwrap();
    assert_stale(q.extend(&d.receipt, SEC).await, "extend after delete");
    assert_stale(q.release(&d.receipt).await, "release after delete");
    match q.delete(&d.receipt).await {
        Ok(()) => {}
        Err(e) => assert!(e.is_stale(), "second delete: {e:?}"),
    }
    let bogus = Receipt("floe-contract-suite-no-such-receipt".into());
    assert_stale(
        q.extend(&bogus, SEC).await,
        "extend with an unknown receipt",
    );
}

/// Beyond SQS (SqliteQueue guarantees it; SQS implementations skip this check):
/// once a message is delivered again, the old receipt can neither extend, release
/// nor delete it, and the new holder keeps it.
pub async fn old_receipts_never_touch_a_redelivery(q: &dyn TaskQueue) {
    q.send_batch(&bodies("old", 1)).await.unwrap();
    let first = receive_n(q, 1, Duration::from_secs(2)).await.remove(0);
    q.release(&first.receipt).await.unwrap();
    let second = receive_n(q, 1, Duration::from_secs(2)).await.remove(0);
    assert_eq!(second.receive_count, 2);
    assert_stale(
        q.extend(&first.receipt, SEC).await,
        "extend with a superseded receipt",
    );
    assert_stale(
        q.release(&first.receipt).await,
        "release with a superseded receipt",
    );
    assert_stale(
        q.delete(&first.receipt).await,
        "delete with a superseded receipt",
    );
    assert!(
        q.receive(10, SEC, Duration::ZERO).await.unwrap().is_empty(),
        "still held"
    );
    q.extend(&second.receipt, Duration::from_secs(2))
        .await
        .unwrap();
    q.delete(&second.receipt).await.unwrap();
}

/// `delete` removes a message for good: it is not delivered again after its
/// visibility timeout would have ended.
pub async fn delete_removes_for_good(q: &dyn TaskQueue) {
    q.send_batch(&bodies("delete", 1)).await.unwrap();
    let start = Instant::now();
    let d = receive_n(q, 1, SEC).await.remove(0);
    q.delete(&d.receipt).await.unwrap();
    // The second 1 s poll starts after the visibility ended.
    receive_none_until(q, start + Duration::from_millis(1500), "deleted").await;
}

/// `release` makes a message visible at once (well before its 2 s visibility
/// ends); the next delivery has `receive_count` 2 and a new receipt.
pub async fn release_makes_visible_at_once(q: &dyn TaskQueue) {
    q.send_batch(&bodies("release", 1)).await.unwrap();
    let d = receive_n(q, 1, Duration::from_secs(2)).await.remove(0);
    let start = Instant::now();
    q.release(&d.receipt).await.unwrap();
    let again = q.receive(10, Duration::from_secs(2), SEC).await.unwrap();
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(
        (&again[0].message_id, again[0].receive_count),
        (&d.message_id, 2)
    );
    assert_ne!(again[0].receipt, d.receipt);
}

/// A long poll returns as soon as a message is sent, well before its wait ends.
pub async fn long_poll_returns_on_arrival(q: &dyn TaskQueue) {
    let start = Instant::now();
    let (got, sent) = futures::join!(q.receive(10, SEC, Duration::from_secs(5)), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        q.send_batch(&bodies("late", 1)).await.unwrap()
    });
    let elapsed = start.elapsed();
    let got = got.unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].message_id, sent[0]);
    assert!(
        elapsed < Duration::from_millis(2500),
        "returned after {elapsed:?} of 5 s"
    );
}

/// A long poll on an empty queue returns empty once its wait has passed.
pub async fn long_poll_times_out_empty(q: &dyn TaskQueue) {
    let start = Instant::now();
    let got = q.receive(10, SEC, SEC).await.unwrap();
    let elapsed = start.elapsed();
    assert!(got.is_empty(), "{got:?}");
    assert!(
        elapsed >= Duration::from_millis(900),
        "returned after {elapsed:?} of 1 s"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "returned after {elapsed:?} of 1 s"
    );
}

/// 8 concurrent receivers share 200 messages: together they get every message,
/// and no message twice (each deletes what it gets well within its visibility,
/// long enough that a slow machine never lets one expire: a redelivery after
/// expiry is correct and not what this checks).
pub async fn concurrent_receivers_never_share(q: &dyn TaskQueue) {
    const RECEIVERS: usize = 8;
    const MESSAGES: usize = RECEIVERS * 25;
    let sent = bodies("many", MESSAGES);
    let ids = q.send_batch(&sent).await.unwrap();
    let expected: BTreeMap<_, _> = ids.into_iter().zip(sent).collect();
    let seen = Mutex::new(Vec::<Delivery>::new());
    let (start, shared) = (Instant::now(), &seen);
    let receiver = move || async move {
        let seen = shared;
        while seen.lock().unwrap().len() < MESSAGES && start.elapsed() < PATIENCE * 2 {
            let got = q.receive(10, Duration::from_secs(60), SEC).await.unwrap();
            seen.lock().unwrap().extend(got.iter().cloned());
            for d in got {
                q.delete(&d.receipt).await.unwrap();
            }
        }
    };
    futures::future::join_all((0..RECEIVERS).map(|_| receiver())).await;
    let seen = seen.into_inner().unwrap();
    let mut by_id = BTreeMap::new();
    for d in &seen {
        assert_eq!(d.receive_count, 1, "{d:?}");
        let dup = by_id.insert(d.message_id.clone(), d.body.clone());
        assert!(dup.is_none(), "message {} delivered twice", d.message_id);
    }
    assert_eq!(by_id, expected, "every message exactly once");
}

/// A message delivered `MAX_RECEIVES` times that becomes visible again goes to the
/// dead letters (body and receive count) and is never delivered again;
/// `take_dead_letters` returns each dead letter once, at most `max` per call.
pub async fn max_receives_dead_letters(q: &dyn TaskQueue) {
    let sent = bodies("poison", 2);
    let ids = q.send_batch(&sent).await.unwrap();
    let expected: BTreeMap<_, _> = ids.into_iter().zip(sent).collect();
    let mut last = Instant::now();
    for round in 1..=MAX_RECEIVES {
        let got = receive_n(q, 2, SEC).await;
        last = Instant::now();
        assert!(
            got.iter().all(|d| d.receive_count == round),
            "round {round}: {got:?}"
        );
    }
    // The second 1 s poll starts after the last visibility ended: it (at the
    // latest) moves the messages.
    receive_none_until(
        q,
        last + Duration::from_millis(1500),
        "max receives reached",
    )
    .await;
    let mut letters = Vec::new();
    let start = Instant::now();
    while letters.len() < 2 && start.elapsed() < PATIENCE {
        let took = q.take_dead_letters(1).await.unwrap();
        assert!(took.len() <= 1, "take_dead_letters(1) returned {took:?}");
        letters.extend(took);
        if letters.len() < 2 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let got: BTreeMap<_, _> = letters
        .iter()
        .map(|l| (l.message_id.clone(), l.body.clone()))
        .collect();
    assert_eq!(got, expected, "{letters:?}");
    assert!(
        letters.iter().all(|l| l.receive_count >= MAX_RECEIVES),
        "{letters:?}"
    );
    assert!(
        q.take_dead_letters(10).await.unwrap().is_empty(),
        "taken once"
    );
    assert!(q.receive(10, SEC, SEC).await.unwrap().is_empty());
}

/// `dead_letter` moves one delivery to the dead letters at its first receive:
/// `take_dead_letters` returns its body, it is never delivered again, and the
/// other messages are untouched.
pub async fn refused_messages_are_dead_lettered_at_once(q: &dyn TaskQueue) {
    let sent = bodies("refused", 2);
    q.send_batch(&sent).await.unwrap();
    let got = receive_n(q, 2, Duration::from_secs(2)).await;
    let (refused, kept) = (&got[0], &got[1]);
    assert_eq!(refused.receive_count, 1);
    q.dead_letter(refused, "unsigned").await.unwrap();
    q.release(&kept.receipt).await.unwrap();
    let again = receive_n(q, 1, Duration::from_secs(2)).await;
    assert_eq!(again[0].body, kept.body, "only the kept message comes back");
    q.delete(&again[0].receipt).await.unwrap();
    let mut letters = Vec::new();
    let start = Instant::now();
    while letters.is_empty() && start.elapsed() < PATIENCE {
        letters = q.take_dead_letters(10).await.unwrap();
    }
    let bodies: Vec<&str> = letters.iter().map(|l| l.body.as_str()).collect();
    assert_eq!(bodies, [refused.body.as_str()]);
    assert!(q.receive(10, SEC, SEC).await.unwrap().is_empty());
}

/// `depth` counts visible, in-flight and dead messages (polled, as counts may lag).
pub async fn depth_counts_messages(q: &dyn TaskQueue) {
    assert_depth(q, QueueDepth::default()).await;
    // A message released MAX_RECEIVES times is dead-lettered by the next receive.
    q.send_batch(&bodies("dead", 1)).await.unwrap();
    for _ in 0..MAX_RECEIVES {
        let d = receive_n(q, 1, Duration::from_secs(2)).await.remove(0);
        q.release(&d.receipt).await.unwrap();
    }
    assert!(q.receive(10, SEC, SEC).await.unwrap().is_empty());
    let depth = |visible, in_flight, dead| QueueDepth {
        visible,
        in_flight,
        dead,
    };
    assert_depth(q, depth(0, 0, 1)).await;
    q.send_batch(&bodies("depth", 3)).await.unwrap();
    assert_depth(q, depth(3, 0, 1)).await;
    let start = Instant::now();
    let d = loop {
        let mut got = q.receive(1, Duration::from_secs(2), SEC).await.unwrap();
        assert!(got.len() <= 1, "receive(1) returned {got:?}");
        if let Some(d) = got.pop() {
            break d;
        }
        assert!(start.elapsed() < PATIENCE, "no message within {PATIENCE:?}");
    };
    assert_depth(q, depth(2, 1, 1)).await;
    assert_eq!(q.take_dead_letters(10).await.unwrap().len(), 1);
    assert_depth(q, depth(2, 1, 0)).await;
    q.delete(&d.receipt).await.unwrap();
    assert_depth(q, depth(2, 0, 0)).await;
}
