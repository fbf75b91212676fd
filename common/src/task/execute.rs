use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use iceberg::spec::DataFile;
use iceberg::table::Table;
use tokio::sync::mpsc;
use tracing::{info_span, Instrument};

use super::append::{append_owners, file_prefix, Owners};
use super::chain::{self, Chain};
use super::failpoint::{FailAt, FailPoint};
use super::line_handoff::{self, RangeEnd, RangeEnds};
use super::written::WrittenTask;
use super::{TaskReport, TaskSpec, TaskStats};
use crate::error::{FloeError, Result};
use crate::source::{self, DEFAULT_BATCH_ROWS};
use crate::table::{self, LineageContext, Origins, TableRole};
use crate::validate::{KeyMemory, PartitionValue, Validated};
use floe_lake::catalog::TableCatalog;
use floe_lake::commit::{self, fence, Claim, RetryPolicy};
use floe_lake::data::{ColumnHints, PartitionWriter};
use floe_lake::storage::{Bronze, BronzeStore};
use floe_lake::LakeError;

/// What a task runs against.
#[derive(Debug, Clone)]
pub struct TaskEnv {
    pub catalog: Arc<dyn TableCatalog>,
    /// Where the task's input files are read from.
    pub bronze: Arc<dyn BronzeStore>,
    pub retry: RetryPolicy,
    pub batch_rows: usize,
    pub fail_point: Option<FailPoint>,
    /// Memory a task's dedupe keys may hold before they spill to disk.
    pub keys: KeyMemory,
}

impl TaskEnv {
    pub fn new(catalog: Arc<dyn TableCatalog>) -> Self {
        Self {
            catalog,
            bronze: Arc::new(Bronze::default()),
            retry: RetryPolicy::default(),
            batch_rows: DEFAULT_BATCH_ROWS,
            fail_point: None,
            keys: KeyMemory::default(),
        }
    }

    pub(super) async fn check(&self, at: FailAt, spec: &TaskSpec) -> Result<()> {
        match &self.fail_point {
            Some(point) => {
                let delivery = spec.attempt.to_string();
                point.trigger(at, &delivery).await
            }
            None => Ok(()),
        }
    }
}

/// Runs one task. Safe to run again for the same task: tables that already hold
/// its commit are left alone.
pub async fn run_task(env: &TaskEnv, spec: &TaskSpec) -> Result<TaskReport> {
    write_task(env, spec).await?.commit(env).await
}

/// The task's first half: reads, validates and writes its data files, and
/// commits nothing. [`WrittenTask::commit`] is the second; a worker may start
/// its next task's first half while this one commits.
pub async fn write_task<'a>(env: &TaskEnv, spec: &'a TaskSpec) -> Result<WrittenTask<'a>> {
    let span = info_span!("task", run_id = %spec.attempt.run_id, task_id = %spec.attempt.task_id, attempt = spec.attempt.number);
    crate::trace_context::set_parent(&span, &spec.trace_context);
    let task_span = span.clone();
    async move {
        let owned = owned_partition(spec)?;
        let mut tables = BTreeMap::new();
        for role in TableRole::ALL {
            let name = role.name(&spec.contract);
            let creation = table::table_creation(role, &spec.contract)?;
            tables.insert(role, env.catalog.ensure_table(name, creation).await?);
        }
        // The first task of a new contract version brings Silver's schema to it.
        let loaded = tables
            .remove(&TableRole::Silver)
            .expect("Silver was ensured");
        let silver =
            table::evolve_silver(env.catalog.as_ref(), &spec.contract, &env.retry, loaded).await?;
        tables.insert(TableRole::Silver, silver);
        let owners = append_owners(spec, &tables, owned.as_ref())?;
        check_fences(spec, &tables, owned.as_ref(), &owners)?;
        let started = Instant::now();
        let (stats, files) = read_and_write(env, spec, &tables, owned.as_ref(), &owners).await?;
        if !stats.is_balanced() {
            return Err(FloeError::Accounting {
                task: spec.attempt.task_id.to_string(),
                detail: format!("{stats:?}"),
            });
        }
        Ok(WrittenTask {
            spec,
            span: task_span,
            owned,
            tables,
            owners,
            stats,
            files,
            write_time: started.elapsed(),
        })
    }
    .instrument(span)
    .await
}

fn owned_partition(spec: &TaskSpec) -> Result<Option<PartitionValue>> {
    let contract = &spec.contract;
    match (&contract.target.partition, &spec.partition) {
        (None, _) => Ok(None),
        (Some(p), Some(label)) => PartitionValue::parse(p.kind, label)
            .map(Some)
            .ok_or_else(|| FloeError::TaskPartition {
                task: spec.attempt.task_id.to_string(),
                problem: format!(
                    "names partition `{label}`, which is not a {:?} partition of {}",
                    p.kind, contract.target.table
                ),
            }),
        (Some(p), None) => Err(FloeError::TaskPartition {
            task: spec.attempt.task_id.to_string(),
            problem: format!(
                "names no partition, but {} is partitioned by {}: each task must own one partition",
                contract.target.table, contract.columns[p.column].name
            ),
        }),
    }
}

