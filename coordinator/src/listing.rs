//! Lists the Bronze files of each day of a period, from the contract's location template.

use std::sync::Arc;

use chrono::NaiveDate;
use floe_lake::storage::{self, BronzeStore};

use crate::copies::{without_copies, SkippedCopy};
use crate::plan::InputFile;
use crate::CoordinatorError;

/// Expands `{date}`, `{year}`, `{month}`, `{day}` for one day.
pub fn expand(template: &str, day: NaiveDate) -> String {
    template
        .replace("{date}", &day.format("%Y-%m-%d").to_string())
        .replace("{year}", &day.format("%Y").to_string())
        .replace("{month}", &day.format("%m").to_string())
        .replace("{day}", &day.format("%d").to_string())
}

/// The files matching the template for `day` under `root`, sorted, with sizes.
pub async fn list_day(
    store: &dyn BronzeStore,
    root: &str,
    template: &str,
    day: NaiveDate,
) -> Result<Vec<InputFile>, CoordinatorError> {
    let pattern =
        storage::confine(root, &expand(template, day)).map_err(CoordinatorError::OutsideBronze)?;
    let listed = store
        .list(&pattern)
        .await
        .map_err(|e| CoordinatorError::Listing {
            pattern: pattern.clone(),
            message: e.to_string(),
        })?;
    Ok(listed
        .into_iter()
        .map(|f| InputFile {
            fingerprint: f.fingerprint(),
            path: f.location,
            day,
        })
        .collect())
}

/// A period's plan, and the files it leaves out as copies of others.
pub struct Listed {
    pub plan: Vec<crate::plan::PlannedTask>,
    pub skipped: Vec<SkippedCopy>,
}

/// Lists a period's files, leaves out byte-identical copies, and plans its
/// tasks; an empty period is an error.
pub async fn plan_period(
    contract: &floe_common::contract::Contract,
    store: Arc<dyn BronzeStore>,
    bronze: &str,
    period: &crate::period::Period,
    target_task_bytes: u64,
) -> Result<Listed, CoordinatorError> {
    let mut files = Vec::new();
    for day in period.days() {
        files.extend(list_day(&*store, bronze, &contract.source.location, day).await?);
    }
    if files.is_empty() {
        return Err(CoordinatorError::NoInput {
            pipeline: contract.name.clone(),
            period: period.label.clone(),
            pattern: storage::join(bronze, &contract.source.location),
        });
    }
    let (files, skipped) = without_copies(store, files).await?;
    Ok(Listed {
        plan: crate::plan::plan(contract, &files, target_task_bytes),
        skipped,
    })
}
