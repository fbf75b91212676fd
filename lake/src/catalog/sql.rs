//! The embedded default catalog: a SQLite file in the layout of iceberg-catalog-sql
//! (and PyIceberg's SqlCatalog), so other engines open the same tables.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use iceberg::io::{FileIO, FileIOBuilder, LocalFsStorageFactory};
use iceberg::table::Table;
use iceberg::{Catalog, CatalogBuilder, NamespaceIdent, TableCreation};
use iceberg_catalog_sql::{SqlBindStyle, SqlCatalogBuilder};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

use super::{SwapOutcome, TableCatalog};
use crate::error::{LakeError, Result};
use crate::TableName;

/// SQLite-backed Iceberg catalog over a local warehouse folder.
#[derive(Debug, Clone)]
pub struct SqlCatalog {
    name: String,
    inner: Arc<iceberg_catalog_sql::SqlCatalog>,
    pool: SqlitePool,
    file_io: FileIO,
    db_path: PathBuf,
    warehouse: PathBuf,
}

fn catalog_error(table: impl ToString, e: impl std::fmt::Display) -> LakeError {
    LakeError::Catalog {
        table: table.to_string(),
        message: e.to_string(),
    }
}

impl SqlCatalog {
    /// Opens (creating if needed) the catalog database `db_path` with tables under
    /// `warehouse`. `name` is the catalog name other engines must use too.
    pub async fn open(name: &str, db_path: &Path, warehouse: &Path) -> Result<Self> {
        std::fs::create_dir_all(warehouse).map_err(|e| LakeError::Warehouse {
            path: warehouse.display().to_string(),
            message: e.to_string(),
        })?;
        if let Some(parent) = db_path.parent() {
            std::fs::create_dir_all(parent).ok();
        }
        let warehouse =
            std::fs::canonicalize(warehouse).unwrap_or_else(|_| warehouse.to_path_buf());
        let uri = format!("sqlite:{}?mode=rwc", db_path.display());
        let inner = SqlCatalogBuilder::default()
            .uri(&uri)
            .warehouse_location(format!("file://{}", warehouse.display()))
            .sql_bind_style(SqlBindStyle::QMark)
            .with_storage_factory(Arc::new(LocalFsStorageFactory))
            .load(name, HashMap::new())
            .await
            .map_err(|e| catalog_error(db_path.display(), e))?;
        let options = SqliteConnectOptions::from_str(&uri)
            .map_err(|e| catalog_error(db_path.display(), e))?
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| catalog_error(db_path.display(), e))?;
        Ok(Self {
            name: name.to_string(),
            inner: Arc::new(inner),
            pool,
            file_io: FileIOBuilder::new(Arc::new(LocalFsStorageFactory)).build(),
            db_path: db_path.to_path_buf(),
            warehouse,
        })
    }

    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    pub fn warehouse(&self) -> &Path {
        &self.warehouse
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    async fn metadata_location(&self, name: &TableName) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT metadata_location FROM iceberg_tables
             WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?
               AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)",
        )
        .bind(&self.name)
        .bind(&name.namespace)
        .bind(&name.name)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| catalog_error(name, e))?;
        Ok(row.and_then(|r| r.get::<Option<String>, _>(0)))
    }
}

#[async_trait]
impl TableCatalog for SqlCatalog {
    async fn load_table(&self, name: &TableName) -> Result<Option<Table>> {
        let Some(location) = self.metadata_location(name).await? else {
            return Ok(None);
        };
        super::table_at(&self.file_io, name, &location)
            .await
            .map(Some)
    }

    async fn ensure_table(&self, name: &TableName, creation: TableCreation) -> Result<Table> {
        if let Some(table) = self.load_table(name).await? {
            return Ok(table);
        }
        let namespace = NamespaceIdent::new(name.namespace.clone());
        // Another process may create the namespace or the table at the same time:
        // losing that race is fine, the table then exists.
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
        let created = self.inner.create_table(&namespace, creation).await;
        match self.load_table(name).await? {
            Some(table) => Ok(table),
            None => Err(catalog_error(
                name,
                created
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "table vanished after creation".into()),
            )),
        }
    }

    async fn swap_metadata(
        &self,
        name: &TableName,
        expected: &str,
        new: &str,
    ) -> Result<SwapOutcome> {
        let result = sqlx::query(
            "UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ?
             WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?
               AND metadata_location = ?",
        )
        .bind(new)
        .bind(expected)
        .bind(&self.name)
        .bind(&name.namespace)
        .bind(&name.name)
        .bind(expected)
        .execute(&self.pool)
        .await
        .map_err(|e| catalog_error(name, e))?;
        Ok(if result.rows_affected() == 1 {
            SwapOutcome::Swapped
        } else {
            SwapOutcome::Conflict
        })
    }
}
