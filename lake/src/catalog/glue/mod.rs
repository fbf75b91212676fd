//! The AWS Glue Data Catalog, so Athena (and any Glue-aware engine) queries the
//! tables Floe writes.
//!
//! A new table gets the definition Athena reads (see `definition`): the
//! `table_type=ICEBERG` and `metadata_location` parameters and the schema as
//! storage-descriptor columns. (iceberg-catalog-glue 0.10 cannot create a table
//! with a `timestamptz` column, which every Floe table has, and builds its own
//! SDK client; Floe uses one SDK config for every AWS client instead.) Floe's
//! commits then swap the pointer with `UpdateTable` carrying the `VersionId` read
//! just before: Glue rejects the update with `ConcurrentModificationException`
//! if anyone changed the table since, which makes the swap a compare-and-swap.
//! The update keeps everything else about the Glue table (its parameters,
//! columns, description, owner).

mod definition;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_glue::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_glue::types::{DatabaseInput, Table as GlueTable, TableInput};
use aws_sdk_glue::Client;
use iceberg::io::{FileIO, FileIOBuilder};
use iceberg::spec::TableMetadata;
use iceberg::spec::TableMetadataBuilder;
use iceberg::table::Table;
use iceberg::{MetadataLocation, TableCreation};

use super::{SwapOutcome, TableCatalog};
use crate::aws::describe_error;
use crate::error::{LakeError, Result};
use crate::TableName;
use definition::{METADATA_LOCATION, PREVIOUS_METADATA_LOCATION};

/// Iceberg tables in AWS Glue, with data and metadata under an `s3://` warehouse.
#[derive(Clone)]
pub struct GlueCatalog {
    name: String,
    warehouse: String,
    client: Client,
    file_io: FileIO,
    /// Let Glue archive a table version at every commit (off: `SkipArchive`).
    archive_versions: bool,
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

fn catalog_error(table: impl ToString, message: impl Into<String>) -> LakeError {
    LakeError::Catalog {
        table: table.to_string(),
        message: message.into(),
    }
}

impl GlueCatalog {
    /// The Glue catalog of `sdk`'s account and region, creating new tables under
    /// `warehouse` (`s3://bucket/prefix`). `name` is the name other engines use.
    pub async fn open(name: &str, warehouse: &str, sdk: &SdkConfig) -> Result<Self> {
        if !warehouse.starts_with("s3://") {
            return Err(catalog_error(
                warehouse,
                "a Glue catalog's warehouse must be an s3://BUCKET/PREFIX location",
            ));
        }
        let (storage, props) = crate::aws::s3_storage(sdk);
        let file_io = FileIOBuilder::new(storage).with_props(props).build();
        Ok(Self {
            name: name.to_string(),
            warehouse: warehouse.trim_end_matches('/').to_string(),
            client: Client::new(sdk),
            file_io,
            archive_versions: false,
        })
    }

    /// Whether Glue keeps a copy of the table's previous definition at every
    /// commit. Off by default, as in Iceberg's Java Glue catalog: each commit
    /// would otherwise archive a version, and a busy table reaches Glue's quota
    /// of table versions, after which commits fail.
    pub fn archiving_versions(mut self, on: bool) -> Self {
        self.archive_versions = on;
        self
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
                    describe_error(&e)
                ),
            )),
        }
    }

    /// Creates the Glue database `name` if absent (losing the race to another
    /// process is fine: the database then exists).
    async fn ensure_database(&self, database: &str) -> Result<()> {
        let exists = self.client.get_database().name(database).send().await;
        if exists.is_ok() {
            return Ok(());
        }
        let input = DatabaseInput::builder()
            .name(database)
            .build()
            .map_err(|e| catalog_error(database, e.to_string()))?;
        let created = self
            .client
            .create_database()
            .database_input(input)
            .send()
            .await;
        created_or_exists(
            created,
            database,
            "CreateDatabase",
            ", or create the database beforehand",
        )
    }

    /// Writes the first metadata file of `creation` and registers it in Glue.
    /// `AlreadyExistsException` is not an error: a concurrent creator won.
    async fn create_table(&self, name: &TableName, mut creation: TableCreation) -> Result<()> {
        let location = creation
            .location
            .clone()
            .unwrap_or_else(|| format!("{}/{}.db/{}", self.warehouse, name.namespace, name.name));
        creation.location = Some(location.clone());
        let metadata = TableMetadataBuilder::from_table_creation(creation)
            .and_then(|b| b.build())
            .map_err(LakeError::iceberg(format!(
                "building the metadata of {name}"
            )))?
            .metadata;
        let metadata_location = MetadataLocation::new_with_metadata(&location, &metadata);
        metadata
            .write_to(&self.file_io, &metadata_location)
            .await
            .map_err(LakeError::iceberg(format!(
                "writing the first metadata of {name} to {location}"
            )))?;
        let input = definition::new_table(&name.name, &metadata, &metadata_location.to_string())?;
        let created = self
            .client
            .create_table()
            .database_name(&name.namespace)
            .table_input(input)
            .send()
            .await;
        created_or_exists(created, name, "CreateTable", "")
    }
}

