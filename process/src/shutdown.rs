//! The shutdown signal every Floe process honours.

/// Resolves on SIGTERM (a spot interruption, `docker stop`, `kill`) or Ctrl-C.
pub async fn signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
