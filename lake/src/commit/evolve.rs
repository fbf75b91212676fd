//! Schema changes: a metadata-only change (no snapshot) made in the same
//! compare-and-swap discipline as commits. The new schema is computed from the
//! table as it is at each attempt, so workers that race to make the same
//! change agree: one swaps, the others find the change made.

use std::collections::HashMap;

use iceberg::spec::{Schema, TableMetadata};
use iceberg::table::Table;
use tracing::{info, warn};

use super::{metadata, RetryPolicy};
use crate::catalog::{SwapOutcome, TableCatalog};
use crate::error::{LakeError, Result};
use crate::TableName;

/// What a table's schema should become, given its current metadata.
pub struct SchemaChange {
    /// The whole new schema; existing columns keep their field ids.
    pub schema: Schema,
    /// Table properties to set with it (e.g. the contract version that made it).
    pub properties: HashMap<String, String>,
}

/// Evolves `name`'s schema to what `plan` says for its current metadata;
/// `plan` returns `Ok(None)` when the table already has it. `loaded` is the
/// table as the caller just loaded it (saving a reload when nothing changes).
/// Returns the table as it is after the change (or as found). A `plan` error
/// (a change the caller refuses) is returned as is, with nothing changed.
pub async fn evolve_schema<E>(
    catalog: &dyn TableCatalog,
    name: &TableName,
    policy: &RetryPolicy,
    mut loaded: Option<Table>,
    plan: impl Fn(&TableMetadata) -> std::result::Result<Option<SchemaChange>, E>,
) -> std::result::Result<Table, E>
where
    E: From<LakeError>,
{
    for attempt in 1..=policy.max_attempts {
        let table = match loaded.take() {
            Some(table) => table,
            None => catalog
                .load_table(name)
                .await?
                .ok_or_else(|| LakeError::Catalog {
                    table: name.to_string(),
                    message: "the table does not exist; it is created by the first task that \
                          loads it"
                        .into(),
                })?,
        };
        let Some(change) = plan(table.metadata())? else {
            return Ok(table);
        };
        let next = evolved(&table, change)?;
        let location = metadata::write_next(&table, &next).await?;
        let expected = table.metadata_location().unwrap_or_default().to_string();
        match catalog.swap_metadata(name, &expected, &location).await {
            Ok(SwapOutcome::Swapped) => {
                info!(table = %name, schema_id = next.current_schema_id(), "schema evolved");
                catalog.schema_changed(name, &next).await?;
                let table = catalog.load_table(name).await?;
                return table.ok_or_else(|| gone(name).into());
            }
            Ok(SwapOutcome::Conflict) => {}
            Err(e) if e.is_retryable() => {
                warn!(table = %name, attempt, error = %e, "schema change outcome unknown, reloading");
            }
            Err(e) => return Err(e.into()),
        }
        tokio::time::sleep(policy.backoff(attempt)).await;
    }
    Err(LakeError::Catalog {
        table: name.to_string(),
        message: format!(
            "other changes kept moving the table while its schema was evolved; gave up after {} \
             attempts with nothing changed. Try again",
            policy.max_attempts
        ),
    }
    .into())
}

fn evolved(table: &Table, change: SchemaChange) -> Result<TableMetadata> {
    let built = metadata::builder(table)?
        .add_current_schema(change.schema)
        .and_then(|b| b.set_properties(change.properties))
        .and_then(|b| b.build())
        .map_err(LakeError::iceberg("building the evolved table metadata"))?;
    Ok(built.metadata)
}

fn gone(name: &TableName) -> LakeError {
    LakeError::Catalog {
        table: name.to_string(),
        message: "the table disappeared right after its schema was evolved".into(),
    }
}
