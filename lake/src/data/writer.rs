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
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::constants::Constants;
use crate::error::{LakeError, Result};

type Inner =
    DataFileWriter<ParquetWriterBuilder, DefaultLocationGenerator, DefaultFileNameGenerator>;

/// Table property naming integer columns (comma-separated) that grow by small
/// steps, such as line numbers: every writer of the table stores them as
/// deltas (DELTA_BINARY_PACKED), a fraction of a byte per row.
pub const DELTA_COLUMNS_PROPERTY: &str = "floe.write.delta-columns";

/// The spec id iceberg's data file writer leaves on files written without a
/// partition key.
const UNPARTITIONED_SPEC_ID: i32 = 0;

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

/// What a writer's caller knows about some columns' values, to spare work
/// per row.
#[derive(Debug, Clone, Copy, Default)]
pub struct ColumnHints<'a> {
    /// Columns whose values rarely repeat (keys, raw text): they skip
    /// dictionary encoding, which would only be built and thrown away.
    pub unique: &'a [&'a str],
    /// String columns holding, in every row of a batch, the value the batch
    /// declares ([`PartitionWriter::write_constants`]). Parquet keeps no
    /// statistics for them (it would compare the value with itself row after
    /// row); the data files' bounds and null counts come from the declared
    /// values, and are left unknown if the batches disagree or one declares
    /// nothing.
    pub constant: &'a [&'a str],
}

pub struct PartitionWriter {
    inner: Inner,
    schema: SchemaRef,
    rows: u64,
    constants: Constants,
    spec_id: i32,
}

impl PartitionWriter {
    /// `file_prefix` names the files (run, task and attempt make them traceable);
    /// `partition` is the empty struct for an unpartitioned table.
    pub async fn new(
        table: &Table,
        partition: Struct,
        file_prefix: String,
        target_file_size: u64,
        hints: &ColumnHints<'_>,
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
        for column in hints.unique {
            props = props.set_column_dictionary_enabled(ColumnPath::from(*column), false);
        }
        let constants = Constants::new(meta.current_schema(), hints.constant);
        for column in constants.names() {
            props = props
                .set_column_statistics_enabled(ColumnPath::from(column), EnabledStatistics::None);
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
        // What iceberg's data file writer records in the files it returns.
        let spec_id = key
            .as_ref()
            .map_or(UNPARTITIONED_SPEC_ID, |k| k.spec().spec_id());
        let inner = DataFileWriterBuilder::new(rolling)
            .build(key)
            .await
            .map_err(LakeError::iceberg("opening a data file writer"))?;
        Ok(Self {
            inner,
            schema,
            rows: 0,
            constants,
            spec_id,
        })
    }

    /// The table's Arrow schema, with the field ids the Parquet files need.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Writes rows whose columns follow the table schema (nullability may be looser).
    pub async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        self.write_constants(batch, &[]).await
    }

    /// Writes rows as [`Self::write`] does, where each `(column, value)` of
    /// `constants` says every row of that column holds `value`.
    pub async fn write_constants(
        &mut self,
        batch: RecordBatch,
        constants: &[(&str, &str)],
    ) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.constants.record(&batch, constants);
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
        let files = self
            .inner
            .close()
            .await
            .map_err(LakeError::iceberg("closing Parquet data files"))?;
        Ok(files
            .into_iter()
            .map(|f| self.constants.apply(f, self.spec_id))
            .collect())
    }
}
