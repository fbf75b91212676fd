//! Writes one partition of one table: Parquet (zstd) through iceberg's data file
//! writer, rolling to the table's target file size.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use iceberg::spec::{DataFile, DataFileFormat, PartitionKey, Struct};
use iceberg::table::Table;
use iceberg::writer::base_writer::data_file_writer::{DataFileWriter, DataFileWriterBuilder};
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use crate::error::{LakeError, Result};

type Inner =
    DataFileWriter<ParquetWriterBuilder, DefaultLocationGenerator, DefaultFileNameGenerator>;

/// Table property naming integer columns (comma-separated) that grow by small
/// steps, such as line numbers: every writer of the table stores them as
/// deltas (DELTA_BINARY_PACKED), a fraction of a byte per row.
pub const DELTA_COLUMNS_PROPERTY: &str = "floe.write.delta-columns";

fn delta_columns(properties: &std::collections::HashMap<String, String>) -> Vec<&str> {
    properties
        .get(DELTA_COLUMNS_PROPERTY)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

pub struct PartitionWriter {
    inner: Inner,
    schema: SchemaRef,
    rows: u64,
}

impl PartitionWriter {
    /// `file_prefix` names the files (run, task and attempt make them traceable);
    /// `partition` is the empty struct for an unpartitioned table.
    /// Columns in `unique_columns` (keys, raw text) skip dictionary encoding,
    /// which would only be built and thrown away for them.
    pub async fn new(
        table: &Table,
        partition: Struct,
        file_prefix: String,
        target_file_size: u64,
        unique_columns: &[&str],
    ) -> Result<Self> {
        let meta = table.metadata();
        let schema = Arc::new(
            iceberg::arrow::schema_to_arrow_schema(meta.current_schema())
                .map_err(LakeError::iceberg("converting the table schema to Arrow"))?,
        );
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(1).expect("valid level"),
            ))
            .set_max_row_group_row_count(Some(512 * 1024));
        for column in unique_columns {
            props = props.set_column_dictionary_enabled(ColumnPath::from(*column), false);
        }
        for column in delta_columns(meta.properties()) {
            props = props
                .set_column_dictionary_enabled(ColumnPath::from(column), false)
                .set_column_encoding(ColumnPath::from(column), Encoding::DELTA_BINARY_PACKED);
        }
        let props = props.build();
        let parquet = ParquetWriterBuilder::new(props, meta.current_schema().clone());
        let location = DefaultLocationGenerator::new(meta)
            .map_err(LakeError::iceberg("choosing the data location"))?;
        let names = DefaultFileNameGenerator::new(file_prefix, None, DataFileFormat::Parquet);
        let rolling = RollingFileWriterBuilder::new(
            parquet,
            target_file_size as usize,
            table.file_io().clone(),
            location,
            names,
        );
        let key = (!partition.fields().is_empty()).then(|| {
            PartitionKey::new(
                meta.default_partition_spec().as_ref().clone(),
                meta.current_schema().clone(),
                partition,
            )
        });
        let inner = DataFileWriterBuilder::new(rolling)
            .build(key)
            .await
            .map_err(LakeError::iceberg("opening a data file writer"))?;
        Ok(Self {
            inner,
            schema,
            rows: 0,
        })
    }

    /// The table's Arrow schema, with the field ids the Parquet files need.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Writes rows whose columns follow the table schema (nullability may be looser).
    pub async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.rows += batch.num_rows() as u64;
        let batch = RecordBatch::try_new(self.schema.clone(), batch.columns().to_vec())
            .map_err(|e| LakeError::SchemaMismatch(e.to_string()))?;
        self.inner
            .write(batch)
            .await
            .map_err(LakeError::iceberg("writing Parquet data"))
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Finishes the open file; the data files are not visible until committed.
    pub async fn close(mut self) -> Result<Vec<DataFile>> {
        if self.rows == 0 {
            return Ok(Vec::new());
        }
        self.inner
            .close()
            .await
            .map_err(LakeError::iceberg("closing Parquet data files"))
    }
}
