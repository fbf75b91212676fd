//! A worker's checked models, one entry per contract text: every Gold task of
//! a run carries the same contract, and checking it plans each model and test.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use floe_common::contract::Contract;

use crate::error::Result;
use crate::submit_check::{check_models, CheckedModel};

/// Contracts kept; past this the cache starts afresh (a worker sees a handful
/// of contracts at a time).
const CACHED_CONTRACTS: usize = 32;

type Cache = Mutex<HashMap<String, Arc<Vec<CheckedModel>>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

/// [`check_models`] of `contract`, checked once per contract text in this
/// process. The check depends on nothing but the text, so a cached answer is
/// the one a fresh check would give; a contract that fails is not kept and
/// fails again each time.
pub async fn checked_models(contract: &Contract) -> Result<Arc<Vec<CheckedModel>>> {
    if let Some(models) = lookup(&contract.text) {
        return Ok(models);
    }
    let models = Arc::new(check_models(contract).await?);
    let mut cached = cache().lock().expect("checked models lock");
    if cached.len() >= CACHED_CONTRACTS {
        cached.clear();
    }
    cached.insert(contract.text.clone(), models.clone());
    Ok(models)
}

fn lookup(text: &str) -> Option<Arc<Vec<CheckedModel>>> {
    cache()
        .lock()
        .expect("checked models lock")
        .get(text)
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract(text: &str) -> Contract {
        Contract::parse(text, std::path::Path::new("test.toml")).unwrap()
    }

    const EXAMPLE: &str = include_str!("../../examples/transactions.toml");

    /// The same text gives the very same checked models; another text is
    /// checked on its own.
    #[tokio::test]
    async fn a_contract_is_checked_once_per_text() {
        let first = checked_models(&contract(EXAMPLE)).await.unwrap();
        let again = checked_models(&contract(EXAMPLE)).await.unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(first.len(), 2);
        let other = EXAMPLE.replacen("version = 1", "version = 2", 1);
        let other = checked_models(&contract(&other)).await.unwrap();
        assert!(!Arc::ptr_eq(&first, &other));
    }

    /// A contract whose model does not plan fails every time, not once.
    #[tokio::test]
    async fn a_failing_contract_is_not_kept() {
        let broken = EXAMPLE.replace("FROM gold.daily_revenue", "FROM gold.no_such_table");
        for _ in 0..2 {
            assert!(checked_models(&contract(&broken)).await.is_err());
        }
        assert!(lookup(&broken).is_none());
    }
}