pub(super) type WrittenFiles = BTreeMap<TableRole, Vec<DataFile>>;

/// Silver columns a Parquet dictionary would not pay for: the dedupe key, and
/// free-form values (strings without an allowed list, decimals, doubles,
/// timestamps), where building the dictionary costs time and is then discarded.
fn high_cardinality_columns(contract: &crate::contract::Contract) -> Vec<&str> {
    use crate::contract::DataType;
    contract
        .columns
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            contract.dedupe_key.contains(i)
                || match c.data_type {
                    DataType::String => c.allowed.is_none(),
                    DataType::Decimal { .. } | DataType::Double => true,
                    DataType::Timestamp | DataType::Timestamptz | DataType::Long => true,
                    _ => false,
                }
        })
        .map(|(_, c)| c.name.as_str())
        .collect()
}

/// Reads and validates on a blocking thread; writes Parquet here, so parsing and
/// encoding overlap.
async fn read_and_write(
    env: &TaskEnv,
    spec: &TaskSpec,
    tables: &BTreeMap<TableRole, Table>,
    owned: Option<&PartitionValue>,
    owners: &Owners,
) -> Result<(TaskStats, WrittenFiles)> {
    let contract = spec.contract.clone();
    let mut writers = BTreeMap::new();
    let keys = high_cardinality_columns(&contract);
    for (role, t) in tables {
        let prefix = file_prefix(spec, owners.get(role).and_then(Option::as_ref));
        let partition = table::partition_struct(*role, &contract, owned)?;
        let hints = match role {
            TableRole::Silver => ColumnHints {
                unique: &keys,
                constant: table::constant_lineage_columns(
                    contract.target.lineage,
                    spec.inputs.len(),
                ),
            },
            _ => ColumnHints {
                unique: &["raw_line"],
                constant: &[],
            },
        };
        let size = contract.target.target_file_size_bytes;
        let w = PartitionWriter::new(t, partition, prefix.clone(), size, &hints).await?;
        writers.insert(*role, w);
    }
    let loose = table::contract_schema(&writers[&TableRole::Silver].schema(), &contract)?;
    let Chain {
        mut validator,
        hand_off,
        range_ends,
    } = chain::start(spec, &tables[&TableRole::Silver], loose, owned, &env.keys).await?;
    let (tx, mut rx) = mpsc::channel::<Validated>(2);
    let inputs = spec.inputs.clone();
    let fingerprints = spec.fingerprints.clone();
    let ranges = spec.ranges.clone();
    let batch_rows = env.batch_rows;
    let bronze = env.bronze.clone();
    let task_span = tracing::Span::current();
    let mut breaker = crate::validate::breaker::Breaker::new(
        spec.attempt.task_id.as_str(),
        contract.max_rejection_rate,
        contract.rejection_min_rows,
    );
    let reader = tokio::task::spawn_blocking(move || -> Result<(u64, u64, u64)> {
        let (mut rows_in, mut bytes, mut files) = (0u64, 0u64, 0u64);
        let mut ends_here = RangeEnds::new();
        for location in &inputs {
            // One `read` span per file (reading and parsing), a `validate` span per batch.
            let read = tracing::info_span!(parent: &task_span, "read", file = %location);
            let _in_read = read.enter();
            let mut sink = |raw: source::RawBatch| {
                rows_in += (raw.num_rows() + raw.rejects.len()) as u64;
                let rows = raw.num_rows() + raw.rejects.len();
                let validated =
                    tracing::info_span!("validate", rows).in_scope(|| validator.validate(raw))?;
                breaker.observe(&validated)?;
                tx.blocking_send(validated).map_err(|_| FloeError::Stage {
                    stage: "handing rows to the writer",
                    message: "the writer stopped".into(),
                })
            };
            let range = ranges
                .get(location)
                .map(|r| line_handoff::range_read(&range_ends, location, *r));
            let fs = match fingerprints.get(location) {
                Some(planned) => source::read_planned_file(
                    &*bronze, location, planned, range, &contract, batch_rows, &mut sink,
                ),
                None => source::read_file_part(
                    &*bronze, location, range, &contract, batch_rows, &mut sink,
                ),
            }?;
            bytes += fs.bytes;
            files += 1;
            if let (Some(r), Some(lines)) = (ranges.get(location), fs.lines_after_range) {
                let end = RangeEnd { end: r.end, lines };
                ends_here.insert(location.clone(), end);
            }
        }
        let keys = validator.keys_mut();
        if let (spilled @ 1.., runs) = keys.spilled() {
            tracing::info!(
                keys = keys.len(),
                spilled,
                runs,
                "dedupe keys past the memory budget spilled to disk"
            );
        }
        if let Some(h) = hand_off {
            h.leave(keys, &ends_here)?;
        }
        Ok((rows_in, bytes, files))
    });
    let ctx = LineageContext {
        source_partition: owned.map(|o| o.label.clone()).unwrap_or_default(),
        run_id: spec.attempt.run_id.to_string(),
        task_id: spec.attempt.task_id.to_string(),
        attempt: spec.attempt.number,
        at_micros: chrono::Utc::now().timestamp_micros(),
    };
    let mut stats = TaskStats::default();
    let write_result = async {
        while let Some(v) = rx.recv().await {
            let rows = v.valid.num_rows() + v.quarantined.len() + v.condemned.len();
            stats.valid += v.valid.num_rows() as u64;
            stats.quarantined += v.quarantined.len() as u64;
            stats.condemned += v.condemned.len() as u64;
            write_batch(&mut writers, v, &ctx, spec.contract.target.lineage)
                .instrument(info_span!("write", rows))
                .await?;
        }
        Ok::<_, FloeError>(())
    }
    .await;
    drop(rx);
    let (rows_in, bytes, files) = reader.await.map_err(|e| FloeError::Stage {
        stage: "the reader thread",
        message: e.to_string(),
    })??;
    write_result?;
    stats.rows_in = rows_in;
    stats.bytes_read = bytes;
    stats.files_read = files;
    let mut written = BTreeMap::new();
    for (role, w) in writers {
        let files = w.close().await?;
        stats.data_files_written += files.len() as u64;
        written.insert(role, files);
    }
    Ok((stats, written))
}

