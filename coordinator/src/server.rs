//! `coordinator serve`: the ledger, the embedded queue and the gRPC services,
//! with graceful shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use floe_common::queue::TaskQueue;
use floe_proto::v1::runs_server::RunsServer;
use floe_proto::v1::tasks_server::TasksServer;
use tracing::{info, warn};

use crate::grpc::{RunsApi, TasksApi};
use crate::ledger::Ledger;
use crate::queue::SqliteQueue;
use crate::service::{Coordinator, CoordinatorConfig};
use crate::CoordinatorError;

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    /// Folder of the ledger and the embedded queue.
    pub state_dir: PathBuf,
    /// Deliveries before a task is dead-lettered.
    pub max_attempts: u32,
    pub coordinator: CoordinatorConfig,
}

/// Opens the durable state and builds the coordinator.
pub async fn open(config: &ServeConfig) -> Result<Arc<Coordinator>, CoordinatorError> {
    std::fs::create_dir_all(&config.state_dir).map_err(|e| CoordinatorError::Ledger {
        path: config.state_dir.display().to_string(),
        message: e.to_string(),
    })?;
    let ledger = Ledger::open(&config.state_dir.join("ledger.db")).await?;
    let queue: Arc<dyn TaskQueue> =
        Arc::new(SqliteQueue::open(&config.state_dir.join("queue.db"), config.max_attempts).await?);
    let coordinator = Coordinator::new(ledger, queue, config.coordinator.clone());
    // Repairs a submit interrupted between recording a run and enqueueing it.
    coordinator.resume().await?;
    Ok(Arc::new(coordinator))
}

/// Serves until `shutdown` resolves; in-flight requests finish first.
pub async fn serve(
    coordinator: Arc<Coordinator>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), CoordinatorError> {
    let reconciler = tokio::spawn(reconcile_loop(coordinator.clone()));
    info!(addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "coordinator listening");
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let result = tonic::transport::Server::builder()
        .add_service(RunsServer::new(RunsApi(coordinator.clone())))
        .add_service(TasksServer::new(TasksApi(coordinator)))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await;
    reconciler.abort();
    result.map_err(|e| CoordinatorError::Serve(e.to_string()))
}

/// Moves dead-lettered tasks into the ledger, so runs end.
async fn reconcile_loop(coordinator: Arc<Coordinator>) {
    loop {
        if let Err(e) = coordinator.reconcile_dead_letters().await {
            warn!(error = %e, "reconciling dead letters failed; will retry");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
