//! Prometheus metrics. One registry per process; each binary registers the
//! metrics of its role ([`Role`]) and serves them with [`serve`]. Labels are
//! bounded sets (outcomes, states): never run or task ids.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock};

use floe_lake::commit::CommitObserver;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Which metrics a process exposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Coordinator,
    Worker,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `valid`, `quarantined` or `condemned`.
    pub outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// `succeeded`, `failed` or `released`.
    pub result: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// `unsigned`, `unknown_key`, `bad_signature` or `not_a_task`.
    pub reason: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PipelineLabel {
    /// A registered pipeline (a bounded set, chosen by the operator).
    pub pipeline: String,
}

/// Every metric Floe records; a process registers those of its role.
#[derive(Debug)]
pub struct Metrics {
    // Workers.
    pub rows: Family<OutcomeLabel, Counter>,
    pub bytes_read: Counter,
    pub tasks_finished: Family<ResultLabel, Counter>,
    pub commit_seconds: Histogram,
    pub commit_retries: Counter,
    pub lease_extensions: Counter,
    /// Both roles: queue messages refused unread and dead-lettered.
    pub messages_refused: Family<ReasonLabel, Counter>,
    // Coordinator.
    pub tasks: Family<StateLabel, Gauge>,
    pub queue_visible: Gauge,
    pub queue_in_flight: Gauge,
    pub queue_dead: Gauge,
    pub workers: Gauge,
    pub backlog_per_worker: Gauge<f64, AtomicU64>,
    /// Continuous pipelines: new files waiting to be appended...
    pub files_pending: Family<PipelineLabel, Gauge>,
    /// ...and loaded files found changed since (reported, not loaded again).
    pub files_changed: Family<PipelineLabel, Counter>,
    /// Freshness, per registered pipeline: since the last load finished...
    pub last_load_age_seconds: Family<PipelineLabel, Gauge>,
    /// ...since the newest file loaded was first seen...
    pub newest_file_age_seconds: Family<PipelineLabel, Gauge>,
    /// ...since the end of the newest day partition loaded...
    pub newest_partition_age_seconds: Family<PipelineLabel, Gauge>,
    /// ...and 1 while the contract's `[freshness]` is missed.
    pub freshness_missed: Family<PipelineLabel, Gauge>,
    /// How many registered pipelines miss their `[freshness]`: one alarm
    /// for all of them.
    pub pipelines_stale: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            rows: Family::default(),
            bytes_read: Counter::default(),
            tasks_finished: Family::default(),
            commit_seconds: Histogram::new(exponential_buckets(0.005, 2.0, 14)),
            commit_retries: Counter::default(),
            lease_extensions: Counter::default(),
            messages_refused: Family::default(),
            tasks: Family::default(),
            queue_visible: Gauge::default(),
            queue_in_flight: Gauge::default(),
            queue_dead: Gauge::default(),
            workers: Gauge::default(),
            backlog_per_worker: Gauge::default(),
            files_pending: Family::default(),
            files_changed: Family::default(),
            last_load_age_seconds: Family::default(),
            newest_file_age_seconds: Family::default(),
            newest_partition_age_seconds: Family::default(),
            freshness_missed: Family::default(),
            pipelines_stale: Gauge::default(),
        }
    }
}

static METRICS: OnceLock<Metrics> = OnceLock::new();
static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();

/// The process's metrics (recording is harmless before [`register`]).
pub fn metrics() -> &'static Metrics {
    METRICS.get_or_init(Metrics::default)
}

/// Hands the commit loop's reports (latency, retries) to [`metrics`].
#[derive(Debug)]
struct CommitMetrics;

impl CommitObserver for CommitMetrics {
    fn commit_finished(&self, seconds: f64) {
        metrics().commit_seconds.observe(seconds);
    }

    fn commit_retried(&self) {
        metrics().commit_retries.inc();
    }
}

/// The observer a process gives its commits so they show in its metrics.
pub fn commit_observer() -> Arc<dyn CommitObserver> {
    Arc::new(CommitMetrics)
}