/// Writes one validated batch to the three tables' writers.
async fn write_batch(
    writers: &mut BTreeMap<TableRole, PartitionWriter>,
    v: Validated,
    ctx: &LineageContext,
    lineage: bool,
) -> Result<()> {
    let q = writers.get_mut(&TableRole::Quarantine).unwrap();
    if !v.quarantined.is_empty() {
        let batch = table::quarantine_batch(q.schema(), &v.quarantined, ctx);
        q.write(batch).await?;
    }
    let c = writers.get_mut(&TableRole::Condemned).unwrap();
    if !v.condemned.is_empty() {
        let batch = table::condemned_batch(c.schema(), &v.condemned, ctx);
        c.write(batch).await?;
    }
    let silver = writers.get_mut(&TableRole::Silver).unwrap();
    let origins = Origins::OneFile {
        file: &v.file,
        lines: &v.valid_lines,
    };
    let out = table::silver_batch(&silver.schema(), &v.valid, origins, ctx, lineage)?;
    silver.write_constants(out.batch, &out.constants).await?;
    Ok(())
}

/// The claim a task makes on its partition of `role`'s table: a load replaces
/// what earlier runs wrote there, so a re-run never appends; an append of new
/// files adds to the load its files were written for.
pub(super) fn claim(
    spec: &TaskSpec,
    role: TableRole,
    owned: Option<&PartitionValue>,
    owners: &Owners,
) -> Result<Claim> {
    let partition = table::partition_struct(role, &spec.contract, owned)?;
    Ok(match owners.get(&role) {
        Some(owner) if spec.append => Claim::Append {
            partition,
            owner: owner.clone(),
        },
        _ => Claim::Replace(partition),
    })
}

/// Stops a task before it reads anything when its commit would be refused: its
/// run was rolled back, or a newer run already loaded its partition (a
/// straggler redelivered after a re-run). The same checks, in the same order,
/// as the commit loop's; a table that already holds this task's commit passes.
fn check_fences(
    spec: &TaskSpec,
    tables: &BTreeMap<TableRole, Table>,
    owned: Option<&PartitionValue>,
    owners: &Owners,
) -> Result<()> {
    for (role, t) in tables {
        let meta = t.metadata();
        if commit::history::rolled_back_runs(meta).contains(&spec.attempt.run_id.as_str()) {
            return Err(LakeError::RunRolledBack {
                table: role.name(&spec.contract).to_string(),
                run: spec.attempt.run_id.to_string(),
            }
            .into());
        }
        let branch = spec.branch();
        let branch = branch.as_deref().unwrap_or(iceberg::spec::MAIN_BRANCH);
        if commit::history::committed_on(meta, branch, &spec.attempt.run_id, &spec.attempt.task_id)
            .is_some()
        {
            continue;
        }
        let claim = claim(spec, *role, owned, owners)?;
        if let Err(refusal) = fence::check(meta, &spec.attempt.run_id, &claim) {
            return Err(LakeError::Superseded {
                table: role.name(&spec.contract).to_string(),
                partition: refusal.partition,
                run: spec.attempt.run_id.to_string(),
                by: refusal.owner.map(|o| o.to_string()),
            }
            .into());
        }
    }
    Ok(())
}
