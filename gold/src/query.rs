//! Ad-hoc SQL over the catalog's tables (`floe-coordinator sql`), optionally as
//! of an earlier snapshot or time, the way Athena's `FOR VERSION AS OF` reads.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use chrono::{DateTime, Utc};
use datafusion::catalog::{MemTable, TableProvider};
use floe_common::contract::TableName;
use floe_lake::catalog::TableCatalog;
use iceberg::table::Table;
use iceberg_datafusion::IcebergStaticTableProvider;

use crate::error::{GoldError, Result};
use crate::read_only::{self, Refused};
use crate::session::{new_session, register, Limits};

/// Which version of the tables a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// Each table's current snapshot.
    Now,
    /// The table holding this snapshot reads it; the other tables read their
    /// state at the time it was committed.
    Snapshot(i64),
    /// Each table as it was at this time.
    Time(DateTime<Utc>),
}

impl AsOf {
    /// `--as-of`: a snapshot id, or an RFC 3339 time (`2025-02-01T12:00:00Z`).
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let text = text.trim();
        if let Ok(id) = text.parse::<i64>() {
            return Ok(AsOf::Snapshot(id));
        }
        DateTime::parse_from_rfc3339(text)
            .map(|t| AsOf::Time(t.with_timezone(&Utc)))
            .map_err(|_| {
                format!("`{text}` is neither a snapshot id nor an RFC 3339 time such as 2025-02-01T12:00:00Z")
            })
    }
}

/// What a query returned, and which snapshot of each table it read.
#[derive(Debug)]
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    /// (table, snapshot id or None when the table was empty then).
    pub read: Vec<(TableName, Option<i64>)>,
}

/// Runs one read-only query over the tables it names, each loaded from
/// `catalog`, within `limits`.
pub async fn query(
    catalog: &dyn TableCatalog,
    sql: &str,
    as_of: AsOf,
    limits: &Limits,
) -> Result<QueryResult> {
    let ctx = new_session(limits);
    read_only::check(&ctx, sql).map_err(refused)?;
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let statement = state
        .sql_to_statement(sql, &dialect)
        .map_err(|e| GoldError::Query(e.to_string()))?;
    let references = state
        .resolve_table_references(&statement)
        .map_err(|e| GoldError::Query(e.to_string()))?;
    let mut tables = Vec::new();
    for r in references {
        let name = r
            .schema()
            .and_then(|ns| TableName::parse(&format!("{ns}.{}", r.table())))
            .ok_or_else(|| GoldError::Query(format!("name table `{r}` as namespace.table")))?;
        let table = catalog.load_table(&name).await?.ok_or_else(|| {
            GoldError::Query(format!(
                "table {name} does not exist in the catalog; it is created by the first run that writes to it"
            ))
        })?;
        tables.push((name, table));
    }
    let at = resolve_as_of(&tables, as_of)?;
    let mut read = Vec::new();
    for (name, table) in tables {
        let snapshot = match at {
            None => table.metadata().current_snapshot_id(),
            Some(t) => snapshot_at(&table, t),
        };
        let provider: Arc<dyn TableProvider> = match snapshot {
            Some(id) => Arc::new(
                IcebergStaticTableProvider::try_new_from_table_snapshot(table, id)
                    .await
                    .map_err(|e| {
                        GoldError::Query(format!("reading {name} at snapshot {id}: {e}"))
                    })?,
            ),
            None => {
                let schema = crate::schema::arrow_of(table.metadata().current_schema())?;
                Arc::new(
                    MemTable::try_new(schema, vec![vec![]])
                        .map_err(GoldError::engine("creating an empty table"))?,
                )
            }
        };
        register(&ctx, &name, provider)?;
        read.push((name, snapshot));
    }
    let df = read_only::plan(&ctx, sql).await.map_err(refused)?;
    let schema = df.schema().inner().clone();
    let batches = df
        .collect()
        .await
        .map_err(GoldError::engine("running the query"))?;
    Ok(QueryResult {
        schema,
        batches,
        read,
    })
}

fn refused(e: Refused) -> GoldError {
    match e {
        Refused::NotAQuery(kind) => {
            GoldError::Query(format!("the SQL {}", read_only::refusal(&kind)))
        }
        Refused::Sql(e) => GoldError::Query(e.to_string()),
    }
}

/// The time every table is read at (None: now).
fn resolve_as_of(tables: &[(TableName, Table)], as_of: AsOf) -> Result<Option<i64>> {
    match as_of {
        AsOf::Now => Ok(None),
        AsOf::Time(t) => Ok(Some(t.timestamp_millis())),
        AsOf::Snapshot(id) => tables
            .iter()
            .find_map(|(_, t)| t.metadata().snapshot_by_id(id))
            .map(|s| Some(s.timestamp_ms()))
            .ok_or_else(|| {
                let names: Vec<String> = tables.iter().map(|(n, _)| n.to_string()).collect();
                GoldError::Query(format!(
                    "snapshot {id} belongs to none of the tables the query reads ({}); \
                     `floe-coordinator history --table T` lists a table's snapshots",
                    names.join(", ")
                ))
            }),
    }
}

/// The snapshot that was current on `main` at `at_ms`: the last entry of the
/// table's snapshot log at or before it.
fn snapshot_at(table: &Table, at_ms: i64) -> Option<i64> {
    table
        .metadata()
        .history()
        .iter()
        .filter(|entry| entry.timestamp_ms <= at_ms)
        .max_by_key(|entry| entry.timestamp_ms)
        .map(|entry| entry.snapshot_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_reads_ids_and_times() {
        assert_eq!(AsOf::parse("1234"), Ok(AsOf::Snapshot(1234)));
        assert_eq!(AsOf::parse("-5"), Ok(AsOf::Snapshot(-5)));
        let t = AsOf::parse("2025-02-01T12:00:00Z").unwrap();
        assert_eq!(
            t,
            AsOf::Time("2025-02-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap())
        );
        assert!(AsOf::parse("yesterday").unwrap_err().contains("RFC 3339"));
    }
}
