use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use floe_common::contract::{ContractCache, WarehouseContracts};
use floe_common::task::TaskEnv;
use floe_process::CatalogArgs;
use floe_queue::sqs::SqsQueue;
use floe_worker::feed::{CoordinatorFeed, QueueFeed, TaskFeed};
use floe_worker::{run_worker, WorkerConfig};

/// A stateless Floe worker: takes tasks (from the coordinator or SQS), commits them,
/// and reports them to the coordinator.
#[derive(Parser)]
#[command(name = "floe-worker", version)]
struct Cli {
    /// The coordinator's gRPC address.
    #[arg(
        long,
        env = "FLOE_COORDINATOR",
        default_value = "http://127.0.0.1:50051"
    )]
    coordinator: String,
    #[command(flatten)]
    security: floe_proto::security::WorkerClientArgs,
    #[command(flatten)]
    signing: floe_proto::security::SigningArgs,
    /// Task inputs must lie under one of these (comma-separated folders or
    /// s3:// prefixes; the coordinator's --bronze). Unset: anywhere.
    #[arg(long, env = "FLOE_BRONZE_ROOT")]
    bronze_root: Option<String>,
    #[command(flatten)]
    catalog: CatalogArgs,
    /// Take tasks from this SQS queue directly instead of leasing them through the
    /// coordinator (which is then only told of outcomes).
    #[arg(long, env = "FLOE_SQS_QUEUE")]
    sqs_queue: Option<String>,
    /// Tasks reading, validating and writing at once; behind each, one more task
    /// may be committing.
    #[arg(long, env = "FLOE_WORKER_CONCURRENCY", default_value_t = 1)]
    concurrency: usize,
    /// Seconds a lease hides a task; heartbeats renew it.
    #[arg(long, env = "FLOE_VISIBILITY_SECONDS", default_value_t = 60)]
    visibility_seconds: u64,
    /// Seconds in-flight tasks get to finish after SIGTERM before they are released.
    #[arg(long, env = "FLOE_GRACE_SECONDS", default_value_t = 100)]
    grace_seconds: u64,
    /// A task running longer than this (90s, 30m, 2h) is abandoned and fails as
    /// timed out: retried, and dead-lettered after its last attempt.
    #[arg(long, env = "FLOE_TASK_TIME_LIMIT", value_parser = age, default_value = "2h")]
    task_time_limit: Duration,
    /// A task that failed with a retryable error is delivered again after a wait
    /// of about this, doubling per attempt (with jitter, up to 15m); 0s: at once.
    #[arg(long, env = "FLOE_RETRY_BACKOFF", value_parser = backoff, default_value = "10s")]
    retry_backoff: Duration,
    /// Memory (MiB) one Gold task's joins, aggregations and sorts may hold at
    /// once; a model needing more fails with a message saying so.
    #[arg(long, env = "FLOE_GOLD_MEMORY_MB", default_value_t = floe_gold::Limits::DEFAULT_MEMORY_MB)]
    gold_memory_mb: usize,
    /// Memory (MiB) one task's dedupe keys may hold (about 24 bytes a key);
    /// past it they spill to sorted runs under --spill-dir.
    #[arg(long, env = "FLOE_DEDUPE_MEMORY_MB", default_value_t = floe_common::validate::KeyMemory::DEFAULT_MB)]
    dedupe_memory_mb: usize,
    /// A local folder for dedupe keys past --dedupe-memory-mb (default: the
    /// system's temporary folder).
    #[arg(long, env = "FLOE_SPILL_DIR")]
    spill_dir: Option<std::path::PathBuf>,
    /// Names this worker in logs (default: a random id).
    #[arg(long, env = "FLOE_WORKER_ID")]
    worker_id: Option<String>,
    /// Serve Prometheus metrics on http://ADDR/metrics (e.g. 0.0.0.0:9090).
    #[arg(long, env = "FLOE_METRICS_LISTEN")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Log lines as text (default) or JSON objects.
    #[arg(long, env = "FLOE_LOG_FORMAT", value_enum, default_value_t)]
    log_format: floe_process::telemetry::LogFormat,
    /// A TOML config file; its [worker] table sets any flag (see README).
    #[arg(long, env = "FLOE_CONFIG")]
    config: Option<PathBuf>,
}

