//! Which catalog a process commits through: the embedded SQLite catalog over a
//! local warehouse folder, or AWS Glue over an `s3://` warehouse. Both binaries
//! take the same settings (their flags are `floe-process`'s `CatalogArgs`), so a
//! coordinator and its workers always agree.

use std::path::PathBuf;
use std::sync::Arc;

use super::{GlueCatalog, SqlCatalog, TableCatalog};
use crate::error::{LakeError, Result};

/// The catalog settings shared by the coordinator and the workers.
#[derive(Debug, Clone)]
pub enum CatalogConfig {
    /// `<lakehouse>/catalog.db` over `<lakehouse>/warehouse` (the embedded default).
    Sql { name: String, lakehouse: PathBuf },
    /// AWS Glue (Data Catalog of the account and region of the AWS config), with
    /// table data under `warehouse` (`s3://bucket/prefix`).
    Glue {
        name: String,
        warehouse: String,
        /// See [`GlueCatalog::archiving_versions`].
        archive_versions: bool,
    },
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
                        LakeError::CatalogSettings(
                            "--catalog glue needs --warehouse s3://BUCKET/PREFIX (or FLOE_WAREHOUSE): \
                             where table data and metadata are written"
                                .into(),
                        )
                    })?;
                Ok(Self::Glue {
                    name: name.to_string(),
                    warehouse,
                    archive_versions: false,
                })
            }
            other => Err(LakeError::CatalogSettings(format!(
                "--catalog is `{other}`; expected `sql` (the embedded default) or `glue`"
            ))),
        }
    }

    /// Sets whether a Glue catalog archives table versions (no effect on SQLite).
    pub fn with_glue_archive(mut self, on: bool) -> Self {
        if let Self::Glue {
            archive_versions, ..
        } = &mut self
        {
            *archive_versions = on;
        }
        self
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
            Self::Glue {
                name,
                warehouse,
                archive_versions,
            } => {
                let sdk = crate::aws::load_config().await;
                let catalog = GlueCatalog::open(name, warehouse, &sdk).await?;
                Ok(Arc::new(catalog.archiving_versions(*archive_versions)))
            }
        }
    }
}
