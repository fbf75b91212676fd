//! Contracts stored once per version, so task messages carry a reference
//! instead of the whole contract.
//!
//! A contract is addressed by the SHA-256 of its text: storing it twice is
//! harmless, a reference never changes meaning, and whoever reads it checks the
//! text against the reference. The coordinator stores a run's contract before
//! it enqueues any task; workers read it back (once per contract, then from
//! their cache) from the warehouse, which they reach anyway to commit.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use floe_lake::catalog::WarehouseFiles;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Contract;
use crate::error::{FloeError, Result};

/// Which contract a task runs with: the SHA-256 of its text, in hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ContractRef {
    pub sha256: String,
}

impl ContractRef {
    /// The reference of `text`.
    pub fn of(text: &str) -> Self {
        Self {
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
        }
    }

    /// The first characters of the digest, for messages.
    pub fn short(&self) -> &str {
        &self.sha256[..self.sha256.len().min(12)]
    }
}

/// Where contracts are kept.
///
/// Contract (checked by `contract_tests` for every implementation):
/// - `put` stores `text` under [`ContractRef::of`]`(text)` and returns that
///   reference; putting the same text again changes nothing.
/// - `get` returns exactly the text put under `reference`, or
///   [`FloeError::ContractMissing`] when none was; never another text.
#[async_trait]
pub trait ContractStore: Send + Sync + std::fmt::Debug {
    async fn put(&self, text: &str) -> Result<ContractRef>;

    async fn get(&self, reference: &ContractRef) -> Result<String>;
}

/// Contracts in the warehouse, at `_floe/contracts/<sha256>.toml`.
#[derive(Debug, Clone)]
pub struct WarehouseContracts {
    files: WarehouseFiles,
}

impl WarehouseContracts {
    pub fn new(files: WarehouseFiles) -> Self {
        Self { files }
    }

    fn relative(reference: &ContractRef) -> String {
        format!("contracts/{}.toml", reference.sha256)
    }
}

#[async_trait]
impl ContractStore for WarehouseContracts {
    async fn put(&self, text: &str) -> Result<ContractRef> {
        let reference = ContractRef::of(text);
        // Written without looking first: a file already there holds this very
        // text, and on S3 a look at a missing key is refused (not "not found")
        // to a role that may not list the bucket.
        let bytes = Bytes::copy_from_slice(text.as_bytes());
        self.files.write(&Self::relative(&reference), bytes).await?;
        Ok(reference)
    }

    async fn get(&self, reference: &ContractRef) -> Result<String> {
        let relative = Self::relative(reference);
        let location = self.files.location(&relative);
        let bytes =
            self.files
                .read(&relative)
                .await?
                .ok_or_else(|| FloeError::ContractMissing {
                    sha256: reference.sha256.clone(),
                    location: location.clone(),
                })?;
        let text = String::from_utf8(bytes.to_vec()).map_err(|_| FloeError::ContractCorrupt {
            location: location.clone(),
        })?;
        if ContractRef::of(&text) != *reference {
            return Err(FloeError::ContractCorrupt { location });
        }
        Ok(text)
    }
}

/// Contracts in memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryContracts {
    texts: Mutex<HashMap<ContractRef, String>>,
}

#[async_trait]
impl ContractStore for MemoryContracts {
    async fn put(&self, text: &str) -> Result<ContractRef> {
        let reference = ContractRef::of(text);
        let mut texts = self.texts.lock().expect("contracts lock");
        texts
            .entry(reference.clone())
            .or_insert_with(|| text.into());
        Ok(reference)
    }

    async fn get(&self, reference: &ContractRef) -> Result<String> {
        let texts = self.texts.lock().expect("contracts lock");
        texts
            .get(reference)
            .cloned()
            .ok_or_else(|| FloeError::ContractMissing {
                sha256: reference.sha256.clone(),
                location: "memory".into(),
            })
    }
}

/// A worker's contracts, parsed once each: a run's tasks share one contract.
#[derive(Debug)]
pub struct ContractCache {
    store: Arc<dyn ContractStore>,
    parsed: Mutex<HashMap<ContractRef, Arc<Contract>>>,
}

