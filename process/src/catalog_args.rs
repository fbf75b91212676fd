//! The catalog flags every Floe binary takes, turned into the table layer's
//! [`CatalogConfig`].

use std::path::PathBuf;

use floe_lake::catalog::CatalogConfig;

use crate::error::Result;

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
    /// Let Glue archive the table's previous version at every commit (off by
    /// default: Floe commits often, and Glue limits how many versions a table keeps).
    #[arg(long, env = "FLOE_GLUE_ARCHIVE_VERSIONS")]
    pub glue_archive_versions: bool,
}

impl CatalogArgs {
    pub fn config(&self) -> Result<CatalogConfig> {
        Ok(CatalogConfig::from_flags(
            &self.kind,
            &self.catalog_name,
            self.lakehouse.clone(),
            self.warehouse.clone(),
        )?
        .with_glue_archive(self.glue_archive_versions))
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
