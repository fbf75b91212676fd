use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use floe_common::task::TaskCodec;
use floe_coordinator::server::{self, BackgroundTicks, QueueConfig, ServeConfig};
use floe_coordinator::service::CoordinatorConfig;
use floe_lake::storage;
use floe_process::CatalogArgs;

#[derive(Args)]
pub struct ServeArgs {
    /// Address of the gRPC API.
    #[arg(long, env = "FLOE_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Folder of the run ledger and the embedded queue (SQLite files).
    #[arg(long, env = "FLOE_STATE_DIR", default_value = "lakehouse/coordinator")]
    state_dir: PathBuf,
    /// Root of the Bronze files, a folder or `s3://BUCKET/PREFIX`; contract
    /// locations are relative to it.
    #[arg(long, env = "FLOE_BRONZE", default_value = "lakehouse/bronze")]
    bronze: String,
    /// Deliveries of a task before it is dead-lettered.
    #[arg(long, env = "FLOE_MAX_ATTEMPTS", default_value_t = 3)]
    max_attempts: u32,
    /// Queue tasks on this SQS queue (created with its dead letter queue
    /// `<name>-dead` if absent) instead of the embedded queue.
    #[arg(long, env = "FLOE_SQS_QUEUE")]
    sqs_queue: Option<String>,
    /// The workers' catalog: the ledger is reconciled from its tables' snapshots.
    #[command(flatten)]
    catalog: CatalogArgs,
    /// Largest task, in MiB of input (fractions allowed, e.g. 0.5); bigger
    /// partitions are split by file groups.
    #[arg(long, env = "FLOE_TARGET_TASK_MB", default_value_t = 256.0)]
    target_task_mb: f64,
    /// Serve Prometheus metrics on http://ADDR/metrics (e.g. 0.0.0.0:9090).
    #[arg(long, env = "FLOE_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// How often pipelines with a `[maintenance]` policy are checked for a due pass.
    #[arg(long, env = "FLOE_MAINTENANCE_TICK_SECONDS", default_value_t = 60)]
    maintenance_tick_seconds: u64,
    /// How often registered pipelines with a `[schedule]` are checked for a
    /// due tick.
    #[arg(long, env = "FLOE_SCHEDULE_TICK_SECONDS", default_value_t = 10)]
    schedule_tick_seconds: u64,
    /// Most days one run or pass may cover; a longer period is refused.
    #[arg(long, env = "FLOE_MAX_PERIOD_DAYS", default_value_t = floe_coordinator::period::DEFAULT_MAX_DAYS)]
    max_period_days: usize,
    #[command(flatten)]
    security: floe_proto::security::ServerArgs,
    #[command(flatten)]
    signing: floe_proto::security::SigningArgs,
}

pub async fn serve(args: ServeArgs) -> Result<()> {
    let security = args.security.load(args.listen)?;
    if security.tokens.is_none() {
        tracing::warn!(
            "--allow-unauthenticated: anyone who can reach {} may submit runs and take tasks",
            args.listen
        );
    }
    let bronze = if storage::is_s3(&args.bronze) {
        args.bronze
    } else {
        let local = std::fs::canonicalize(&args.bronze).unwrap_or(args.bronze.into());
        local.display().to_string()
    };
    let codec = args.signing.codec()?;
    if args.sqs_queue.is_some() && matches!(codec, TaskCodec::Plain) {
        anyhow::bail!(
            "--sqs-queue needs a task signing key (FLOE_TASK_SIGNING_KEY or --task-signing-key-file, \
             e.g. `openssl rand -hex 32`, the same for the workers): anyone who can send to the \
             queue could otherwise hand the workers tasks"
        );
    }
    let config = ServeConfig {
        listen: args.listen,
        state_dir: args.state_dir,
        max_attempts: args.max_attempts.max(1),
        queue: match args.sqs_queue {
            Some(name) => QueueConfig::Sqs { name },
            None => QueueConfig::Embedded,
        },
        catalog: Some(args.catalog.config()?),
        coordinator: CoordinatorConfig {
            bronze,
            store: Arc::new(storage::Bronze::default()),
            target_task_bytes: super::mib_to_bytes(args.target_task_mb),
            max_wait: Duration::from_secs(20),
            max_period_days: args.max_period_days,
            codec,
        },
        ticks: BackgroundTicks {
            maintenance: Duration::from_secs(args.maintenance_tick_seconds.max(1)),
            schedule: Duration::from_secs(args.schedule_tick_seconds.max(1)),
        },
    };
    floe_process::metrics::register(floe_process::metrics::Role::Coordinator);
    if let Some(addr) = args.metrics_listen {
        floe_process::metrics::serve(addr)
            .await
            .with_context(|| format!("cannot serve metrics on {addr}: is the port free?"))?;
    }
    let coordinator = server::open(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}: is another coordinator running?",
                config.listen
            )
        })?;
    // Tests bind port 0 and read the chosen address from this line.
    println!("listening on {}", listener.local_addr()?);
    server::serve(
        coordinator,
        listener,
        shutdown_signal(),
        config.ticks,
        security,
    )
    .await?;
    Ok(())
}

async fn shutdown_signal() {
    floe_process::shutdown::signal().await;
    tracing::info!("shutting down");
}
