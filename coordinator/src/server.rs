//! `coordinator serve`: the ledger, the task queue (embedded or SQS) and the gRPC
//! services, with graceful shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use floe_lake::catalog::CatalogConfig;
use floe_proto::security::{RequireRole, Role, ServerSecurity};
use floe_proto::v1::pipelines_server::PipelinesServer;
use floe_proto::v1::runs_server::RunsServer;
use floe_proto::v1::tasks_server::TasksServer;
use floe_queue::sqs::SqsQueue;
use floe_queue::TaskQueue;
use tracing::{info, warn};

use crate::embedded_queue::SqliteQueue;
use crate::grpc::{PipelinesApi, RunsApi, TasksApi};
use crate::ledger::Ledger;
use crate::service::{Coordinator, CoordinatorConfig};
use crate::CoordinatorError;

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    /// Folder of the ledger and the embedded queue.
    pub state_dir: PathBuf,
    /// Deliveries before a task is dead-lettered.
    pub max_attempts: u32,
    pub queue: QueueConfig,
    /// The catalog the workers commit to: the ledger is reconciled from its
    /// tables' snapshot summaries. None turns that off.
    pub catalog: Option<CatalogConfig>,
    pub coordinator: CoordinatorConfig,
    pub ticks: BackgroundTicks,
}

/// How often the coordinator's background loops look for work.
#[derive(Debug, Clone, Copy)]
pub struct BackgroundTicks {
    /// Pipelines due for scheduled maintenance.
    pub maintenance: Duration,
    /// Registered pipelines whose `[schedule]` has a tick due.
    pub schedule: Duration,
}

/// Where tasks are queued.
#[derive(Debug, Clone)]
pub enum QueueConfig {
    /// A SQLite queue in the state folder (the embedded default).
    Embedded,
    /// The SQS queue of this name and its dead letter queue `<name>-dead`, created
    /// if absent with a redrive policy of `max_attempts` receives.
    Sqs { name: String },
}

/// How often the ledger is compared with the tables.
const TABLE_RECONCILE_EVERY: Duration = Duration::from_secs(5);
/// How often continuous pipelines are looked at (each is listed every
/// `source.poll`).
const WATCH_EVERY: Duration = Duration::from_secs(1);
/// How often the gauges (queue depth, tasks by state, workers) are refreshed.
const METRICS_EVERY: Duration = Duration::from_secs(2);

/// Opens the durable state and builds the coordinator.
pub async fn open(config: &ServeConfig) -> Result<Arc<Coordinator>, CoordinatorError> {
    std::fs::create_dir_all(&config.state_dir).map_err(|e| CoordinatorError::Ledger {
        path: config.state_dir.display().to_string(),
        message: e.to_string(),
    })?;
    let ledger = Ledger::open(&config.state_dir.join("ledger.db")).await?;
    let queue: Arc<dyn TaskQueue> = match &config.queue {
        QueueConfig::Embedded => Arc::new(
            SqliteQueue::open(&config.state_dir.join("queue.db"), config.max_attempts).await?,
        ),
        QueueConfig::Sqs { name } => {
            let sdk = floe_lake::aws::load_config().await;
            let client = aws_sdk_sqs::Client::new(&sdk);
            Arc::new(SqsQueue::create(client, name, config.max_attempts).await?)
        }
    };
    let mut coordinator = Coordinator::new(ledger, queue, config.coordinator.clone());
    if let Some(catalog) = &config.catalog {
        coordinator = coordinator.with_catalog(catalog.clone());
    }
    // Repairs a submit interrupted between recording a run and enqueueing it.
    coordinator.resume().await?;
    Ok(Arc::new(coordinator))
}

/// Serves until `shutdown` resolves; in-flight requests finish first.
pub async fn serve(
    coordinator: Arc<Coordinator>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ticks: BackgroundTicks,
    security: ServerSecurity,
) -> Result<(), CoordinatorError> {
    let reconciler = tokio::spawn(reconcile_loop(coordinator.clone()));
    // Stopping mid-pass is safe: maintenance commits are atomic, and the files of
    // an unfinished compaction are orphans that a later pass removes.
    let maintainer = tokio::spawn(crate::maintenance_schedule::schedule_loop(
        coordinator.clone(),
        ticks.maintenance,
    ));
    // Stopping between a scheduled submit and its record is safe: the run and
    // its tick are recorded in one transaction, or neither is.
    let scheduler = tokio::spawn(crate::schedule::schedule_loop(
        coordinator.clone(),
        ticks.schedule,
    ));
    // Likewise for an append: its run and its files' taking are one transaction.
    let watcher = tokio::spawn(crate::continuous::watch_loop(
        coordinator.clone(),
        WATCH_EVERY,
    ));
    info!(addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "coordinator listening");
    // Without TCP_NODELAY a reply's trailers wait for the peer's delayed ACK
    // (about 40 ms on Linux): every lease and report would stall that long.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = security.tls {
        builder = builder
            .tls_config(tls)
            .map_err(|e| CoordinatorError::Serve(format!("the TLS certificate or key: {e}")))?;
    }
    // Runs (submit, cancel, rollback, ...) need the operator; Tasks the worker.
    let operator = RequireRole::new(security.tokens.clone(), Role::Operator);
    let worker = RequireRole::new(security.tokens, Role::Worker);
    let result = builder
        .add_service(RunsServer::with_interceptor(
            RunsApi(coordinator.clone()),
            operator.clone(),
        ))
        .add_service(PipelinesServer::with_interceptor(
            PipelinesApi(coordinator.clone()),
            operator,
        ))
        .add_service(TasksServer::with_interceptor(TasksApi(coordinator), worker))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await;
    reconciler.abort();
    maintainer.abort();
    scheduler.abort();
    watcher.abort();
    result.map_err(|e| CoordinatorError::Serve(e.to_string()))
}

/// Moves dead-lettered tasks into the ledger, so runs end; every few seconds,
/// records the tasks whose commits are in the tables but not in the ledger and
/// refreshes the metrics.
async fn reconcile_loop(coordinator: Arc<Coordinator>) {
    let mut last_table_check = tokio::time::Instant::now();
    let mut last_metrics: Option<tokio::time::Instant> = None;
    loop {
        if last_metrics.is_none_or(|t| t.elapsed() >= METRICS_EVERY) {
            last_metrics = Some(tokio::time::Instant::now());
            if let Err(e) = coordinator.refresh_metrics().await {
                warn!(error = %e, "refreshing the metrics failed; will retry");
            }
        }
        if let Err(e) = coordinator.reconcile_dead_letters().await {
            warn!(error = %e, "reconciling dead letters failed; will retry");
        }
        // Also catches Gold tasks whose last dependency was recorded by a
        // path that does not release them (reconciliation from the tables).
        if let Err(e) = coordinator.release_all_waiting().await {
            warn!(error = %e, "enqueueing ready Gold tasks failed; will retry");
        }
        if let Err(e) = coordinator.publish_all_ready().await {
            warn!(error = %e, "publishing staged runs failed; will retry");
        }
        if last_table_check.elapsed() >= TABLE_RECONCILE_EVERY {
            last_table_check = tokio::time::Instant::now();
            if let Err(e) = coordinator.reconcile_from_tables().await {
                warn!(error = %e, "reconciling the ledger from the tables failed; will retry");
            }
        }
        // A run that just finished its tasks is published now, not on the next tick.
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = coordinator.publish_wanted() => {}
        }
    }
}
