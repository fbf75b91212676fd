//! `reprocess`: one partition's quarantined rows against the current contract.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use futures::TryStreamExt;
use iceberg::spec::DataFile;
use serde::Serialize;
use tracing::info;

use super::revalidate::{quarantined_rows, revalidate, Outcome};
use super::{content_id, partition_files, OPERATION};
use crate::contract::Contract;
use crate::error::{FloeError, Result};
use crate::table::{self, LineageContext, Origins, TableRole};
use crate::task::{FailAt, FailPoint, TaskStats};
use crate::validate::PartitionValue;
use floe_lake::catalog::TableCatalog;
use floe_lake::commit::replace::{replace_files, ReplaceOutcome};
use floe_lake::commit::{self, history, CommitOutcome, CommitRequest, RetryPolicy};
use floe_lake::data::{ColumnHints, PartitionWriter};
use floe_lake::ids::{RunId, TaskId};
use floe_lake::storage::BronzeStore;

#[derive(Debug, Clone, Default)]
pub struct ReprocessOptions {
    /// The pass's run; a fresh `reprocess-` run id when `None`.
    pub run_id: Option<RunId>,
    pub retry: RetryPolicy,
    /// Stops the pass at a commit boundary (tests of an interrupted pass).
    pub fail_point: Option<FailPoint>,
}

/// What one partition's pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReprocessReport {
    pub partition: String,
    /// The pass's run, as the snapshot summaries record it (`floe.run-id`).
    pub run_id: String,
    pub rows: u64,
    pub to_silver: u64,
    pub still_quarantined: u64,
    pub condemned: u64,
    /// The snapshot each table got (or already had) from this pass.
    #[serde(skip)]
    pub commits: BTreeMap<TableRole, CommitOutcome>,
}

impl ReprocessReport {
    /// The pass's row counts as a task's: every quarantined row read comes out
    /// valid, still quarantined or condemned.
    pub fn stats(&self) -> TaskStats {
        TaskStats {
            rows_in: self.rows,
            valid: self.to_silver,
            quarantined: self.still_quarantined,
            condemned: self.condemned,
            ..Default::default()
        }
    }
}

