//! Reading given live data files of a table back as Arrow batches (compaction
//! rewrites them; reprocessing re-validates quarantined rows).

use std::sync::Arc;

use arrow_array::RecordBatch;
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
    let meta = table.metadata();
    let schema = meta.current_schema().clone();
    let field_ids: Vec<i32> = schema.as_struct().fields().iter().map(|f| f.id).collect();
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
        .map_err(|e| LakeError::iceberg("reading data files")(e));
    Ok(batches.boxed())
}
