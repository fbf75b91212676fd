//! `WatchRun`'s stream: the run's state each time it changes, until it ends.
//!
//! A watcher polls the ledger; one whose client has gone must stop at once,
//! not when the run next changes (a stalled run may not change for hours, and
//! every abandoned watcher would keep polling until then).

use std::future::Future;
use std::time::Duration;

use floe_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tonic::Status;

/// How often a watcher reads the run again.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);

pub(super) type Updates = mpsc::Receiver<Result<pb::Run, Status>>;

/// Streams `first`, then each changed state `fetch` returns, until the run is
/// no longer running, `fetch` fails, or the receiver is dropped.
pub(super) fn spawn<F, Fut>(fetch: F, first: pb::Run) -> (Updates, JoinHandle<()>)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<pb::Run, Status>> + Send,
{
    let (tx, rx) = mpsc::channel(4);
    let handle = tokio::spawn(async move {
        let mut last = first;
        if tx.send(Ok(last.clone())).await.is_err() {
            return;
        }
        while is_running(&last) {
            tokio::select! {
                _ = tx.closed() => return,
                _ = tokio::time::sleep(WATCH_INTERVAL) => {}
            }
            let next = match fetch().await {
                Ok(run) => run,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            if next != last {
                last = next;
                if tx.send(Ok(last.clone())).await.is_err() {
                    return;
                }
            }
        }
    });
    (rx, handle)
}

/// Not ended yet: running, or publishing (a staged run).
fn is_running(run: &pb::Run) -> bool {
    run.state == pb::RunState::Running as i32 || run.state == pb::RunState::Publishing as i32
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use tokio_stream::StreamExt;

    use super::*;

    fn running() -> pb::Run {
        pb::Run {
            run_id: "run-1".into(),
            state: pb::RunState::Running as i32,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_gone_client_stops_its_watcher_although_the_run_never_changes() {
        let polls = Arc::new(AtomicUsize::new(0));
        let counted = polls.clone();
        let fetch = move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Ok(running()) }
        };
        let (mut rx, handle) = spawn(fetch, running());
        assert!(rx.recv().await.is_some(), "the first state is sent");
        tokio::time::sleep(WATCH_INTERVAL * 4).await;
        assert!(polls.load(Ordering::SeqCst) >= 3, "it polls while watched");
        drop(rx);
        tokio::time::timeout(WATCH_INTERVAL * 2, handle)
            .await
            .expect("the watcher stops within one interval of the client going")
            .unwrap();
    }

    #[tokio::test]
    async fn changes_are_streamed_until_the_run_ends() {
        let polls = Arc::new(AtomicUsize::new(0));
        let counted = polls.clone();
        let fetch = move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                let state = if n < 2 {
                    pb::RunState::Running
                } else {
                    pb::RunState::Succeeded
                };
                Ok(pb::Run {
                    run_id: "run-1".into(),
                    state: state as i32,
                    ..Default::default()
                })
            }
        };
        let (rx, handle) = spawn(fetch, running());
        let states: Vec<i32> = tokio_stream::wrappers::ReceiverStream::new(rx)
            .map(|r| r.unwrap().state)
            .collect()
            .await;
        assert_eq!(
            states,
            [pb::RunState::Running as i32, pb::RunState::Succeeded as i32]
        );
        handle.await.unwrap();
    }
}
