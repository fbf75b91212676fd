//! `rollback`: moves a table's `main` back to an ancestor snapshot through the
//! coordinator, which marks the discarded runs rolled back in its ledger.

use anyhow::{bail, Context, Result};
use clap::{ArgGroup, Args};
use floe_lake::commit::rollback::RollbackOutcome;
use floe_proto::v1 as pb;
use pb::rollback_table_request::Target;

use super::Remote;

#[derive(Args)]
#[command(group(ArgGroup::new("target").required(true).args(["to_snapshot", "to_time", "before_run"])))]
pub struct RollbackArgs {
    /// namespace.table
    #[arg(long)]
    table: String,
    /// Roll back to this snapshot (an ancestor of the current one).
    #[arg(long)]
    to_snapshot: Option<i64>,
    /// Roll back to the table as it was at this time: RFC 3339
    /// (2025-02-01T12:00:00Z), `YYYY-MM-DD HH:MM:SS` in UTC, or ms since the epoch.
    #[arg(long)]
    to_time: Option<String>,
    /// Undo this run: roll back to just before its first snapshot.
    #[arg(long)]
    before_run: Option<String>,
    /// Also discard the snapshots of runs that committed later.
    #[arg(long)]
    force: bool,
    /// Only print what would change.
    #[arg(long)]
    dry_run: bool,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: Remote,
}

/// Parses `--to-time`.
pub fn parse_time(text: &str) -> Result<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    bail!("`{text}` is not a time: use RFC 3339 (2025-02-01T12:00:00Z), `YYYY-MM-DD HH:MM:SS` (UTC) or ms since the epoch")
}

pub async fn rollback(a: RollbackArgs) -> Result<i32> {
    let target = match (a.to_snapshot, &a.to_time, &a.before_run) {
        (Some(id), _, _) => Target::SnapshotId(id),
        (_, Some(t), _) => Target::TimeMs(parse_time(t)?),
        (_, _, Some(run)) => Target::BeforeRun(run.clone()),
        _ => unreachable!("clap requires one target"),
    };
    let mut client = a.remote.connect().await?;
    let response = client
        .rollback_table(pb::RollbackTableRequest {
            table: a.table.clone(),
            target: Some(target),
            force: a.force,
            dry_run: a.dry_run,
        })
        .await;
    let response = match response {
        Ok(r) => r.into_inner(),
        Err(status) if status.code() == tonic::Code::FailedPrecondition => {
            eprintln!("{}", status.message());
            return Ok(2);
        }
        Err(status) => {
            return Err(anyhow::anyhow!("{}", status.message()))
                .with_context(|| format!("rolling back {}", a.table))
        }
    };
    let outcome = RollbackOutcome::from(&response);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        print_outcome(&outcome);
    }
    Ok(0)
}

fn print_outcome(o: &RollbackOutcome) {
    let p = &o.plan;
    if p.discarded.is_empty() {
        println!(
            "{} is already at snapshot {}: nothing to roll back",
            p.table, p.to_snapshot
        );
        return;
    }
    let verb = if o.applied {
        "rolled back"
    } else {
        "would roll back"
    };
    println!(
        "{}: {verb} main from snapshot {} to {}",
        p.table, p.from_snapshot, p.to_snapshot
    );
    println!(
        "  rows: -{} +{} (files: -{} +{})",
        p.changes.rows_removed,
        p.changes.rows_restored,
        p.changes.files_removed,
        p.changes.files_restored
    );
    println!("  partitions changed: {}", p.changes.partitions.join(", "));
    println!(
        "  snapshots discarded: {}",
        p.discarded
            .iter()
            .map(|e| e.snapshot_id.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !p.runs.is_empty() {
        let marked = if o.applied {
            "marked rolled back"
        } else {
            "would be marked rolled back"
        };
        println!("  runs {marked}: {}", p.runs.join(", "));
    }
}
