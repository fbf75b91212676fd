//! Which catalog a process commits through: the embedded SQLite catalog over a
//! local warehouse folder, or AWS Glue over an `s3://` warehouse. Both binaries
//! take the same settings, so a coordinator and its workers always agree.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{FloeError, Result};
use floe_lake::catalog::{GlueCatalog, SqlCatalog, TableCatalog};

/// The catalog settings shared by the coordinator and the workers.
#[derive(Debug, Clone)]
pub enum CatalogConfig {
    /// `<lakehouse>/catalog.db` over `<lakehouse>/warehouse` (the embedded default).
    Sql { name: String, lakehouse: PathBuf },
    /// AWS Glue (Data Catalog of the account and region of the AWS config), with
    /// table data under `warehouse` (`s3://bucket/prefix`).
    Glue { name: String, warehouse: String },
}

/// The catalog flags of both binaries.
#[derive(Debug, Clone, clap::Args)]
pub struct CatalogArgs {
    /// The Iceberg catalog: `sql` (SQLite in --lakehouse, the embedded default) or
    /// `glue` (AWS Glue, table data under --warehouse).
    #[arg(long = "catalog", env = "FLOE_CATALOG", default_value = "sql")]
    pub kind: String,
    /// Folder holding the warehouse and the SQLite catalog (the embedded default).
    #[arg(long, env = "FLOE_LAKEHOUSE", default_value = "lakehouse")]
    pub lakehouse: PathBuf,
    /// Where a Glue catalog's tables live: `s3://BUCKET/PREFIX`.
    #[arg(long, env = "FLOE_WAREHOUSE")]
    pub warehouse: Option<String>,
    /// The catalog's name, which other engines must use too.
    #[arg(long, env = "FLOE_CATALOG_NAME", default_value = "floe")]
    pub catalog_name: String,
}

impl CatalogArgs {
    pub fn config(&self) -> Result<CatalogConfig> {
        CatalogConfig::from_flags(
            &self.kind,
            &self.catalog_name,
            self.lakehouse.clone(),
            self.warehouse.clone(),
        )
    }

    /// Where the tables are, for messages.
    pub fn describe(&self) -> String {
        match self.kind.as_str() {
            "glue" => format!(
                "the Glue catalog ({})",
                self.warehouse.as_deref().unwrap_or("")
            ),
            _ => self.lakehouse.display().to_string(),
        }
    }
}

impl CatalogConfig {
    /// From the values of the `--catalog`, `--catalog-name`, `--lakehouse` and
    /// `--warehouse` flags.
    pub fn from_flags(
        kind: &str,
        name: &str,
        lakehouse: PathBuf,
        warehouse: Option<String>,
    ) -> Result<Self> {
        match kind {
            "sql" | "sqlite" => Ok(Self::Sql {
                name: name.to_string(),
                lakehouse,
            }),
            "glue" => {
                let warehouse = warehouse
                    .filter(|w| w.starts_with("s3://"))
                    .ok_or_else(|| {
                        FloeError::Invalid(
                        "--catalog glue needs --warehouse s3://BUCKET/PREFIX (or FLOE_WAREHOUSE): \
                         where table data and metadata are written"
                            .into(),
                    )
                    })?;
                Ok(Self::Glue {
                    name: name.to_string(),
                    warehouse,
                })
            }
            other => Err(FloeError::Invalid(format!(
                "--catalog is `{other}`; expected `sql` (the embedded default) or `glue`"
            ))),
        }
    }

    /// False for an embedded catalog whose database was never created; a Glue
    /// catalog is assumed to exist.
    pub fn exists(&self) -> bool {
        match self {
            Self::Sql { lakehouse, .. } => lakehouse.join("catalog.db").exists(),
            Self::Glue { .. } => true,
        }
    }

    pub async fn open(&self) -> Result<Arc<dyn TableCatalog>> {
        match self {
            Self::Sql { name, lakehouse } => {
                let catalog = SqlCatalog::open(
                    name,
                    &lakehouse.join("catalog.db"),
                    &lakehouse.join("warehouse"),
                )
                .await?;
                Ok(Arc::new(catalog))
            }
            Self::Glue { name, warehouse } => {
                let sdk = floe_lake::aws::load_config().await;
                Ok(Arc::new(GlueCatalog::open(name, warehouse, &sdk).await?))
            }
        }
    }
}
