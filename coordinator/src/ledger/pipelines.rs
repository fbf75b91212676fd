//! Registered pipelines: each `pipeline apply` of a changed contract is a new
//! version, kept for good so every run can say which contract it ran with.

use sqlx::Row;

use super::{now_ms, Ledger, Result};

/// One version of a registered pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineVersion {
    pub name: String,
    /// 1 for the first apply; grows by one with each changed contract.
    pub version: u32,
    pub contract_text: String,
    /// Where the contract was read from at apply.
    pub contract_origin: String,
    pub sha256: String,
    pub applied_at_ms: i64,
}

/// What an apply did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub pipeline: PipelineVersion,
    /// False when the contract was the latest version already.
    pub changed: bool,
}

const COLUMNS: &str = "name, version, contract_text, contract_origin, sha256, applied_at_ms";

impl Ledger {
    /// Registers `contract_text` as the next version of pipeline `name`, unless
    /// it is the latest version already (same SHA-256).
    pub async fn apply_pipeline(
        &self,
        name: &str,
        contract_text: &str,
        contract_origin: &str,
        sha256: &str,
    ) -> Result<Applied> {
        let mut tx = self.write().await?;
        let latest = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM pipelines WHERE name = ? ORDER BY version DESC LIMIT 1"
        ))
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .map(|row| self.version_of(&row))
        .transpose()?;
        let next = latest.as_ref().map_or(1, |l| l.version + 1);
        if let Some(latest) = latest.filter(|l| l.sha256 == sha256) {
            return Ok(Applied {
                pipeline: latest,
                changed: false,
            });
        }
        let pipeline = PipelineVersion {
            name: name.to_string(),
            version: next,
            contract_text: contract_text.to_string(),
            contract_origin: contract_origin.to_string(),
            sha256: sha256.to_string(),
            applied_at_ms: now_ms(),
        };
        sqlx::query(&format!(
            "INSERT INTO pipelines ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
        ))
        .bind(&pipeline.name)
        .bind(pipeline.version as i64)
        .bind(&pipeline.contract_text)
        .bind(&pipeline.contract_origin)
        .bind(&pipeline.sha256)
        .bind(pipeline.applied_at_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(Applied {
            pipeline,
            changed: true,
        })
    }

    /// Version `version` of pipeline `name` (its latest when `None`), if registered.
    pub async fn pipeline(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<Option<PipelineVersion>> {
        // Version 0 never exists: `None` asks for the newest with `version > 0`.
        let sql = match version {
            Some(_) => format!("SELECT {COLUMNS} FROM pipelines WHERE name = ? AND version = ?"),
            None => format!(
                "SELECT {COLUMNS} FROM pipelines WHERE name = ? AND version > ?
                 ORDER BY version DESC LIMIT 1"
            ),
        };
        let row = sqlx::query(&sql)
            .bind(name)
            .bind(version.unwrap_or(0) as i64)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        row.map(|r| self.version_of(&r)).transpose()
    }

    /// The latest version of every registered pipeline, by name.
    pub async fn pipelines(&self) -> Result<Vec<PipelineVersion>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM pipelines p
             WHERE version = (SELECT max(version) FROM pipelines WHERE name = p.name)
             ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(|r| self.version_of(r)).collect()
    }

    fn version_of(&self, row: &sqlx::sqlite::SqliteRow) -> Result<PipelineVersion> {
        let get = |e| self.err(e);
        Ok(PipelineVersion {
            name: row.try_get("name").map_err(get)?,
            version: row.try_get::<i64, _>("version").map_err(get)? as u32,
            contract_text: row.try_get("contract_text").map_err(get)?,
            contract_origin: row.try_get("contract_origin").map_err(get)?,
            sha256: row.try_get("sha256").map_err(get)?,
            applied_at_ms: row.try_get("applied_at_ms").map_err(get)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_apply_adds_a_version_only_when_the_contract_changed() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger.db")).await.unwrap();
        assert_eq!(ledger.pipeline("orders", None).await.unwrap(), None);

        let first = ledger
            .apply_pipeline("orders", "a", "o.toml", "sha-a")
            .await
            .unwrap();
        assert!(first.changed);
        assert_eq!(first.pipeline.version, 1);
        let again = ledger
            .apply_pipeline("orders", "a", "o.toml", "sha-a")
            .await
            .unwrap();
        assert!(!again.changed);
        assert_eq!(again.pipeline, first.pipeline);
        let second = ledger
            .apply_pipeline("orders", "b", "o.toml", "sha-b")
            .await
            .unwrap();
        assert_eq!((second.changed, second.pipeline.version), (true, 2));
        // Back to the first text: a new version, not the old one.
        let third = ledger
            .apply_pipeline("orders", "a", "o.toml", "sha-a")
            .await
            .unwrap();
        assert_eq!((third.changed, third.pipeline.version), (true, 3));
        ledger
            .apply_pipeline("users", "u", "u.toml", "sha-u")
            .await
            .unwrap();

        let v2 = ledger.pipeline("orders", Some(2)).await.unwrap().unwrap();
        assert_eq!(v2.contract_text, "b");
        let latest = ledger.pipeline("orders", None).await.unwrap().unwrap();
        assert_eq!(latest.version, 3);
        let names: Vec<(String, u32)> = ledger
            .pipelines()
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.name, p.version))
            .collect();
        assert_eq!(names, [("orders".to_string(), 3), ("users".to_string(), 1)]);
    }
}
