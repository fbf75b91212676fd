//! `condemned release`: rows condemned after using up their attempts go back to
//! quarantine (attempt count 0) for another reprocess, with the approval
//! recorded. Duplicates stay condemned: they repeat rows already in Silver.

use std::collections::{BTreeMap, HashMap, HashSet};

use arrow_array::{BooleanArray, RecordBatch};
use arrow_select::filter::filter_record_batch;
use futures::TryStreamExt;
use serde::Serialize;
use tracing::info;

use super::{
    column, content_id, partition_files, strings, APPROVAL_REASON, APPROVED_BY, EXHAUSTED,
    OPERATION,
};
use crate::contract::Contract;
use crate::error::{FloeError, Result};
use crate::source::Reject;
use crate::table::{self, TableRole};
use crate::task::TaskStats;
use floe_lake::catalog::TableCatalog;
use floe_lake::commit::replace::{replace_files, ReplaceOutcome};
use floe_lake::commit::{self, CommitOutcome, CommitRequest, RetryPolicy};
use floe_lake::data::{ColumnHints, PartitionWriter};
use floe_lake::ids::{RunId, TaskId};

/// Who let the rows go, and why; both are recorded in the snapshot summaries.
#[derive(Debug, Clone)]
pub struct Approval {
    pub approved_by: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReleaseReport {
    pub partition: String,
    pub run_id: String,
    pub released: u64,
    /// Duplicates, which stay condemned.
    pub kept: u64,
    /// The snapshot each table got (or already had) from this release.
    #[serde(skip)]
    pub commits: BTreeMap<TableRole, CommitOutcome>,
}

impl ReleaseReport {
    /// The release's row counts as a task's: of the condemned rows read, the
    /// released ones are quarantined again and the duplicates stay condemned.
    pub fn stats(&self) -> TaskStats {
        TaskStats {
            rows_in: self.released + self.kept,
            quarantined: self.released,
            condemned: self.kept,
            ..Default::default()
        }
    }
}

/// Releases the exhausted rows of the condemned table's partition `label`, as
/// the task of `run` (a fresh `release-` run when `None`).
pub async fn release_condemned(
    catalog: &dyn TableCatalog,
    contract: &Contract,
    label: &str,
    approval: &Approval,
    run: Option<&RunId>,
    retry: &RetryPolicy,
) -> Result<ReleaseReport> {
    if approval.approved_by.trim().is_empty() || approval.reason.trim().is_empty() {
        return Err(FloeError::ApprovalMissing);
    }
    let run_id = run
        .cloned()
        .unwrap_or_else(|| RunId::generate_kind("release"));
    let task_id = TaskId::new(format!("{}-release-{label}", contract.name));
    let mut report = ReleaseReport {
        partition: label.to_string(),
        run_id: run_id.to_string(),
        ..Default::default()
    };
    let c_name = &contract.target.condemned_table;
    let Some(c_table) = catalog.load_table(c_name).await? else {
        return Ok(report);
    };
    // Redelivered after it finished: its last commit says what it did.
    if let Some(done) = super::finished(catalog, contract, &c_table, &run_id, &task_id).await? {
        report.released = done.stats.quarantined;
        report.kept = done.stats.condemned;
        report.commits = done.commits;
        return Ok(report);
    }
    let files = partition_files(&c_table, label).await?;
    let mut batches = Vec::new();
    let mut stream = floe_lake::data::read_files(&c_table, &files)?;
    while let Some(batch) = stream.try_next().await? {
        batches.push(batch);
    }
    let mut released = Vec::new();
    let mut kept = Vec::new();
    for batch in &batches {
        let reasons = strings(batch, "reason")?;
        let exhausted: BooleanArray = reasons
            .iter()
            .map(|r| Some(r.is_some_and(|r| r.starts_with(EXHAUSTED))))
            .collect();
        released.extend(rejects(&filter(batch, &exhausted)?, approval)?);
        let others = arrow_arith::boolean::not(&exhausted).map_err(arrow_err)?;
        kept.push(filter(batch, &others)?);
    }
    if released.is_empty() {
        report.kept = kept.iter().map(|b| b.num_rows() as u64).sum();
        return Ok(report);
    }
    let reads = content_id(&files);
    let key = format!("release:{label}:{reads}");
    report.released = released.len() as u64;
    report.kept = kept.iter().map(|b| b.num_rows() as u64).sum();
    let ctx = super::lineage(label, &run_id, &task_id);
    let owner = super::load_owner(&c_table, &files);
    let prefix = super::pass_prefix(&owner, &run_id);
    let size = contract.target.target_file_size_bytes;
    let q_table = catalog
        .ensure_table(
            &contract.target.quarantine_table,
            table::table_creation(TableRole::Quarantine, contract)?,
        )
        .await?;
    let partition = files[0].partition.clone();
    let mut q = PartitionWriter::new(
        &q_table,
        partition.clone(),
        prefix.clone(),
        size,
        &ColumnHints::default(),
    )
    .await?;
    let claim = super::within(partition.clone(), &owner);
    q.write(table::quarantine_rows(
        q.schema(),
        &released,
        &vec![0; released.len()],
        &ctx,
    ))
    .await?;
    let mut c =
        PartitionWriter::new(&c_table, partition, prefix, size, &ColumnHints::default()).await?;
    for batch in kept {
        c.write(conform(&batch, c.schema())?).await?;
    }
    let mut properties: HashMap<String, String> =
        report.stats().to_properties().into_iter().collect();
    properties.extend([
        (OPERATION.into(), "release".into()),
        (commit::history::PASS_READS.into(), reads.clone()),
        (APPROVED_BY.into(), approval.approved_by.clone()),
        (APPROVAL_REASON.into(), approval.reason.clone()),
        ("floe.released-rows".into(), report.released.to_string()),
    ]);
    if !super::still_live(catalog, c_name, &files).await? {
        return Err(super::changed(c_name, label));
    }
    // Into quarantine first, under the pass's name (see the module docs).
    let request = CommitRequest {
        table: contract.target.quarantine_table.clone(),
        attempt: floe_lake::Attempt::first(run_id.clone(), task_id.clone()),
        contract_version: contract.version,
        data_files: q.close().await?,
        claim: claim.clone(),
        properties: properties.clone().into_iter().collect(),
        idempotency_key: Some(key.clone()),
        branch: None,
    };
    let outcome = commit::commit(catalog, &request, retry).await?;
    report.commits.insert(TableRole::Quarantine, outcome);
    properties.insert(commit::history::RUN_ID.into(), run_id.to_string());
    properties.insert(commit::history::TASK_ID.into(), task_id.to_string());
    properties.insert(commit::history::IDEMPOTENCY_KEY.into(), key.clone());
    let replaced: HashSet<String> = files
        .iter()
        .map(|f| f.data_file.file_path().to_string())
        .collect();
    let added = c.close().await?;
    let fence = Some((&run_id, &claim));
    match replace_files(
        catalog, c_name, &replaced, &added, properties, None, fence, retry,
    )
    .await?
    {
        ReplaceOutcome::Committed { snapshot_id } => {
            info!(partition = label, released = report.released, approved_by = %approval.approved_by, snapshot_id, "released condemned rows");
            report.commits.insert(
                TableRole::Condemned,
                CommitOutcome::Committed { snapshot_id },
            );
            Ok(report)
        }
        ReplaceOutcome::Superseded => Err(super::changed(c_name, label)),
    }
}

/// `batch` as read back (a constant partition column may come run-end encoded)
/// in the writer's plain types.
fn conform(batch: &RecordBatch, schema: arrow_schema::SchemaRef) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, column)| arrow_cast::cast(column, field.data_type()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(arrow_err)?;
    RecordBatch::try_new(schema, columns).map_err(arrow_err)
}

fn filter(batch: &RecordBatch, mask: &BooleanArray) -> Result<RecordBatch> {
    filter_record_batch(batch, mask).map_err(arrow_err)
}

fn arrow_err(e: arrow_schema::ArrowError) -> FloeError {
    FloeError::QuarantineLayout(format!("selecting condemned rows: {e}"))
}

/// Condemned rows as quarantine rows whose reason records the release.
fn rejects(batch: &RecordBatch, approval: &Approval) -> Result<Vec<Reject>> {
    let files = strings(batch, "source_file")?;
    let lines: &arrow_array::Int64Array = column(batch, "line_number")?;
    let raws = strings(batch, "raw_line")?;
    let reasons = strings(batch, "reason")?;
    Ok((0..batch.num_rows())
        .map(|i| Reject {
            file: files.value(i).into(),
            line: lines.value(i).max(0) as u64,
            raw: raws.value(i).to_string(),
            reasons: vec![format!(
                "released from condemned by {} ({}); before: {}",
                approval.approved_by,
                approval.reason,
                reasons.value(i)
            )],
        })
        .collect())
}