/// Reprocesses the quarantined rows of `label` (a partition of the contract's
/// target, e.g. `2025-01-05`). See the module docs for why it is safe to run
/// again after any interruption.
pub async fn reprocess_partition(
    catalog: &dyn TableCatalog,
    bronze: Arc<dyn BronzeStore>,
    contract: Arc<Contract>,
    label: &str,
    opts: &ReprocessOptions,
) -> Result<ReprocessReport> {
    let run_id = opts
        .run_id
        .clone()
        .unwrap_or_else(|| RunId::generate_kind("reprocess"));
    let task_id = TaskId::new(format!("{}-reprocess-{label}", contract.name));
    let mut report = ReprocessReport {
        partition: label.to_string(),
        run_id: run_id.to_string(),
        ..Default::default()
    };
    let owned = owned_partition(&contract, label)?;
    let q_name = &contract.target.quarantine_table;
    let Some(q_table) = catalog.load_table(q_name).await? else {
        return Ok(report);
    };
    // Redelivered after it finished: its last commit says what it did.
    if let Some(done) = super::finished(catalog, &contract, &q_table, &run_id, &task_id).await? {
        report.rows = done.stats.rows_in;
        report.to_silver = done.stats.valid;
        report.still_quarantined = done.stats.quarantined;
        report.condemned = done.stats.condemned;
        report.commits = done.commits;
        return Ok(report);
    }
    let files = partition_files(&q_table, label).await?;
    if files.is_empty() {
        return Ok(report);
    }
    // The same rows under the same contract are the same pass, whatever its run.
    let reads = content_id(&files);
    let key = format!(
        "reprocess:{label}:{reads}:v{}:{:032x}",
        contract.version,
        twox_hash::XxHash3_128::oneshot(contract.text.as_bytes())
    );
    let mut rows = Vec::new();
    let mut batches = floe_lake::data::read_files(&q_table, &files)?;
    while let Some(batch) = batches.try_next().await? {
        rows.extend(quarantined_rows(&batch)?);
    }
    report.rows = rows.len() as u64;

    let owner = super::load_owner(&q_table, &files);
    let mut writers = BTreeMap::new();
    let mut claims = BTreeMap::new();
    let prefix = super::pass_prefix(&owner, &run_id);
    for role in TableRole::ALL {
        let creation = table::table_creation(role, &contract)?;
        let mut t = catalog.ensure_table(role.name(&contract), creation).await?;
        if role == TableRole::Silver {
            // A pass under a newer contract version brings Silver's schema to it.
            t = table::evolve_silver(catalog, &contract, &opts.retry, t).await?;
        }
        let partition = table::partition_struct(role, &contract, owned.as_ref())?;
        claims.insert(role, super::within(partition.clone(), &owner));
        let size = contract.target.target_file_size_bytes;
        let w = PartitionWriter::new(&t, partition, prefix.clone(), size, &ColumnHints::default())
            .await?;
        writers.insert(role, w);
    }
    let schema = table::contract_schema(&writers[&TableRole::Silver].schema(), &contract)?;
    let outcome = {
        let (contract, bronze) = (contract.clone(), bronze.clone());
        tokio::task::spawn_blocking(move || revalidate(&rows, &contract, schema, owned, &*bronze))
            .await
            .map_err(|e| FloeError::Stage {
                stage: "re-validation",
                message: e.to_string(),
            })??
    };
    if outcome.rows() != report.rows {
        return Err(FloeError::Accounting {
            task: task_id.to_string(),
            detail: format!(
                "{} quarantined rows in, {} out",
                report.rows,
                outcome.rows()
            ),
        });
    }
    report.to_silver = outcome.valid_rows;
    report.still_quarantined = outcome.quarantined.len() as u64;
    report.condemned = outcome.condemned.len() as u64;

    let ctx = super::lineage(label, &run_id, &task_id);
    let written = write(writers, outcome, &ctx, contract.target.lineage).await?;
    let stats = TaskStats {
        rows_in: report.rows,
        valid: report.to_silver,
        quarantined: report.still_quarantined,
        condemned: report.condemned,
        ..Default::default()
    };
    let mut properties = stats.to_properties();
    properties.insert(OPERATION.into(), "reprocess".into());
    properties.insert(history::PASS_READS.into(), reads.clone());
    let mut written = written;
    if let Some(point) = &opts.fail_point {
        point.trigger(FailAt::BeforeCommit, run_id.as_str()).await?;
    }
    if !super::still_live(catalog, q_name, &files).await? {
        return Err(super::changed(q_name, label));
    }
    for role in [TableRole::Silver, TableRole::Condemned] {
        super::refuse_other_passes(catalog, role.name(&contract), label, &reads, &key).await?;
    }
    // Into Silver and the condemned table first, under the pass's name: an
    // interrupted pass run again finds these and does not add them twice.
    for role in [TableRole::Silver, TableRole::Condemned] {
        let request = CommitRequest {
            table: role.name(&contract).clone(),
            attempt: floe_lake::Attempt::first(run_id.clone(), task_id.clone()),
            contract_version: contract.version,
            data_files: written.remove(&role).unwrap_or_default(),
            claim: claims[&role].clone(),
            properties: properties.clone(),
            idempotency_key: Some(key.clone()),
            branch: None,
        };
        let outcome = commit::commit(catalog, &request, &opts.retry).await?;
        report.commits.insert(role, outcome);
        if let Some(point) = &opts.fail_point {
            point
                .trigger(FailAt::AfterCommit(role), run_id.as_str())
                .await?;
        }
    }
    // Then quarantine: exactly the files read are replaced by the rows still failing.
    let replaced: HashSet<String> = files
        .iter()
        .map(|f| f.data_file.file_path().to_string())
        .collect();
    let mut summary: HashMap<String, String> = properties.into_iter().collect();
    summary.insert(commit::history::RUN_ID.into(), run_id.to_string());
    summary.insert(commit::history::TASK_ID.into(), task_id.to_string());
    summary.insert(history::IDEMPOTENCY_KEY.into(), key.clone());
    let added = written.remove(&TableRole::Quarantine).unwrap_or_default();
    match replace_files(
        catalog,
        q_name,
        &replaced,
        &added,
        summary,
        None,
        Some((&run_id, &claims[&TableRole::Quarantine])),
        &opts.retry,
    )
    .await?
    {
        ReplaceOutcome::Committed { snapshot_id } => {
            info!(partition = label, %run_id, snapshot_id, to_silver = report.to_silver, still_quarantined = report.still_quarantined, condemned = report.condemned, "reprocessed");
            report.commits.insert(
                TableRole::Quarantine,
                CommitOutcome::Committed { snapshot_id },
            );
            Ok(report)
        }
        ReplaceOutcome::Superseded => Err(super::changed(q_name, label)),
    }
}

fn owned_partition(contract: &Contract, label: &str) -> Result<Option<PartitionValue>> {
    let Some(p) = &contract.target.partition else {
        return Ok(None);
    };
    PartitionValue::parse(p.kind, label)
        .map(Some)
        .ok_or_else(|| FloeError::BadPartition {
            label: label.to_string(),
            problem: format!(
                "is not a {:?} partition of {}",
                p.kind, contract.target.table
            ),
        })
}

async fn write(
    mut writers: BTreeMap<TableRole, PartitionWriter>,
    outcome: Outcome,
    ctx: &LineageContext,
    lineage: bool,
) -> Result<BTreeMap<TableRole, Vec<DataFile>>> {
    let silver = writers
        .get_mut(&TableRole::Silver)
        .expect("a Silver writer");
    if let Some(first) = outcome.valid.first() {
        // One row per re-validated record: written as one batch, each row
        // keeping the Bronze file and line it was first read from.
        let valid =
            arrow_select::concat::concat_batches(&first.schema(), &outcome.valid).map_err(|e| {
                FloeError::Stage {
                    stage: "re-validation",
                    message: e.to_string(),
                }
            })?;
        let origins = Origins::PerRow(&outcome.valid_origins);
        let batch = table::silver_batch(&silver.schema(), &valid, origins, ctx, lineage)?.batch;
        silver.write(batch).await?;
    }
    if !outcome.quarantined.is_empty() {
        let q = writers
            .get_mut(&TableRole::Quarantine)
            .expect("a quarantine writer");
        let batch = table::quarantine_rows(
            q.schema(),
            &outcome.quarantined,
            &outcome.attempt_counts,
            ctx,
        );
        q.write(batch).await?;
    }
    if !outcome.condemned.is_empty() {
        let c = writers
            .get_mut(&TableRole::Condemned)
            .expect("a condemned writer");
        let batch = table::condemned_rows(c.schema(), &outcome.condemned, ctx);
        c.write(batch).await?;
    }
    let mut files = BTreeMap::new();
    for (role, w) in writers {
        files.insert(role, w.close().await?);
    }
    Ok(files)
}
