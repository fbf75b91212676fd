//! What another engine's row-level `DELETE` commits (Athena, Spark
//! merge-on-read): a position delete file in a delete manifest, in a snapshot
//! whose operation is `delete`. Floe never writes one; tests use this to check
//! that maintenance and passes keep such files and never bring the deleted
//! rows back.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use iceberg::spec::{
    DataContentType, DataFileBuilder, DataFileFormat, ManifestListWriter, ManifestWriterBuilder,
    Operation, Summary,
};
use parquet::arrow::ArrowWriter;

use super::files::{partition_path, snapshot_files};
use crate::catalog::{SwapOutcome, TableCatalog};
use crate::error::{LakeError, Result};
use crate::TableName;

/// The reserved field ids of a position delete file's columns (Iceberg spec).
const FILE_PATH_FIELD_ID: &str = "2147483546";
const POS_FIELD_ID: &str = "2147483545";

fn failed(table: &TableName, message: impl Into<String>) -> LakeError {
    LakeError::Maintenance {
        table: table.to_string(),
        message: message.into(),
    }
}

fn ice(context: &str) -> impl FnOnce(iceberg::Error) -> LakeError + '_ {
    LakeError::iceberg(context)
}

/// Deletes the rows at `positions` (0-based) of the live data file
/// `data_file` of `name`, as another engine would: one new snapshot on `main`.
/// Returns the snapshot id.
pub async fn delete_rows(
    catalog: &dyn TableCatalog,
    name: &TableName,
    data_file: &str,
    positions: &[i64],
) -> Result<i64> {
    let table = catalog
        .load_table(name)
        .await?
        .ok_or_else(|| failed(name, "the table does not exist"))?;
    let meta = table.metadata();
    let parent = meta
        .current_snapshot()
        .ok_or_else(|| failed(name, "the table has no snapshot"))?;
    let live = snapshot_files(&table, parent).await?;
    let target = live
        .data
        .get(data_file)
        .ok_or_else(|| failed(name, format!("{data_file} is not live in it")))?;

    let file_io = table.file_io();
    let path = format!(
        "{}/data/{}/{}-deletes.parquet",
        meta.location(),
        partition_path(&table, target),
        uuid::Uuid::now_v7()
    );
    let bytes = position_delete_parquet(data_file, positions)
        .map_err(|e| failed(name, format!("writing the delete file: {e}")))?;
    let size = bytes.len() as u64;
    file_io
        .new_output(&path)
        .map_err(ice("creating the delete file"))?
        .write(bytes.into())
        .await
        .map_err(ice("writing the delete file"))?;
    let delete_file = DataFileBuilder::default()
        .content(DataContentType::PositionDeletes)
        .file_path(path)
        .file_format(DataFileFormat::Parquet)
        .partition(target.partition.clone())
        .partition_spec_id(target.spec_id)
        .record_count(positions.len() as u64)
        .file_size_in_bytes(size)
        .build()
        .map_err(|e| failed(name, format!("describing the delete file: {e}")))?;

    let snapshot_id = super::stage::new_snapshot_id(&table);
    let sequence_number = meta.next_sequence_number();
    let spec = meta
        .partition_spec_by_id(target.spec_id)
        .ok_or_else(|| failed(name, "the data file's partition spec is unknown"))?;
    let manifest_out = file_io
        .new_output(format!(
            "{}/metadata/{}-deletes-m0.avro",
            meta.location(),
            uuid::Uuid::new_v4()
        ))
        .map_err(ice("creating the delete manifest"))?;
    let mut manifest = ManifestWriterBuilder::new(
        manifest_out,
        Some(snapshot_id),
        meta.current_schema().clone(),
        spec.as_ref().clone(),
    )
    .build_v2_deletes();
    manifest
        .add_file(delete_file, -1)
        .map_err(ice("adding the delete file"))?;
    let delete_manifest = manifest
        .write_manifest_file()
        .await
        .map_err(ice("writing the delete manifest"))?;

    let parent_manifests = table
        .manifest_list_reader(parent)
        .load()
        .await
        .map_err(ice("reading the parent manifest list"))?
        .entries()
        .to_vec();
    let list_path = format!(
        "{}/metadata/snap-{snapshot_id}-1-{}.avro",
        meta.location(),
        uuid::Uuid::new_v4()
    );
    let mut list = ManifestListWriter::v2(
        file_io
            .new_output(&list_path)
            .map_err(ice("creating the manifest list"))?
            .writer()
            .await
            .map_err(ice("opening the manifest list"))?,
        snapshot_id,
        Some(parent.snapshot_id()),
        sequence_number,
    );
    list.add_manifests(parent_manifests.into_iter().chain([delete_manifest]))
        .map_err(ice("listing manifests"))?;
    list.close()
        .await
        .map_err(ice("writing the manifest list"))?;

    let summary = Summary {
        operation: Operation::Delete,
        additional_properties: HashMap::from([
            ("added-delete-files".to_string(), "1".to_string()),
            ("added-position-delete-files".to_string(), "1".to_string()),
            (
                "added-position-deletes".to_string(),
                positions.len().to_string(),
            ),
        ]),
    };
    let next = super::stage::NextSnapshot {
        snapshot_id,
        parent_snapshot_id: table.metadata().current_snapshot_id(),
        sequence_number,
        manifest_list: list_path,
        summary,
    };
    let location = next
        .write(&table, iceberg::spec::MAIN_BRANCH, HashMap::new())
        .await?;
    let expected = table
        .metadata_location_result()
        .map_err(ice("reading the metadata location"))?;
    match catalog.swap_metadata(name, expected, &location).await? {
        SwapOutcome::Swapped => Ok(snapshot_id),
        SwapOutcome::Conflict => Err(failed(name, "it changed while the delete was staged")),
    }
}

/// A position delete file's Parquet bytes: `file_path` and `pos` per deleted row.
fn position_delete_parquet(
    data_file: &str,
    positions: &[i64],
) -> std::result::Result<Vec<u8>, parquet::errors::ParquetError> {
    let field = |name: &str, data_type: DataType, id: &str| {
        Field::new(name, data_type, false).with_metadata(HashMap::from([(
            parquet::arrow::PARQUET_FIELD_ID_META_KEY.to_string(),
            id.to_string(),
        )]))
    };
    let schema = Arc::new(Schema::new(vec![
        field("file_path", DataType::Utf8, FILE_PATH_FIELD_ID),
        field("pos", DataType::Int64, POS_FIELD_ID),
    ]));
    let mut sorted = positions.to_vec();
    sorted.sort_unstable();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![data_file; sorted.len()])),
        Arc::new(Int64Array::from(sorted)),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, schema, None)?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(bytes)
}
