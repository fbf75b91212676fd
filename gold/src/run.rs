//! A Gold task: rebuild one partition of one model from the snapshots the run
//! produced, test the result, and replace that partition in one commit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use datafusion::catalog::{MemTable, TableProvider};
use datafusion::execution::context::SessionContext;
use datafusion::prelude::Expr;
use floe_common::contract::{Contract, ModelSpec, TableName, TransformKind};
use floe_common::task::{GoldTask, TaskEnv, TaskReport, TaskSpec, TaskStats, TaskTimings};
use floe_lake::catalog::TableCatalog;
use floe_lake::commit::{self, fence, Claim, CommitOutcome, CommitRequest};
use floe_lake::data::{ColumnHints, PartitionWriter};
use iceberg::table::Table;
use iceberg_datafusion::IcebergStaticTableProvider;
use tracing::{info, info_span, warn, Instrument};

use crate::checked_cache::checked_models;
use crate::error::model_error;
use crate::error::{GoldError, Result};
use crate::model_tests::{check_in_partition, run_tests};
use crate::partition::partition_filter;
use crate::read_only::{self, Refused};
use crate::schema::{arrow_of, gold_creation, gold_partition, gold_schema};
use crate::session::{new_session, register, Limits};
use crate::submit_check::CheckedModel;

/// Gold data files roll over at this size.
const TARGET_FILE_BYTES: u64 = 128 * 1024 * 1024;

/// Runs a Gold task (`spec.gold` is set) within `limits`. Safe to run again: a
/// table that already holds this task's commit is left alone.
///
/// The contract comes with the task, so its models are checked here again as
/// at submit: a task message that skipped the coordinator's check still runs
/// only read-only queries.
pub async fn run_gold_task(
    env: &TaskEnv,
    spec: &TaskSpec,
    limits: &Limits,
) -> floe_common::Result<TaskReport> {
    let models = checked_models(&spec.contract).await?;
    run_planned(env, spec, &models, limits).await
}

/// [`run_gold_task`] with the contract's models already planned by
/// [`crate::check_models`].
async fn run_planned(
    env: &TaskEnv,
    spec: &TaskSpec,
    models: &[CheckedModel],
    limits: &Limits,
) -> floe_common::Result<TaskReport> {
    let Some(gold) = &spec.gold else {
        return Err(floe_common::FloeError::WrongTaskKind {
            task: spec.attempt.task_id.to_string(),
            kind: "Gold task",
        });
    };
    let span = info_span!("gold", run_id = %spec.attempt.run_id, task_id = %spec.attempt.task_id, attempt = spec.attempt.number, model = %gold.model);
    floe_common::trace_context::set_parent(&span, &spec.trace_context);
    run(env, spec, gold, models, limits)
        .instrument(span)
        .await
        .map_err(floe_common::FloeError::from)
}

