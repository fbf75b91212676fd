//! An input read as the whole files of one partition.
//!
//! Iceberg's scan of a partition's bounds prunes the table's files by their
//! partition values, then filters every row of the files it keeps again, and
//! DataFusion filters them a third time above the scan. When every file kept
//! lies wholly in the partition (its partition value under the bounds' own
//! transform is the partition's), both row filters can only keep every row:
//! [`PartitionFiles`] reads those files whole and filters nothing. A table
//! that may hold other partitions' rows in those files (one partitioned
//! another way, or whose spec changed, or with delete files) leaves the
//! filtered scan to the caller.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchOptions};
use arrow_schema::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::error::Result as DFResult;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use floe_common::contract::TransformKind;
use futures::{StreamExt, TryStreamExt};
use iceberg::expr::{Predicate, Reference};
use iceberg::scan::FileScanTask;
use iceberg::spec::{Datum, Literal};
use iceberg::table::Table;
use iceberg::transform::create_transform_function;
use iceberg_datafusion::to_datafusion_error;

use crate::error::{iceberg_error, Result};
use crate::partition::Bounds;

/// The files of one partition of a table snapshot, read whole.
#[derive(Debug)]
pub struct PartitionFiles {
    table: Table,
    schema: SchemaRef,
    /// The Iceberg field id of each column of `schema`, in order.
    field_ids: Vec<i32>,
    /// Every file of the partition, without a row filter.
    files: Vec<FileScanTask>,
}

impl PartitionFiles {
    /// The files of `snapshot` of `table` holding the rows of `column` within
    /// `bounds`, a partition of `kind(column)`. None when one of those files
    /// may hold rows outside the partition: its rows must be filtered.
    pub async fn plan(
        table: &Table,
        snapshot: i64,
        kind: TransformKind,
        column: &str,
        bounds: &Bounds,
    ) -> Result<Option<Self>> {
        let context = || format!("planning the files of {column}'s partition");
        let meta = table.metadata();
        let Some(schema) = meta.snapshot_by_id(snapshot).map(|s| s.schema(meta)) else {
            return Ok(None);
        };
        let schema = schema.map_err(|e| iceberg_error(&context(), e))?;
        let Some(field) = schema.field_by_name(column) else {
            return Ok(None);
        };
        let (Some(predicate), Some(first)) = (predicate(column, bounds), datum(bounds.first()))
        else {
            return Ok(None);
        };
        let transform = floe_common::table::iceberg_transform(kind);
        let value = create_transform_function(&transform)
            .and_then(|f| f.transform_literal(&first))
            .map_err(|e| iceberg_error(&context(), e))?;
        let Some(value) = value.map(|d| Literal::Primitive(d.literal().clone())) else {
            return Ok(None);
        };
        let mut files: Vec<FileScanTask> = table
            .scan()
            .snapshot_id(snapshot)
            .select_all()
            .with_filter(predicate)
            .build()
            .map_err(|e| iceberg_error(&context(), e))?
            .plan_files()
            .await
            .map_err(|e| iceberg_error(&context(), e))?
            .try_collect()
            .await
            .map_err(|e| iceberg_error(&context(), e))?;
        // A scan's tasks do not name their file's partition spec: with a
        // single spec in the table, every file was written under it.
        if meta.partition_specs_iter().len() != 1 {
            return Ok(None);
        }
        let at = meta
            .default_partition_spec()
            .fields()
            .iter()
            .position(|p| p.source_id == field.id && p.transform == transform);
        let Some(at) = at else {
            return Ok(None);
        };
        let whole = |f: &FileScanTask| {
            let value_there = f.partition.as_ref().and_then(|p| p.fields().get(at));
            f.deletes.is_empty() && value_there == Some(&Some(value.clone()))
        };
        if !files.iter().all(whole) {
            return Ok(None);
        }
        for f in &mut files {
            f.predicate = None;
        }
        let arrow = iceberg::arrow::schema_to_arrow_schema(&schema)
            .map_err(|e| iceberg_error(&context(), e))?;
        Ok(Some(Self {
            table: table.clone(),
            schema: Arc::new(arrow),
            field_ids: schema.as_struct().fields().iter().map(|f| f.id).collect(),
            files,
        }))
    }
}