/// Contracts kept parsed; past this the cache starts afresh (a worker sees a
/// handful of contracts at a time).
const CACHED_CONTRACTS: usize = 64;

impl ContractCache {
    pub fn new(store: Arc<dyn ContractStore>) -> Self {
        Self {
            store,
            parsed: Mutex::default(),
        }
    }

    /// The contract `reference` names, read from the store on first use.
    /// `origin` names it in error messages.
    pub async fn resolve(&self, reference: &ContractRef, origin: &str) -> Result<Arc<Contract>> {
        if let Some(contract) = self.cached(reference) {
            return Ok(contract);
        }
        let text = self.store.get(reference).await?;
        let contract = Arc::new(Contract::parse(&text, Path::new(origin))?);
        let mut parsed = self.parsed.lock().expect("contract cache lock");
        if parsed.len() >= CACHED_CONTRACTS {
            parsed.clear();
        }
        parsed.insert(reference.clone(), contract.clone());
        Ok(contract)
    }

    fn cached(&self, reference: &ContractRef) -> Option<Arc<Contract>> {
        let parsed = self.parsed.lock().expect("contract cache lock");
        parsed.get(reference).cloned()
    }
}

#[cfg(any(test, feature = "test-support"))]
pub mod contract_tests {
    //! The expectations every [`ContractStore`] meets.

    use super::*;

    const TEXT: &str = "[pipeline]\nname = \"orders\"\n";

    pub async fn a_put_contract_reads_back_exactly(store: &dyn ContractStore) {
        let reference = store.put(TEXT).await.unwrap();
        assert_eq!(reference, ContractRef::of(TEXT));
        assert_eq!(store.get(&reference).await.unwrap(), TEXT);
    }

    pub async fn putting_twice_changes_nothing(store: &dyn ContractStore) {
        let first = store.put(TEXT).await.unwrap();
        let second = store.put(TEXT).await.unwrap();
        assert_eq!(first, second);
        let other = store.put("# another\n").await.unwrap();
        assert_ne!(first, other);
        assert_eq!(store.get(&first).await.unwrap(), TEXT);
        assert_eq!(store.get(&other).await.unwrap(), "# another\n");
    }

    pub async fn a_contract_never_put_is_missing(store: &dyn ContractStore) {
        let e = store
            .get(&ContractRef::of("never stored"))
            .await
            .unwrap_err();
        assert!(matches!(e, FloeError::ContractMissing { .. }), "{e}");
    }

    pub async fn all(store: &dyn ContractStore) {
        a_put_contract_reads_back_exactly(store).await;
        putting_twice_changes_nothing(store).await;
        a_contract_never_put_is_missing(store).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warehouse(dir: &Path) -> WarehouseContracts {
        WarehouseContracts::new(WarehouseFiles::local(dir))
    }

    #[tokio::test]
    async fn the_memory_store_meets_the_contract() {
        contract_tests::all(&MemoryContracts::default()).await;
    }

    #[tokio::test]
    async fn the_warehouse_store_meets_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        contract_tests::all(&warehouse(dir.path())).await;
    }

    #[tokio::test]
    async fn a_contract_changed_in_storage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = warehouse(dir.path());
        let reference = store.put("[pipeline]\n").await.unwrap();
        let file = dir
            .path()
            .join(format!("_floe/contracts/{}.toml", reference.sha256));
        std::fs::write(&file, "[pipeline]\nname = \"tampered\"\n").unwrap();
        let e = store.get(&reference).await.unwrap_err().to_string();
        assert!(e.contains(&file.display().to_string()), "{e}");
    }

    #[tokio::test]
    async fn the_cache_parses_each_contract_once_and_reports_bad_ones() {
        let store = Arc::new(MemoryContracts::default());
        let good = store
            .put(include_str!("../../../examples/transactions.toml"))
            .await
            .unwrap();
        let cache = ContractCache::new(store.clone());
        let a = cache.resolve(&good, "transactions.toml").await.unwrap();
        let b = cache.resolve(&good, "transactions.toml").await.unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let missing = cache.resolve(&ContractRef::of("x"), "x.toml").await;
        assert!(matches!(missing, Err(FloeError::ContractMissing { .. })));
    }
}
