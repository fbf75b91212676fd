//! A task's second half: its written data files committed to the three tables,
//! quarantine and condemned first. Split from the first half
//! ([`super::execute::write_task`]) so a worker can read and validate its next
//! task while this one's commits wait on the catalog and the object store.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use iceberg::table::Table;
use tracing::{info, info_span, Instrument, Span};

use super::append::{appended_files, Owners, APPENDED_FILES};
use super::execute::{claim, TaskEnv, WrittenFiles};
use super::failpoint::FailAt;
use super::{TaskReport, TaskSpec, TaskStats, TaskTimings};
use crate::error::Result;
use crate::table::TableRole;
use crate::validate::PartitionValue;
use floe_lake::commit::{self, CommitOutcome, CommitRequest};
use floe_lake::LakeError;

/// A task whose data files are written and not yet committed.
pub struct WrittenTask<'a> {
    pub(super) spec: &'a TaskSpec,
    /// The task's span, so the commits are traced under it.
    pub(super) span: Span,
    pub(super) owned: Option<PartitionValue>,
    pub(super) tables: BTreeMap<TableRole, Table>,
    pub(super) owners: Owners,
    pub(super) stats: TaskStats,
    pub(super) files: WrittenFiles,
    pub(super) write_time: Duration,
}

impl WrittenTask<'_> {
    /// Commits the task's files (see `PROTOCOL.md`) and reports it. Safe to
    /// repeat: a table that already holds this task's commit is left alone.
    pub async fn commit(self, env: &TaskEnv) -> Result<TaskReport> {
        let span = self.span.clone();
        async move {
            let Self {
                spec,
                owned,
                tables,
                owners,
                mut stats,
                files,
                write_time,
                ..
            } = self;
            env.check(FailAt::BeforeCommit, spec).await?;
            let started = Instant::now();
            let commits =
                commit_all(env, spec, &tables, owned.as_ref(), &owners, &stats, files).await?;
            let timings = TaskTimings {
                read_validate_write: write_time,
                commit: started.elapsed(),
            };
            stats.work_ms = timings.read_validate_write.as_millis() as u64;
            stats.commit_ms = timings.commit.as_millis() as u64;
            info!(
                rows_in = stats.rows_in,
                valid = stats.valid,
                quarantined = stats.quarantined,
                condemned = stats.condemned,
                "task done"
            );
            Ok(TaskReport {
                stats,
                commits,
                model_commits: BTreeMap::new(),
                timings,
            })
        }
        .instrument(span)
        .await
    }
}

/// Commit order: quarantine and condemned before Silver, so that once a task's
/// valid rows are visible, the rest of its rows are accounted for too.
const COMMIT_ORDER: [TableRole; 3] = [
    TableRole::Quarantine,
    TableRole::Condemned,
    TableRole::Silver,
];

async fn commit_all(
    env: &TaskEnv,
    spec: &TaskSpec,
    tables: &BTreeMap<TableRole, Table>,
    owned: Option<&PartitionValue>,
    owners: &Owners,
    stats: &TaskStats,
    mut files: WrittenFiles,
) -> Result<BTreeMap<TableRole, CommitOutcome>> {
    let mut outcomes = BTreeMap::new();
    for role in COMMIT_ORDER {
        let mut properties = stats.to_properties();
        if spec.append {
            // Which versions of which files this append added: a file is
            // loaded once, by path and content.
            properties.insert(APPENDED_FILES.into(), appended_files(spec));
        }
        if let Some(trace_id) = crate::trace_context::current_trace_id() {
            // A table change leads back to the trace of the run that made it.
            properties.insert("floe.trace-id".into(), trace_id);
        }
        let request = CommitRequest {
            table: role.name(&spec.contract).clone(),
            attempt: spec.attempt.clone(),
            contract_version: spec.contract.version,
            data_files: files.remove(&role).unwrap_or_default(),
            claim: claim(spec, role, owned, owners)?,
            properties,
            idempotency_key: None,
            branch: spec.branch(),
        };
        let outcome = commit::commit(env.catalog.as_ref(), &request, &env.retry)
            .instrument(info_span!("commit", table = %request.table))
            .await;
        let outcome = match outcome {
            Err(e @ LakeError::Superseded { .. }) => {
                // Nothing of this table or the ones after it was committed: the
                // files are no use to anyone.
                files.insert(role, request.data_files);
                remove_uncommitted(env, spec, tables, files).await;
                return Err(e.into());
            }
            other => other?,
        };
        outcomes.insert(role, outcome);
        env.check(FailAt::AfterCommit(role), spec).await?;
    }
    Ok(outcomes)
}

/// Deletes the data files a superseded task wrote and did not commit. A table
/// whose history holds a snapshot of this task keeps its files (they may be
/// read by time travel); its commit was found, not refused.
async fn remove_uncommitted(
    env: &TaskEnv,
    spec: &TaskSpec,
    tables: &BTreeMap<TableRole, Table>,
    files: WrittenFiles,
) {
    for (role, written) in files {
        let Some(t) = tables.get(&role) else { continue };
        let current = env.catalog.load_table(role.name(&spec.contract)).await;
        let committed = match &current {
            Ok(Some(t)) => commit::history::written_by(
                t.metadata(),
                &spec.attempt.run_id,
                &spec.attempt.task_id,
            ),
            _ => true,
        };
        if committed {
            continue;
        }
        for f in written {
            if let Err(e) = t.file_io().delete(f.file_path()).await {
                tracing::warn!(file = f.file_path(), error = %e, "could not remove an unused data file; orphan removal will");
            }
        }
    }
}
