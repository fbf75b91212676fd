//! The command line: flags, `FLOE_*` variables and a config file (see
//! `floe_process::config`), with embedded defaults.
//!
//! Commands come in two kinds, and each lives in its own folder:
//! - [`via_coordinator`]: `submit`, `pipeline`, `status`, `runs`, `queue`, `cancel`,
//!   `publish`, `discard`, `diff`, `rollback`, `reprocess`, `condemned`, `gold`. They change or read runs,
//!   so they go through the coordinator's gRPC API: its ledger must record them
//!   (a rollback marks runs rolled back; a pass is a run workers execute), and
//!   it refuses what would race a run in flight.
//! - [`on_catalog`]: `history`, `summarize`, `sql`, `compact`, `expire`,
//!   `remove-orphans`. They read tables, or change them only through the commit
//!   protocol, which is safe beside running tasks without the ledger; so they
//!   open the catalog directly and work while no coordinator runs.
//!
//! `serve` runs the coordinator itself; `generate` writes sample Bronze files.

mod on_catalog;
mod serve;
mod via_coordinator;

use on_catalog::{history, maintenance, sql, table_summary, trace};
use via_coordinator::{gold, output, quarantine, rollback, submit, Remote};

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "floe-coordinator",
    version,
    about = "Floe: Bronze files to validated Iceberg tables",
    after_help = "Through the coordinator (it records them in its run ledger): submit, status, \
                  runs, queue, cancel, publish, discard, diff, rollback, reprocess, condemned, gold.\n\
                  On the catalog directly (no coordinator needed): history, summarize, sql, \
                  compact, expire, remove-orphans."
)]
struct Cli {
    /// A TOML config file; its [coordinator] table sets any flag (see README).
    #[arg(long, global = true, env = "FLOE_CONFIG")]
    config: Option<PathBuf>,
    /// Log lines as text (default) or JSON objects.
    #[arg(
        long,
        global = true,
        env = "FLOE_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    log_format: floe_process::telemetry::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the coordinator: run ledger, embedded queue and gRPC API.
    Serve(Box<serve::ServeArgs>),
    // Through the coordinator: it records them in its run ledger.
    /// Plans a run and enqueues its tasks; prints the run id.
    Submit(submit::SubmitArgs),
    /// Registered pipelines: apply a contract as a new version, list, show, diff.
    Pipeline {
        #[command(subcommand)]
        command: via_coordinator::pipeline::PipelineCommand,
    },
    /// Shows a run (the newest when no id is given).
    Status {
        run_id: Option<String>,
        #[arg(long)]
        json: bool,
        /// Tasks read per request (a run of any size is read in pages).
        #[arg(long, default_value_t = via_coordinator::fetch::PAGE_SIZE)]
        page_size: u32,
        #[command(flatten)]
        remote: Remote,
    },
    /// Lists recent runs.
    Runs {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Shows the task queue's depth: waiting, taken by a worker, dead letters.
    Queue {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Cancels a run: queued tasks are dropped, running ones stop and are released.
    Cancel {
        run_id: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Approves the publish of a staged run awaiting approval (`publish =
    /// "manual"`) and follows it until it is published.
    Publish {
        run_id: String,
        /// The decision itself: required.
        #[arg(long)]
        approve: bool,
        /// Who approves: recorded in the ledger and in every publish snapshot.
        #[arg(long, default_value = "")]
        approved_by: String,
        /// Why: recorded beside the name.
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// What publishing a staged run changes (or changed) on each table, per
    /// partition: rows before and after, and column sums.
    Diff {
        run_id: String,
        /// A column to sum where a table has it (repeatable); default: every
        /// decimal column.
        #[arg(long = "sum")]
        sum: Vec<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Discards a staged run awaiting approval, or failed: it is never
    /// published and its branches are removed.
    Discard {
        run_id: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Moves a table's main branch back to an ancestor snapshot (one atomic
    /// commit) and marks the runs it discards as rolled back. Refuses to discard
    /// later runs unless --force. Exit code 2 when refused.
    Rollback(rollback::RollbackArgs),
    /// Re-validates the quarantined rows of some days against the contract as it
    /// is now: rows that pass go to Silver and leave quarantine, the others stay
    /// with attempt_count raised; at 3 attempts a row is condemned.
    Reprocess(quarantine::ReprocessArgs),
    /// The condemned table: `release` sends exhausted rows back to quarantine.
    Condemned {
        #[command(subcommand)]
        command: quarantine::CondemnedCommand,
    },
    /// Gold models: `rebuild` computes some days' partitions again from the
    /// current tables (after a Silver rollback or an interrupted reprocess).
    Gold {
        #[command(subcommand)]
        command: gold::GoldCommand,
    },
    // On the catalog directly: no coordinator needed.
    /// A table's snapshots, newest first: time, operation, run and task, rows and
    /// files added and removed, and which is current.
    History(history::HistoryArgs),
    /// Where a dedupe key's rows came from: in Silver, the Bronze file and line,
    /// run, task, attempt, contract version, snapshot and trace id; if
    /// quarantined or condemned instead, where and why.
    Trace(trace::TraceArgs),
    /// Reads a table back and prints rows and a sum per day.
    Summarize(table_summary::SummarizeArgs),
    /// Runs a SQL query over the catalog's tables (Silver, Gold, quarantine...)
    /// with DataFusion; --as-of reads them as of a snapshot or a time.
    Sql(sql::SqlArgs),
    /// Rewrites each partition's small files (per run) into target-size files,
    /// in one replace snapshot per partition.
    Compact(maintenance::CompactArgs),
    /// Expires old snapshots and deletes the files only they reached.
    Expire(maintenance::ExpireArgs),
    /// Deletes files under the table's location that nothing references.
    RemoveOrphans(maintenance::OrphanArgs),
    // Local files only.
    /// Generates a month of sample Bronze transactions with a ground-truth manifest.
    Generate {
        #[arg(long, default_value = "lakehouse/bronze")]
        out: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        #[arg(long, default_value = "2025-01")]
        month: String,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value_t = 2)]
        files_per_day: u32,
    },
}

/// Runs the command; returns the process exit code.
pub async fn run(args: Vec<String>) -> Result<i32> {
    let cli = Cli::parse_from(args);
    let verbose = matches!(cli.command, Command::Serve(_));
    let _telemetry = floe_process::telemetry::init(
        "floe-coordinator",
        if verbose { "info" } else { "warn" },
        cli.log_format,
    );
    match cli.command {
        Command::Serve(args) => serve::serve(*args).await.map(|_| 0),
        Command::Submit(args) => submit::submit(args).await,
        Command::Pipeline { command } => via_coordinator::pipeline::run(command).await,
        Command::Status {
            run_id,
            json,
            page_size,
            remote,
        } => output::status(remote, run_id, json, page_size).await,
        Command::Runs {
            limit,
            json,
            remote,
        } => output::runs(remote, limit, json).await.map(|_| 0),
        Command::Queue { json, remote } => output::queue(remote, json).await.map(|_| 0),
        Command::Cancel {
            run_id,
            json,
            remote,
        } => output::cancel(remote, run_id, json).await.map(|_| 0),
        Command::Publish {
            run_id,
            approve,
            approved_by,
            reason,
            json,
            remote,
        } => {
            via_coordinator::publish::approve(remote, run_id, approve, approved_by, reason, json)
                .await
        }
        Command::Discard {
            run_id,
            json,
            remote,
        } => via_coordinator::publish::discard(remote, run_id, json).await,
        Command::Diff {
            run_id,
            sum,
            json,
            remote,
        } => via_coordinator::diff::diff(remote, run_id, sum, json)
            .await
            .map(|_| 0),
        Command::Generate {
            out,
            rows,
            month,
            seed,
            files_per_day,
        } => generate(out, rows, &month, seed, files_per_day).map(|_| 0),
        Command::Summarize(args) => table_summary::summarize(args).await.map(|_| 0),
        Command::History(args) => history::history(args).await.map(|_| 0),
        Command::Trace(args) => trace::trace(args).await,
        Command::Rollback(args) => rollback::rollback(args).await,
        Command::Compact(args) => maintenance::run_compact(args).await.map(|_| 0),
        Command::Expire(args) => maintenance::run_expire(args).await.map(|_| 0),
        Command::RemoveOrphans(args) => maintenance::run_remove_orphans(args).await.map(|_| 0),
        Command::Sql(args) => sql::sql(args).await.map(|_| 0),
        Command::Reprocess(args) => quarantine::reprocess(args).await.map(|_| 0),
        Command::Condemned { command } => quarantine::condemned(command).await.map(|_| 0),
        Command::Gold { command } => gold::gold(command).await.map(|_| 0),
    }
}

fn generate(out: PathBuf, rows: u64, month: &str, seed: u64, files_per_day: u32) -> Result<()> {
    use chrono::Datelike;
    let p = floe_coordinator::period::Period::parse(month)?;
    let cfg = floe_sample::SampleConfig {
        seed,
        rows,
        year: p.first.year(),
        month: p.first.month(),
        files_per_day,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let truth = floe_sample::generate(&out, &cfg).context("generating sample data")?;
    println!(
        "generated {} rows ({} valid, {} bad, {} duplicates) in {} files under {} in {:.1}s",
        truth.totals.rows,
        truth.totals.valid,
        truth.totals.bad,
        truth.totals.duplicates,
        truth.days.values().map(|d| d.files.len()).sum::<usize>(),
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A size given in MiB (fractions allowed) in bytes, at least one.
pub(crate) fn mib_to_bytes(mib: f64) -> u64 {
    ((mib * 1024.0 * 1024.0) as u64).max(1)
}
