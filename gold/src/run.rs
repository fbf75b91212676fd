//! A Gold task: rebuild one partition of one model from the snapshots the run
//! produced, test the result, and replace that partition in one commit
//! (`written.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, SchemaRef};
use datafusion::catalog::{MemTable, TableProvider};
use datafusion::execution::context::SessionContext;
use datafusion::prelude::Expr;
use floe_common::contract::{Contract, ModelSpec, TableName, TransformKind};
use floe_common::task::{GoldTask, TaskEnv, TaskReport, TaskSpec};
use floe_lake::catalog::TableCatalog;
use floe_lake::commit::{fence, Claim, CommitRequest};
use floe_lake::data::{ColumnHints, PartitionWriter};
use iceberg::table::Table;
use iceberg_datafusion::IcebergStaticTableProvider;
use tracing::{info_span, warn, Instrument, Span};

use crate::checked_cache::checked_models;
use crate::error::{iceberg_error, model_error};
use crate::error::{GoldError, Result};
use crate::model_tests::{check_in_partition, run_tests};
use crate::partition::{partition_bounds, partition_filter};
use crate::partition_scan::PartitionFiles;
use crate::read_only::{self, Refused};
use crate::schema::{arrow_of, gold_creation, gold_partition, gold_schema};
use crate::session::{new_session, register, Limits};
use crate::submit_check::CheckedModel;
use crate::written::WrittenGold;

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
    write_gold_task(env, spec, limits).await?.commit(env).await
}

/// The first half of [`run_gold_task`]: rebuilds the partition and writes its
/// files; [`WrittenGold::commit`] is the second.
pub async fn write_gold_task(
    env: &TaskEnv,
    spec: &TaskSpec,
    limits: &Limits,
) -> floe_common::Result<WrittenGold> {
    let models = checked_models(&spec.contract).await?;
    let Some(gold) = &spec.gold else {
        return Err(floe_common::FloeError::WrongTaskKind {
            task: spec.attempt.task_id.to_string(),
            kind: "Gold task",
        });
    };
    let span = info_span!("gold", run_id = %spec.attempt.run_id, task_id = %spec.attempt.task_id, attempt = spec.attempt.number, model = %gold.model);
    floe_common::trace_context::set_parent(&span, &spec.trace_context);
    run(env, spec, gold, &models, limits)
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
) -> Result<WrittenGold> {
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
        let filter = filter_for(contract, checked, table, label);
        let view = match pinned(env.catalog.as_ref(), table, pins, spec.branch()).await? {
            Some((loaded, id)) => {
                read_at.insert(table.to_string(), id);
                partition_of(&ctx, table, loaded, id, filter).await?
            }
            None => {
                let schema = input_schema(contract, checked, table)?;
                let empty = MemTable::try_new(schema, vec![vec![]])
                    .map_err(GoldError::engine("creating an empty input"))?;
                restrict(&ctx, Arc::new(empty), filter)?
            }
        };
        register(&ctx, table, view)?;
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
    let write_ms = checkpoint(&mut phase);
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
    Ok(WrittenGold {
        table,
        request,
        rows,
        partition: shown,
        work: started.elapsed(),
        phases_ms: [inputs_ms, query_ms, tests_ms, write_ms],
        span: Span::current(),
    })
}

fn uuid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// `table` and the newest pinned snapshot (by sequence number), or its
/// current snapshot when nothing is pinned. None when the table does not exist
/// yet or has no snapshot: it reads as empty.
async fn pinned(
    catalog: &dyn TableCatalog,
    name: &TableName,
    pins: Option<&[i64]>,
    branch: Option<String>,
) -> Result<Option<(Table, i64)>> {
    let Some(table) = catalog.load_table(name).await? else {
        return Ok(None);
    };
    let branch = branch.as_deref().unwrap_or(iceberg::spec::MAIN_BRANCH);
    Ok(choose_snapshot(&table, pins, branch).map(|id| (table, id)))
}

/// `table` at `snapshot` as the rows of one partition (all of it when
/// `filter` is None). The partition's files are read whole when they hold
/// nothing else, and filtered row by row otherwise.
async fn partition_of(
    ctx: &SessionContext,
    name: &TableName,
    table: Table,
    snapshot: i64,
    filter: Option<(TransformKind, String, String)>,
) -> Result<Arc<dyn TableProvider>> {
    let provider = IcebergStaticTableProvider::try_new_from_table_snapshot(table.clone(), snapshot)
        .await
        .map_err(|e| iceberg_error(&format!("reading {name} at snapshot {snapshot}"), e))?;
    let Some((kind, column, label)) = &filter else {
        return Ok(Arc::new(provider));
    };
    let t = column_type(&provider, column)?;
    if let Some(bounds) = partition_bounds(*kind, &t, label) {
        if let Some(files) = PartitionFiles::plan(&table, snapshot, *kind, column, &bounds).await? {
            return Ok(Arc::new(files));
        }
    }
    restrict(ctx, Arc::new(provider), filter)
}

fn column_type(provider: &dyn TableProvider, column: &str) -> Result<DataType> {
    provider
        .schema()
        .field_with_name(column)
        .map(|f| f.data_type().clone())
        .map_err(|_| GoldError::Query(format!("the input has no column `{column}`")))
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
    let t = column_type(provider.as_ref(), &column)?;
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