fn registry() -> &'static Mutex<Registry> {
    REGISTRY.get_or_init(|| Mutex::new(Registry::with_prefix("floe")))
}

/// Registers the metrics of `role`; call once per process.
pub fn register(role: Role) {
    let m = metrics();
    let mut r = registry().lock().expect("metrics registry");
    r.register(
        "messages_refused",
        "Queue messages refused and dead-lettered unread (not signed by the coordinator), by reason",
        m.messages_refused.clone(),
    );
    match role {
        Role::Worker => {
            r.register("rows", "Rows committed, by outcome", m.rows.clone());
            r.register("bytes_read", "Bytes of input read", m.bytes_read.clone());
            r.register(
                "tasks_finished",
                "Tasks this worker finished, by result",
                m.tasks_finished.clone(),
            );
            r.register(
                "commit_seconds",
                "Time of one table commit, retries included",
                m.commit_seconds.clone(),
            );
            r.register(
                "commit_retries",
                "Commit attempts that lost a race or had an unknown outcome",
                m.commit_retries.clone(),
            );
            r.register(
                "lease_extensions",
                "Lease renewals (heartbeats) sent",
                m.lease_extensions.clone(),
            );
        }
        Role::Coordinator => {
            r.register(
                "files_pending",
                "New Bronze files of a continuous pipeline waiting to be appended",
                m.files_pending.clone(),
            );
            r.register(
                "last_load_age_seconds",
                "Seconds since a registered pipeline's last load or append finished",
                m.last_load_age_seconds.clone(),
            );
            r.register(
                "newest_file_age_seconds",
                "Seconds since the newest file a registered pipeline loaded was first seen",
                m.newest_file_age_seconds.clone(),
            );
            r.register(
                "newest_partition_age_seconds",
                "Seconds since the end of the newest day partition a registered pipeline loaded",
                m.newest_partition_age_seconds.clone(),
            );
            r.register(
                "freshness_missed",
                "1 while a registered pipeline misses its contract's [freshness] expectation",
                m.freshness_missed.clone(),
            );
            r.register(
                "pipelines_stale",
                "Registered pipelines missing their contract's [freshness] expectation",
                m.pipelines_stale.clone(),
            );
            r.register(
                "files_changed",
                "Loaded Bronze files found with another content since (not loaded again)",
                m.files_changed.clone(),
            );
            r.register(
                "tasks",
                "Tasks of unfinished runs, by state",
                m.tasks.clone(),
            );
            r.register(
                "queue_visible",
                "Tasks waiting on the queue",
                m.queue_visible.clone(),
            );
            r.register(
                "queue_in_flight",
                "Tasks taken by a worker and not yet acknowledged",
                m.queue_in_flight.clone(),
            );
            r.register(
                "queue_dead",
                "Tasks on the dead letter queue",
                m.queue_dead.clone(),
            );
            r.register(
                "workers",
                "Workers seen in the last minute",
                m.workers.clone(),
            );
            r.register(
                "backlog_per_worker",
                "Waiting tasks per running worker (the autoscaling signal)",
                m.backlog_per_worker.clone(),
            );
        }
    }
}

/// Counts a queue message refused for `reason`.
pub fn message_refused(reason: &str) {
    metrics()
        .messages_refused
        .get_or_create(&ReasonLabel {
            reason: reason.into(),
        })
        .inc();
}

/// The registered metrics in the Prometheus text format.
pub fn render() -> String {
    let mut out = String::new();
    let r = registry().lock().expect("metrics registry");
    encode(&mut out, &r).expect("writing to a String cannot fail");
    out
}

/// Serves `GET /metrics` on `addr` until the process ends; returns the bound address.
pub async fn serve(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async {
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )],
                render(),
            )
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "the metrics endpoint stopped");
        }
    });
    tracing::info!(addr = %bound, "serving metrics on /metrics");
    Ok(bound)
}

/// Counts a task this worker finished with `result`.
pub fn task_finished(result: &str) {
    metrics()
        .tasks_finished
        .get_or_create(&ResultLabel {
            result: result.into(),
        })
        .inc();
}
