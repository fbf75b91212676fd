//! The narrow catalog interface of Floe's commit layer, and its implementations.
//!
//! iceberg-rust's `Catalog::update_table` only takes commits built by its own
//! transactions (fast append). Floe builds its own snapshots (overwrite, replace)
//! and needs just three things from a catalog: load a table, create one, and swap
//! the metadata pointer atomically. `contract_tests` checks every implementation
//! against the same expectations.

mod glue;
mod settings;
mod sql;
mod warehouse;

#[cfg(any(test, feature = "test-support"))]
pub mod contract_tests;

use async_trait::async_trait;
use iceberg::io::FileIO;
use iceberg::spec::TableMetadata;
use iceberg::table::Table;
use iceberg::TableCreation;

pub use glue::GlueCatalog;
pub use settings::CatalogConfig;
pub use sql::SqlCatalog;
pub use warehouse::WarehouseFiles;

use crate::error::{LakeError, Result};
use crate::TableName;

/// The result of a compare-and-swap of a table's metadata pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwapOutcome {
    /// The pointer moved to the new metadata.
    Swapped,
    /// The pointer no longer held the expected location: someone else committed.
    Conflict,
}

/// A catalog of Iceberg tables as Floe uses it.
///
/// Contract (checked by `contract_tests` for every implementation):
/// - `load_table` returns the table as of its current metadata pointer, or `None`
///   if it does not exist.
/// - `ensure_table` creates the table and its namespace if absent and returns the
///   current table either way; concurrent callers all succeed and see one table.
/// - `swap_metadata` moves the pointer from `expected` to `new` only if it still is
///   `expected`, atomically; `Conflict` means nothing changed. An `Err` means the
///   outcome is unknown (e.g. a timeout after sending): the caller must reload the
///   table to learn whether the swap happened.
/// - `schema_changed` is told after a swap that changed the current schema to
///   `metadata`'s; a catalog that keeps its own copy of the columns (Glue's
///   storage descriptor, which Athena's and Glue's consoles show) updates it,
///   leaving the pointer as it is. Others do nothing.
#[async_trait]
pub trait TableCatalog: Send + Sync + std::fmt::Debug {
    async fn load_table(&self, name: &TableName) -> Result<Option<Table>>;

    async fn ensure_table(&self, name: &TableName, creation: TableCreation) -> Result<Table>;

    async fn swap_metadata(
        &self,
        name: &TableName,
        expected: &str,
        new: &str,
    ) -> Result<SwapOutcome>;

    async fn schema_changed(&self, _name: &TableName, _metadata: &TableMetadata) -> Result<()> {
        Ok(())
    }
}

/// The table `name` as of its metadata file at `location`.
pub(crate) async fn table_at(file_io: &FileIO, name: &TableName, location: &str) -> Result<Table> {
    let metadata =
        TableMetadata::read_from(file_io, location)
            .await
            .map_err(LakeError::iceberg(format!(
                "reading metadata of {name} at {location}"
            )))?;
    let runtime =
        iceberg::Runtime::try_current().map_err(LakeError::iceberg("finding the async runtime"))?;
    Table::builder()
        .runtime(runtime)
        .file_io(file_io.clone())
        .metadata_location(location)
        .metadata(metadata)
        .identifier(name.ident())
        .build()
        .map_err(LakeError::iceberg(format!("loading {name}")))
}