async fn run(
    env: &TaskEnv,
    spec: &TaskSpec,
    gold: &GoldTask,
    checked: &[CheckedModel],
    limits: &Limits,
) -> Result<TaskReport> {
    let contract = &spec.contract;
    let model = checked
        .iter()
        .find(|c| c.spec.name == gold.model)
        .ok_or_else(|| GoldError::Model {
            model: gold.model.clone(),
            message: "the run's contract has no model of that name".into(),
        })?;
    let label = spec.partition.as_deref();
    let shown = label.unwrap_or("(whole table)").to_string();
    let started = Instant::now();
    let checkpoint = |t: &mut Instant| {
        let ms = t.elapsed().as_millis() as u64;
        *t = Instant::now();
        ms
    };
    let mut phase = Instant::now();
    let ctx = new_session(limits);
    let mut read_at = BTreeMap::new();
    // Silver is always there: a model's reconcile tests compare with it.
    let mut inputs = model.reads.clone();
    if !inputs.contains(&contract.target.table) {
        inputs.push(contract.target.table.clone());
    }
    for table in &inputs {
        let pins = gold.pins.get(&table.to_string()).map(Vec::as_slice);
        let (provider, snapshot) = pinned(
            env.catalog.as_ref(),
            contract,
            checked,
            table,
            pins,
            spec.branch(),
        )
        .await?;
        let view = restrict(&ctx, provider, filter_for(contract, checked, table, label))?;
        register(&ctx, table, view)?;
        if let Some(id) = snapshot {
            read_at.insert(table.to_string(), id);
        }
    }
    let inputs_ms = checkpoint(&mut phase);
    let df = read_only::plan(&ctx, &model.spec.sql)
        .await
        .map_err(|e| match e {
            Refused::NotAQuery(kind) => GoldError::NotReadOnly {
                model: model.spec.name.clone(),
                kind,
            },
            Refused::Sql(e) => {
                GoldError::engine(format!("planning model `{}`", model.spec.name))(e)
            }
        })?;
    let planned: SchemaRef = df.schema().inner().clone();
    let batches = df.collect().await.map_err(GoldError::engine(format!(
        "running model `{}`",
        model.spec.name
    )))?;
    let query_ms = checkpoint(&mut phase);
    // The batches' own schema: execution may settle nullability differently
    // from the plan.
    let output = batches.first().map_or(planned, |b| b.schema());
    let result = MemTable::try_new(output.clone(), vec![batches.clone()])
        .map_err(GoldError::engine("holding the result"))?;
    register(&ctx, &model.spec.table, Arc::new(result))?;
    if let (Some(p), Some(label)) = (&model.spec.partition, label) {
        let t = output
            .field_with_name(&p.column)
            .map(|f| f.data_type().clone());
        let inside = t
            .ok()
            .and_then(|t| partition_filter(p.kind, &p.column, &t, label));
        let inside = inside.ok_or_else(|| {
            model_error(
                &model.spec,
                format!("partition `{label}` does not fit column `{}`", p.column),
            )
        })?;
        check_in_partition(&ctx, &model.spec, inside, label).await?;
    }
    run_tests(&ctx, contract, &model.spec, &shown).await?;
    let tests_ms = checkpoint(&mut phase);

    let table = gold_table(env.catalog.as_ref(), contract, &model.spec, &output).await?;
    let partition = gold_partition(&model.spec, &output, label)?;
    let prefix = fence::attempt_file_prefix(&spec.attempt, &uuid());
    let mut writer = PartitionWriter::new(
        &table,
        partition.clone(),
        prefix,
        TARGET_FILE_BYTES,
        &ColumnHints::default(),
    )
    .await?;
    let mut rows = 0u64;
    for b in &batches {
        rows += b.num_rows() as u64;
        writer.write(conform(b, &writer.schema())?).await?;
    }
    let files = writer.close().await?;
    let files_written = files.len() as u64;
    let write_ms = checkpoint(&mut phase);
    let work = started.elapsed();
    let started = Instant::now();
    let mut properties = BTreeMap::from([
        ("floe.model".to_string(), model.spec.name.clone()),
        ("floe.gold-rows".to_string(), rows.to_string()),
        ("floe.partition".to_string(), shown.clone()),
    ]);
    for (t, id) in &read_at {
        // Lineage: exactly which snapshot of each input this partition came from.
        properties.insert(format!("floe.read.{t}"), id.to_string());
    }
    let request = CommitRequest {
        table: model.spec.table.clone(),
        attempt: spec.attempt.clone(),
        contract_version: contract.version,
        data_files: files,
        claim: Claim::Replace(partition),
        properties,
        idempotency_key: None,
        branch: spec.branch(),
    };
    let outcome = match commit::commit(env.catalog.as_ref(), &request, &env.retry).await {
        Err(e @ floe_lake::LakeError::Superseded { .. }) => {
            // A newer run rebuilt the partition: these files will never be used.
            for f in &request.data_files {
                let _ = table.file_io().delete(f.file_path()).await;
            }
            return Err(e.into());
        }
        other => other?,
    };
    let commit_time = started.elapsed();
    info!(rows, partition = %shown, ?outcome, inputs_ms, query_ms, tests_ms, write_ms, commit_ms = commit_time.as_millis() as u64, "gold partition rebuilt");
    Ok(report(
        &model.spec.table,
        outcome,
        rows,
        files_written,
        work,
        commit_time,
    ))
}