/// The Iceberg predicate of `column` within `bounds`.
fn predicate(column: &str, bounds: &Bounds) -> Option<Predicate> {
    let c = || Reference::new(column);
    Some(match bounds {
        Bounds::Equals(v) => c().equal_to(datum(v)?),
        Bounds::Range(start, end) => c()
            .greater_than_or_equal_to(datum(start)?)
            .and(c().less_than(datum(end)?)),
    })
}

/// A bound as an Iceberg value: the types [`crate::partition::partition_bounds`] makes.
fn datum(v: &ScalarValue) -> Option<Datum> {
    Some(match v {
        ScalarValue::Utf8(Some(s)) => Datum::string(s),
        ScalarValue::Int32(Some(i)) => Datum::int(*i),
        ScalarValue::Int64(Some(i)) => Datum::long(*i),
        ScalarValue::Date32(Some(d)) => Datum::date(*d),
        ScalarValue::TimestampMicrosecond(Some(t), Some(_)) => Datum::timestamptz_micros(*t),
        ScalarValue::TimestampMicrosecond(Some(t), None) => Datum::timestamp_micros(*t),
        _ => return None,
    })
}

#[async_trait::async_trait]
impl TableProvider for PartitionFiles {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Filters and limits are left to DataFusion, above the scan.
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let columns: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.field_ids.len()).collect(),
        };
        let schema = Arc::new(self.schema.project(&columns)?);
        // A scan of no columns (`COUNT(*)`) reads the first one for its rows.
        let read = if columns.is_empty() { vec![0] } else { columns };
        let ids: Vec<i32> = read.iter().map(|i| self.field_ids[*i]).collect();
        let groups = state
            .config()
            .target_partitions()
            .clamp(1, self.files.len().max(1));
        let mut parts = vec![Vec::new(); groups];
        for (i, f) in self.files.iter().enumerate() {
            let mut f = f.clone();
            f.project_field_ids = ids.clone();
            parts[i % groups].push(f);
        }
        Ok(Arc::new(FilesExec::new(self.table.clone(), schema, parts)))
    }
}

/// Reads groups of whole files, one group per output partition.
struct FilesExec {
    table: Table,
    schema: SchemaRef,
    parts: Vec<Vec<FileScanTask>>,
    properties: Arc<PlanProperties>,
}

impl FilesExec {
    fn new(table: Table, schema: SchemaRef, parts: Vec<Vec<FileScanTask>>) -> Self {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(parts.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Self {
            table,
            schema,
            parts,
            properties,
        }
    }
}

impl fmt::Debug for FilesExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files: usize = self.parts.iter().map(Vec::len).sum();
        write!(
            f,
            "FilesExec({} files of {})",
            files,
            self.table.identifier()
        )
    }
}

impl DisplayAs for FilesExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl ExecutionPlan for FilesExec {
    fn name(&self) -> &str {
        "FilesExec"
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DFResult<SendableRecordBatchStream> {
        let files = self.parts.get(partition).cloned().ok_or_else(|| {
            DataFusionError::Internal(format!("FilesExec has no partition {partition}"))
        })?;
        let tasks = futures::stream::iter(files.into_iter().map(Ok)).boxed();
        let batches = self
            .table
            .reader_builder()
            .with_batch_size(context.session_config().batch_size())
            .build()
            .read(tasks)
            .map_err(to_datafusion_error)?
            .stream();
        let schema = self.schema.clone();
        // The declared schema on every batch (the reader's may differ in
        // metadata); a scan of no columns keeps only the row counts.
        let conformed = batches.map(move |b| {
            let b = b.map_err(to_datafusion_error)?;
            let columns = if schema.fields().is_empty() {
                vec![]
            } else {
                b.columns().to_vec()
            };
            let options = RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
            Ok(RecordBatch::try_new_with_options(
                schema.clone(),
                columns,
                &options,
            )?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            conformed,
        )))
    }
}

#[cfg(test)]
#[path = "partition_scan_tests.rs"]
mod tests;
