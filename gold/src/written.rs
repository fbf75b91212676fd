//! The second half of a Gold task: its partition's files are written, and one
//! commit replaces the partition with them. A worker lets its next task read
//! and query while this one commits.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use floe_common::contract::TableName;
use floe_common::task::{TaskEnv, TaskReport, TaskStats, TaskTimings};
use floe_lake::commit::{self, CommitOutcome, CommitRequest};
use iceberg::table::Table;
use tracing::{info, Instrument, Span};

/// A Gold partition rebuilt and written, not yet committed.
#[derive(Debug)]
pub struct WrittenGold {
    pub(crate) table: Table,
    pub(crate) request: CommitRequest,
    pub(crate) rows: u64,
    pub(crate) partition: String,
    /// Reading, querying, testing and writing.
    pub(crate) work: Duration,
    /// What the phases of `work` took, for the log.
    pub(crate) phases_ms: [u64; 4],
    /// The task's span: the commit is logged in it too.
    pub(crate) span: Span,
}

impl WrittenGold {
    /// Replaces the partition with the written files in one commit. Files a
    /// newer run made useless (it rebuilt the partition since) are deleted.
    pub async fn commit(self, env: &TaskEnv) -> floe_common::Result<TaskReport> {
        let span = self.span.clone();
        self.commit_in_span(env).instrument(span).await
    }

    async fn commit_in_span(self, env: &TaskEnv) -> floe_common::Result<TaskReport> {
        let started = Instant::now();
        let request = &self.request;
        let outcome = match commit::commit(env.catalog.as_ref(), request, &env.retry).await {
            Err(e @ floe_lake::LakeError::Superseded { .. }) => {
                for f in &request.data_files {
                    let _ = self.table.file_io().delete(f.file_path()).await;
                }
                return Err(crate::GoldError::from(e).into());
            }
            other => other.map_err(crate::GoldError::from)?,
        };
        let commit_time = started.elapsed();
        let [inputs_ms, query_ms, tests_ms, write_ms] = self.phases_ms;
        info!(rows = self.rows, partition = %self.partition, ?outcome, inputs_ms, query_ms, tests_ms, write_ms, commit_ms = commit_time.as_millis() as u64, "gold partition rebuilt");
        Ok(report(
            &request.table,
            outcome,
            self.rows,
            request.data_files.len() as u64,
            self.work,
            commit_time,
        ))
    }
}

fn report(
    table: &TableName,
    outcome: CommitOutcome,
    rows: u64,
    files: u64,
    work: Duration,
    commit: Duration,
) -> TaskReport {
    TaskReport {
        stats: TaskStats {
            gold_rows: rows,
            data_files_written: files,
            work_ms: work.as_millis() as u64,
            commit_ms: commit.as_millis() as u64,
            ..TaskStats::default()
        },
        commits: BTreeMap::new(),
        model_commits: BTreeMap::from([(table.to_string(), outcome)]),
        timings: TaskTimings {
            read_validate_write: work,
            commit,
        },
    }
}