fn report(
    table: &TableName,
    outcome: CommitOutcome,
    rows: u64,
    files: u64,
    work: std::time::Duration,
    commit: std::time::Duration,
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

fn uuid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// `table` as of the newest pinned snapshot (by sequence number), or as of its
/// current snapshot when nothing is pinned. A table that does not exist yet, or
/// has no snapshot, reads as empty.
async fn pinned(
    catalog: &dyn TableCatalog,
    contract: &Contract,
    models: &[CheckedModel],
    name: &TableName,
    pins: Option<&[i64]>,
    branch: Option<String>,
) -> Result<(Arc<dyn TableProvider>, Option<i64>)> {
    let loaded = catalog.load_table(name).await?;
    let branch = branch.as_deref().unwrap_or(iceberg::spec::MAIN_BRANCH);
    let snapshot = loaded
        .as_ref()
        .and_then(|t| choose_snapshot(t, pins, branch));
    match (loaded, snapshot) {
        (Some(table), Some(id)) => {
            let provider = IcebergStaticTableProvider::try_new_from_table_snapshot(table, id)
                .await
                .map_err(|e| {
                    GoldError::Floe(floe_common::FloeError::Iceberg {
                        context: format!("reading {name} at snapshot {id}"),
                        source: Box::new(e),
                    })
                })?;
            Ok((Arc::new(provider), Some(id)))
        }
        _ => {
            let schema = input_schema(contract, models, name)?;
            let empty = MemTable::try_new(schema, vec![vec![]])
                .map_err(GoldError::engine("creating an empty input"))?;
            Ok((Arc::new(empty), None))
        }
    }
}

/// The newest pinned snapshot still in the table. When maintenance has
/// expired all of them (a Gold task that waited long in the queue), the head
/// of the branch the task writes (`main`'s current snapshot, or a staged run's
/// branch): expiry only runs on snapshots that later ones replaced.
fn choose_snapshot(table: &Table, pins: Option<&[i64]>, branch: &str) -> Option<i64> {
    let meta = table.metadata();
    let pins = pins.unwrap_or_default();
    let newest = pins
        .iter()
        .filter_map(|id| meta.snapshot_by_id(*id))
        .max_by_key(|s| s.sequence_number())
        .map(|s| s.snapshot_id());
    if newest.is_none() && !pins.is_empty() {
        warn!(
            ?pins,
            "the pinned snapshots were expired; reading the current snapshot"
        );
    }
    newest
        .or_else(|| floe_lake::commit::history::branch_head(meta, branch).map(|s| s.snapshot_id()))
}

/// The schema an input is read with when it does not exist yet.
fn input_schema(
    contract: &Contract,
    models: &[CheckedModel],
    name: &TableName,
) -> Result<SchemaRef> {
    if *name == contract.target.table {
        return crate::schema::silver_arrow_schema(contract);
    }
    let m = models
        .iter()
        .find(|m| m.spec.table == *name)
        .ok_or_else(|| GoldError::Query(format!("no schema known for {name}")))?;
    arrow_of(&gold_schema(&m.spec, &m.output)?)
}

/// The filter that keeps partition `label` of input `table`: Silver by the
/// contract's partition, a model's table by the model's.
fn filter_for(
    contract: &Contract,
    models: &[CheckedModel],
    table: &TableName,
    label: Option<&str>,
) -> Option<(TransformKind, String, String)> {
    let label = label?.to_string();
    if *table == contract.target.table {
        let p = contract.target.partition.as_ref()?;
        return Some((p.kind, contract.columns[p.column].name.clone(), label));
    }
    let m = models.iter().find(|m| m.spec.table == *table)?;
    let p = m.spec.partition.as_ref()?;
    Some((p.kind, p.column.clone(), label))
}

/// The input as a view of the rows of one partition (the whole input when the
/// tables are unpartitioned).
fn restrict(
    ctx: &SessionContext,
    provider: Arc<dyn TableProvider>,
    filter: Option<(TransformKind, String, String)>,
) -> Result<Arc<dyn TableProvider>> {
    let Some((kind, column, label)) = filter else {
        return Ok(provider);
    };
    let t = provider
        .schema()
        .field_with_name(&column)
        .map(|f| f.data_type().clone())
        .map_err(|_| GoldError::Query(format!("the input has no column `{column}`")))?;
    let predicate: Expr = partition_filter(kind, &column, &t, &label).ok_or_else(|| {
        GoldError::Query(format!(
            "partition `{label}` does not fit column `{column}` ({t})"
        ))
    })?;
    let df = ctx
        .read_table(provider)
        .and_then(|df| df.filter(predicate))
        .map_err(GoldError::engine("restricting an input to the partition"))?;
    Ok(df.into_view())
}

/// Creates the model's table on first use; refuses a table whose columns no
/// longer match the model's result.
async fn gold_table(
    catalog: &dyn TableCatalog,
    contract: &Contract,
    m: &ModelSpec,
    output: &SchemaRef,
) -> Result<Table> {
    let table = catalog
        .ensure_table(&m.table, gold_creation(contract, m, output)?)
        .await?;
    let want = gold_schema(m, output)?;
    let have = table.metadata().current_schema();
    let shape = |s: &iceberg::spec::Schema| -> Vec<(String, String)> {
        s.as_struct()
            .fields()
            .iter()
            .map(|f| (f.name.clone(), f.field_type.to_string()))
            .collect()
    };
    if shape(have) != shape(&want) {
        return Err(model_error(
            m,
            format!(
                "its result's columns {:?} differ from those of its table {} {:?}; \
                 give the changed model a new table name (or drop the old table) and re-run the backfill",
                shape(&want),
                m.table,
                shape(have)
            ),
        ));
    }
    Ok(table)
}

/// The result batch with the table's column types (engine strings are views,
/// small integers widen) and field ids.
fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| arrow_cast::cast(c, f.data_type()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            GoldError::Query(format!("converting the result to the table's types: {e}"))
        })?;
    RecordBatch::try_new(schema.clone(), columns)
        .map_err(|e| GoldError::Query(format!("the result does not fit the table: {e}")))
}
