//! Reading given live data files of a table back as Arrow batches (compaction
//! rewrites them; reprocessing re-validates quarantined rows).

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use iceberg::arrow::ArrowReaderBuilder;
use iceberg::scan::FileScanTask;
use iceberg::spec::DataFileFormat;
use iceberg::table::Table;

use crate::commit::files::LiveFile;
use crate::error::{LakeError, Result};

/// Every row of `files` (in the table's current schema), file by file.
pub fn read_files(
    table: &Table,
    files: &[LiveFile],
) -> Result<BoxStream<'static, Result<RecordBatch>>> {
    let schema = table.metadata().current_schema();
    let field_ids: Vec<i32> = schema.as_struct().fields().iter().map(|f| f.id).collect();
    read_columns(table, files, &field_ids)
}

/// The columns `field_ids` of every row of `files`, file by file.
pub fn read_columns(
    table: &Table,
    files: &[LiveFile],
    field_ids: &[i32],
) -> Result<BoxStream<'static, Result<RecordBatch>>> {
    let meta = table.metadata();
    let schema = meta.current_schema().clone();
    let field_ids = field_ids.to_vec();
    let spec = meta.default_partition_spec().clone();
    let tasks: Vec<iceberg::Result<FileScanTask>> = files
        .iter()
        .map(|f| {
            Ok(FileScanTask::builder()
                .with_file_size_in_bytes(f.bytes)
                .with_start(0)
                .with_length(f.bytes)
                .with_record_count(Some(f.records))
                .with_data_file_path(f.data_file.file_path().to_string())
                .with_data_file_format(DataFileFormat::Parquet)
                .with_schema(schema.clone())
                .with_project_field_ids(field_ids.clone())
                .with_partition(Some(f.partition.clone()))
                .with_partition_spec(Some(Arc::clone(&spec)))
                .with_case_sensitive(true)
                .build())
        })
        .collect();
    let runtime =
        iceberg::Runtime::try_current().map_err(LakeError::iceberg("finding the async runtime"))?;
    let batches = ArrowReaderBuilder::new(table.file_io().clone(), runtime)
        .build()
        .read(futures::stream::iter(tasks).boxed())
        .map_err(LakeError::iceberg("reading data files"))?
        .stream()
        .map_err(|e| LakeError::iceberg("reading data files")(e))
        .and_then(|batch| futures::future::ready(plain_columns(batch)));
    Ok(batches.boxed())
}

/// `batch` with run-end encoded columns decoded to their value type. The
/// reader fills an identity partition column (the quarantine table's
/// `source_partition`) with one run-end encoded constant per file; a writer
/// of the table expects its plain type.
fn plain_columns(batch: RecordBatch) -> Result<RecordBatch> {
    let encoded = |f: &Field| matches!(f.data_type(), DataType::RunEndEncoded(_, _));
    if !batch.schema().fields().iter().any(|f| encoded(f)) {
        return Ok(batch);
    }
    let failed = |e: arrow_schema::ArrowError| {
        LakeError::iceberg("decoding a run-end encoded column")(iceberg::Error::new(
            iceberg::ErrorKind::DataInvalid,
            e.to_string(),
        ))
    };
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        match field.data_type() {
            DataType::RunEndEncoded(_, values) => {
                let plain = values.data_type().clone();
                columns.push(arrow_cast::cast(column, &plain).map_err(failed)?);
                fields.push(Arc::new(field.as_ref().clone().with_data_type(plain)));
            }
            _ => {
                columns.push(column.clone());
                fields.push(field.clone());
            }
        }
    }
    let schema = Schema::new_with_metadata(fields, batch.schema().metadata().clone());
    RecordBatch::try_new(Arc::new(schema), columns).map_err(failed)
}
