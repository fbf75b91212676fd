//! The DataFusion session every Gold query runs in.

use std::sync::Arc;

use datafusion::catalog::{MemorySchemaProvider, TableProvider};
use datafusion::execution::context::SessionContext;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::SessionConfig;
use floe_common::contract::TableName;

use crate::error::{GoldError, Result};

/// What one Gold query may use of its machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Memory the engine's operators (joins, aggregations, sorts) may hold at
    /// once; a query needing more fails with [`GoldError::MemoryLimit`].
    pub memory_bytes: usize,
}

impl Limits {
    /// The default memory limit, in MiB (`--gold-memory-mb`).
    pub const DEFAULT_MEMORY_MB: usize = 2048;

    pub fn memory_mb(mb: usize) -> Self {
        Self {
            memory_bytes: mb.max(1) * 1024 * 1024,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::memory_mb(Self::DEFAULT_MEMORY_MB)
    }
}

/// A session whose plans carry SQL positions (for error messages) and whose
/// timestamps are UTC, like Iceberg's `timestamptz`.
///
/// Its memory pool holds the operators to `limits`, and it has no disk manager:
/// a query never spills to the worker's disk, it fails at the limit instead, so
/// one model can exhaust neither the memory nor the disk of a worker shared with
/// other tasks.
pub fn new_session(limits: &Limits) -> SessionContext {
    let mut config = SessionConfig::new()
        .with_target_partitions(2)
        .with_information_schema(false);
    let options = config.options_mut();
    options.sql_parser.collect_spans = true;
    options.execution.time_zone = Some("+00:00".into());
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(limits.memory_bytes, 1.0)
        .with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        )
        .build_arc()
        .expect("a runtime without a disk manager builds");
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    ctx.add_optimizer_rule(Arc::new(crate::utc_date::UtcDateCast));
    ctx
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::GoldError;

    /// An aggregation over more groups than the pool holds fails with the
    /// memory-limit error, naming the limit's flags, instead of spilling or
    /// growing without bound.
    #[tokio::test]
    async fn the_memory_limit_stops_a_runaway_query() {
        let ctx = new_session(&Limits::memory_mb(1));
        let sql = "SELECT value % 1000000 AS k, COUNT(*) AS n FROM generate_series(1, 3000000) \
                   GROUP BY value % 1000000 ORDER BY n DESC";
        let e = ctx.sql(sql).await.unwrap().collect().await.unwrap_err();
        let e = GoldError::engine("running model `runaway`")(e);
        assert!(matches!(e, GoldError::MemoryLimit { .. }), "{e}");
        assert!(!e.is_retryable());
        let text = e.to_string();
        assert!(
            text.starts_with("running model `runaway`: it needs more memory"),
            "{text}"
        );
        assert!(text.contains("--gold-memory-mb"), "{text}");
    }

    /// The default limit is not a tight one: the same query (3M rows into 1M
    /// groups, sorted) runs within it.
    #[tokio::test]
    async fn the_same_query_runs_within_the_default_limit() {
        let ctx = new_session(&Limits::default());
        let sql = "SELECT value % 1000000 AS k, COUNT(*) AS n FROM generate_series(1, 3000000) \
                   GROUP BY value % 1000000 ORDER BY n DESC";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 1_000_000);
    }
}
