//! The AWS Glue Data Catalog, so Athena (and any Glue-aware engine) queries the
//! tables Floe writes.
//!
//! Tables and databases are created by iceberg-catalog-glue, which writes the
//! storage-descriptor columns and the `table_type=ICEBERG` / `metadata_location`
//! parameters Athena reads. Floe's own commits then swap the pointer with
//! `UpdateTable` carrying the `VersionId` read just before: Glue rejects the
//! update with `ConcurrentModificationException` if anyone changed the table
//! since, which makes the swap a compare-and-swap. The update keeps everything
//! else about the Glue table (its parameters, columns, description, owner).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_glue::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_glue::types::{Table as GlueTable, TableInput};
use aws_sdk_glue::Client;
use iceberg::io::{FileIO, FileIOBuilder};
use iceberg::spec::TableMetadata;
use iceberg::table::Table;
use iceberg::{Catalog, CatalogBuilder, NamespaceIdent, TableCreation};
use iceberg_catalog_glue::{GlueCatalogBuilder, GLUE_CATALOG_PROP_WAREHOUSE};

use super::{SwapOutcome, TableCatalog};
use crate::contract::TableName;
use crate::error::{FloeError, Result};

const METADATA_LOCATION: &str = "metadata_location";
const PREVIOUS_METADATA_LOCATION: &str = "previous_metadata_location";

/// Iceberg tables in AWS Glue, with data and metadata under an `s3://` warehouse.
#[derive(Clone)]
pub struct GlueCatalog {
    name: String,
    warehouse: String,
    inner: Arc<iceberg_catalog_glue::GlueCatalog>,
    client: Client,
    file_io: FileIO,
}

impl std::fmt::Debug for GlueCatalog {
    // Not derived: the clients' configs hold the credentials provider.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlueCatalog")
            .field("name", &self.name)
            .field("warehouse", &self.warehouse)
            .finish()
    }
}

fn catalog_error(table: impl ToString, message: impl Into<String>) -> FloeError {
    FloeError::Catalog {
        table: table.to_string(),
        message: message.into(),
    }
}

/// Glue's error code and message (or the transport failure), never the request:
/// the request's signature headers are not part of what is shown.
fn describe<E: ProvideErrorMetadata + std::error::Error + 'static>(e: &SdkError<E>) -> String {
    match e.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("unknown error"),
            service.message().unwrap_or("")
        ),
        None => DisplayErrorContext(e).to_string(),
    }
}

