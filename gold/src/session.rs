//! The DataFusion session every Gold query runs in.

use std::sync::Arc;

use datafusion::catalog::{MemorySchemaProvider, TableProvider};
use datafusion::execution::context::SessionContext;
use datafusion::prelude::SessionConfig;
use floe_common::contract::TableName;

use crate::error::{GoldError, Result};

/// A session whose plans carry SQL positions (for error messages) and whose
/// timestamps are UTC, like Iceberg's `timestamptz`.
pub fn new_session() -> SessionContext {
    let mut config = SessionConfig::new()
        .with_target_partitions(2)
        .with_information_schema(false);
    let options = config.options_mut();
    options.sql_parser.collect_spans = true;
    options.execution.time_zone = Some("+00:00".into());
    SessionContext::new_with_config(config)
}

/// Registers `provider` as `namespace.table`, creating the namespace (a
/// DataFusion schema) on first use.
pub fn register(
    ctx: &SessionContext,
    name: &TableName,
    provider: Arc<dyn TableProvider>,
) -> Result<()> {
    let catalog = ctx
        .catalog("datafusion")
        .expect("the default catalog exists");
    if catalog.schema(&name.namespace).is_none() {
        catalog
            .register_schema(&name.namespace, Arc::new(MemorySchemaProvider::new()))
            .map_err(GoldError::engine("registering a namespace"))?;
    }
    let schema = catalog.schema(&name.namespace).expect("just registered");
    schema
        .register_table(name.name.clone(), provider)
        .map_err(GoldError::engine(format!("registering table {name}")))?;
    Ok(())
}
