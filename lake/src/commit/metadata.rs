//! Writing a table's next metadata file and swapping the catalog pointer to it:
//! the last step of every change Floe makes to a table (task commits, rollbacks,
//! maintenance).

use std::str::FromStr;

use iceberg::spec::{TableMetadata, TableMetadataBuilder};
use iceberg::table::Table;
use iceberg::MetadataLocation;

use crate::error::{LakeError, Result};

/// A builder over `table`'s metadata that records the current file in the
/// metadata log.
pub(crate) fn builder(table: &Table) -> Result<TableMetadataBuilder> {
    let current = table
        .metadata_location_result()
        .map_err(LakeError::iceberg("reading the metadata location"))?;
    Ok(TableMetadataBuilder::new_from_metadata(
        table.metadata().clone(),
        Some(current.to_string()),
    ))
}

/// Writes `next` as the version after `table`'s current metadata file, next to
/// it, and returns its location. Nothing is visible until the pointer is swapped.
pub(crate) async fn write_next(table: &Table, next: &TableMetadata) -> Result<String> {
    let current = table
        .metadata_location_result()
        .map_err(LakeError::iceberg("reading the metadata location"))?;
    let location = MetadataLocation::from_str(current)
        .map_err(LakeError::iceberg("parsing the metadata location"))?
        .with_next_version()
        .with_new_metadata(next);
    next.write_to(table.file_io(), &location)
        .await
        .map_err(LakeError::iceberg("writing the new table metadata"))?;
    let location = location.to_string();
    super::durable::sync_files([location.as_str()]).await?;
    Ok(location)
}