impl GlueCatalog {
    /// The Glue catalog of `sdk`'s account and region, creating new tables under
    /// `warehouse` (`s3://bucket/prefix`). `name` is the name other engines use.
    pub async fn open(name: &str, warehouse: &str, sdk: &SdkConfig) -> Result<Self> {
        let (storage, mut props) = crate::aws::s3_storage(sdk);
        let file_io = FileIOBuilder::new(storage.clone())
            .with_props(props.clone())
            .build();
        props.insert(
            GLUE_CATALOG_PROP_WAREHOUSE.to_string(),
            warehouse.to_string(),
        );
        let inner = GlueCatalogBuilder::default()
            .with_storage_factory(storage)
            .load(name, props)
            .await
            .map_err(|e| catalog_error(warehouse, format!("opening the Glue catalog: {e}")))?;
        Ok(Self {
            name: name.to_string(),
            warehouse: warehouse.to_string(),
            inner: Arc::new(inner),
            client: Client::new(sdk),
            file_io,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn warehouse(&self) -> &str {
        &self.warehouse
    }

    /// The Glue table, or `None` if it (or its database) does not exist.
    async fn glue_table(&self, name: &TableName) -> Result<Option<GlueTable>> {
        let result = self
            .client
            .get_table()
            .database_name(&name.namespace)
            .name(&name.name)
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.table),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_entity_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(catalog_error(
                name,
                format!(
                    "Glue GetTable failed: {}. Check the region, the endpoint and that \
                     the role may call glue:GetTable",
                    describe(&e)
                ),
            )),
        }
    }

    async fn ensure_database(&self, name: &TableName) {
        let namespace = NamespaceIdent::new(name.namespace.clone());
        // Losing a creation race to another process is fine: the database exists.
        if !self
            .inner
            .namespace_exists(&namespace)
            .await
            .unwrap_or(false)
        {
            let _ = self
                .inner
                .create_namespace(&namespace, HashMap::new())
                .await;
        }
    }
}

fn metadata_location(table: &GlueTable) -> Option<&str> {
    table
        .parameters()
        .and_then(|p| p.get(METADATA_LOCATION))
        .map(String::as_str)
}

/// The table's definition as Glue holds it, with the metadata pointer moved
/// from `expected` to `new`: parameters, columns, description and owner stay.
fn repointed(table: &GlueTable, expected: &str, new: &str) -> Result<TableInput> {
    let mut parameters = table.parameters().cloned().unwrap_or_default();
    parameters.insert(METADATA_LOCATION.to_string(), new.to_string());
    parameters.insert(PREVIOUS_METADATA_LOCATION.to_string(), expected.to_string());
    TableInput::builder()
        .name(table.name())
        .set_description(table.description().map(str::to_string))
        .set_owner(table.owner().map(str::to_string))
        .set_retention(Some(table.retention()))
        .set_storage_descriptor(table.storage_descriptor().cloned())
        .set_partition_keys(table.partition_keys.clone())
        .set_table_type(table.table_type().map(str::to_string))
        .set_parameters(Some(parameters))
        .build()
        .map_err(|e| catalog_error(table.name(), format!("building the Glue update: {e}")))
}

#[async_trait]
impl TableCatalog for GlueCatalog {
    async fn load_table(&self, name: &TableName) -> Result<Option<Table>> {
        let Some(glue_table) = self.glue_table(name).await? else {
            return Ok(None);
        };
        let location = metadata_location(&glue_table).ok_or_else(|| {
            catalog_error(
                name,
                "the Glue table has no metadata_location parameter: it is not an Iceberg \
                 table. Drop it or choose another table name in the contract",
            )
        })?;
        let metadata = TableMetadata::read_from(&self.file_io, location)
            .await
            .map_err(FloeError::iceberg(format!(
                "reading metadata of {name} at {location}"
            )))?;
        let runtime = iceberg::Runtime::try_current()
            .map_err(FloeError::iceberg("finding the async runtime"))?;
        Table::builder()
            .runtime(runtime)
            .file_io(self.file_io.clone())
            .metadata_location(location)
            .metadata(metadata)
            .identifier(name.ident())
            .build()
            .map(Some)
            .map_err(FloeError::iceberg(format!("loading {name}")))
    }

    async fn ensure_table(&self, name: &TableName, creation: TableCreation) -> Result<Table> {
        if let Some(table) = self.load_table(name).await? {
            return Ok(table);
        }
        self.ensure_database(name).await;
        let namespace = NamespaceIdent::new(name.namespace.clone());
        // A concurrent creator may win (AlreadyExistsException): the table exists.
        let created = self.inner.create_table(&namespace, creation).await;
        match self.load_table(name).await? {
            Some(table) => Ok(table),
            None => Err(catalog_error(
                name,
                created
                    .err()
                    .map(|e| format!("creating the table in Glue failed: {e}"))
                    .unwrap_or_else(|| "the table vanished after creation".into()),
            )),
        }
    }

    async fn swap_metadata(
        &self,
        name: &TableName,
        expected: &str,
        new: &str,
    ) -> Result<SwapOutcome> {
        let Some(table) = self.glue_table(name).await? else {
            return Err(catalog_error(name, "the table was dropped from Glue"));
        };
        if metadata_location(&table) != Some(expected) {
            return Ok(SwapOutcome::Conflict);
        }
        let Some(version_id) = table.version_id() else {
            return Err(catalog_error(
                name,
                "Glue returned no VersionId, so the pointer cannot be swapped safely",
            ));
        };
        let result = self
            .client
            .update_table()
            .database_name(&name.namespace)
            .table_input(repointed(&table, expected, new)?)
            .version_id(version_id)
            .send()
            .await;
        match result {
            Ok(_) => Ok(SwapOutcome::Swapped),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_concurrent_modification_exception()) =>
            {
                Ok(SwapOutcome::Conflict)
            }
            // A timeout or dropped connection after sending leaves the outcome
            // unknown; the caller reloads the table to settle it.
            Err(e) => Err(catalog_error(
                name,
                format!(
                    "Glue UpdateTable failed: {}. Check that the role may call \
                     glue:UpdateTable",
                    describe(&e)
                ),
            )),
        }
    }
}