/// A Glue create call's outcome: done, or already done by a concurrent creator.
fn created_or_exists<T, E>(
    result: std::result::Result<T, SdkError<E>>,
    what: impl ToString,
    action: &str,
    hint: &str,
) -> Result<()>
where
    E: ProvideErrorMetadata + std::error::Error + AlreadyExists + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(AlreadyExists::already_exists) =>
        {
            Ok(())
        }
        Err(e) => Err(catalog_error(
            what,
            format!(
                "Glue {action} failed: {}. Check that the role may call glue:{action}{hint}",
                describe_error(&e)
            ),
        )),
    }
}

/// The two create calls' error types, which both have an AlreadyExists variant.
trait AlreadyExists {
    fn already_exists(&self) -> bool;
}

impl AlreadyExists for aws_sdk_glue::operation::create_database::CreateDatabaseError {
    fn already_exists(&self) -> bool {
        self.is_already_exists_exception()
    }
}

impl AlreadyExists for aws_sdk_glue::operation::create_table::CreateTableError {
    fn already_exists(&self) -> bool {
        self.is_already_exists_exception()
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
        super::table_at(&self.file_io, name, location)
            .await
            .map(Some)
    }

    async fn ensure_table(&self, name: &TableName, creation: TableCreation) -> Result<Table> {
        if let Some(table) = self.load_table(name).await? {
            return Ok(table);
        }
        self.ensure_database(&name.namespace).await?;
        self.create_table(name, creation).await?;
        self.load_table(name)
            .await?
            .ok_or_else(|| catalog_error(name, "the table vanished right after its creation"))
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
            .skip_archive(!self.archive_versions)
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
                    describe_error(&e)
                ),
            )),
        }
    }

    /// Rewrites the storage descriptor's columns from `metadata`'s current
    /// schema, keeping the pointer and everything else; retried on a
    /// concurrent update (a commit that moved the pointer meanwhile).
    async fn schema_changed(&self, name: &TableName, metadata: &TableMetadata) -> Result<()> {
        for _ in 0..COLUMN_UPDATE_ATTEMPTS {
            let Some(table) = self.glue_table(name).await? else {
                return Err(catalog_error(name, "the table was dropped from Glue"));
            };
            let Some(version_id) = table.version_id() else {
                return Err(catalog_error(name, "Glue returned no VersionId"));
            };
            let result = self
                .client
                .update_table()
                .database_name(&name.namespace)
                .table_input(definition::with_columns(&table, metadata)?)
                .version_id(version_id)
                .skip_archive(!self.archive_versions)
                .send()
                .await;
            match result {
                Ok(_) => return Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_concurrent_modification_exception()) => {}
                Err(e) => {
                    return Err(catalog_error(
                        name,
                        format!("Glue UpdateTable (columns) failed: {}", describe_error(&e)),
                    ))
                }
            }
        }
        Err(catalog_error(
            name,
            "other updates kept moving the Glue table; its column list still shows the old \
             schema (the Iceberg metadata has the new one)",
        ))
    }
}

/// Tries at updating Glue's column list beside concurrent commits.
const COLUMN_UPDATE_ATTEMPTS: u32 = 8;