fn age(text: &str) -> Result<Duration, String> {
    floe_common::contract::parse_age(text)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("`{text}` is not an age such as 90s, 30m or 2h"))
}

fn backoff(text: &str) -> Result<Duration, String> {
    floe_common::contract::parse_age(text)
        .ok_or_else(|| format!("`{text}` is not an age such as 0s, 10s or 1m"))
}

fn main() {
    let outcome = start();
    if let Err(e) = outcome {
        // Errors quote input (paths, values): shown with controls escaped.
        eprintln!("Error: {}", floe_common::printable(&format!("{e:?}")));
        std::process::exit(1);
    }
}

fn start() -> Result<()> {
    // The config file is applied as environment variables, before any thread starts.
    let args: Vec<String> = std::env::args().collect();
    floe_process::config::apply_config_file("worker", &args)?;
    floe_process::memory::limit_malloc_arenas();
    tokio::runtime::Runtime::new()?.block_on(run(args))
}

async fn run(args: Vec<String>) -> Result<()> {
    let cli = Cli::parse_from(args);
    let _telemetry = floe_process::telemetry::init("floe-worker", "info", cli.log_format);
    floe_process::metrics::register(floe_process::metrics::Role::Worker);
    if let Some(addr) = cli.metrics_listen {
        floe_process::metrics::serve(addr)
            .await
            .with_context(|| format!("cannot serve metrics on {addr}: is the port free?"))?;
    }
    let catalog_config = cli.catalog.config()?;
    let catalog = catalog_config
        .open()
        .await
        .with_context(|| format!("opening the catalog in {}", cli.catalog.describe()))?;
    let contracts = WarehouseContracts::new(catalog_config.warehouse_files().await?);
    let feed: Arc<dyn TaskFeed> = match &cli.sqs_queue {
        Some(name) => {
            let sdk = floe_lake::aws::load_config().await;
            let queue = SqsQueue::open(aws_sdk_sqs::Client::new(&sdk), name)
                .await
                .with_context(|| format!("opening the SQS queue {name}"))?;
            let keys = cli.signing.keys()?.context(
                "--sqs-queue needs the task signing key the coordinator signs with \
                 (FLOE_TASK_SIGNING_KEY or --task-signing-key-file): without it no message \
                 on the queue can be trusted",
            )?;
            Arc::new(QueueFeed::new(
                Arc::new(queue),
                keys,
                &cli.coordinator,
                &cli.security,
            )?)
        }
        None => Arc::new(CoordinatorFeed::connect(&cli.coordinator, &cli.security).await?),
    };
    let config = WorkerConfig {
        worker_id: cli.worker_id.unwrap_or_else(|| {
            format!("worker-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
        }),
        concurrency: cli.concurrency,
        visibility: Duration::from_secs(cli.visibility_seconds.max(1)),
        poll_wait: Duration::from_secs(10),
        grace: Duration::from_secs(cli.grace_seconds),
        task_time_limit: cli.task_time_limit,
        retry_backoff: floe_queue::backoff::Backoff::exponential(cli.retry_backoff),
        gold: floe_gold::Limits::memory_mb(cli.gold_memory_mb),
        bronze_roots: floe_common::task::BronzeRoots::parse(
            cli.bronze_root.as_deref().unwrap_or_default(),
        ),
        contracts: Arc::new(ContractCache::new(Arc::new(contracts))),
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        floe_process::shutdown::signal().await;
        tracing::info!("shutdown requested: no new tasks; finishing in-flight ones");
        let _ = tx.send(true);
    });
    let mut env = TaskEnv {
        // Off unless set: lets the end-to-end and chaos tests fail a task on purpose.
        fail_point: floe_common::task::FailPoint::from_env(),
        keys: floe_common::validate::KeyMemory::megabytes(cli.dedupe_memory_mb, cli.spill_dir),
        ..TaskEnv::new(catalog)
    };
    // Commits show in this worker's metrics (latency, retries).
    env.retry.observer = Some(floe_process::metrics::commit_observer());
    run_worker(config, feed, env, rx).await?;
    Ok(())
}
