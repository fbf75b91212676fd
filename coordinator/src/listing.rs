//! Lists the Bronze files of each day of a period, from the contract's location template.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

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
pub fn list_day(
    root: &Path,
    template: &str,
    day: NaiveDate,
) -> Result<Vec<InputFile>, CoordinatorError> {
    let pattern = root
        .join(expand(template, day))
        .to_string_lossy()
        .into_owned();
    let err = |message: String| CoordinatorError::Listing {
        pattern: pattern.clone(),
        message,
    };
    let mut files = Vec::new();
    for entry in glob::glob(&pattern).map_err(|e| err(e.to_string()))? {
        let path: PathBuf = entry.map_err(|e| err(e.to_string()))?;
        let meta = std::fs::metadata(&path).map_err(|e| err(e.to_string()))?;
        if meta.is_file() {
            files.push(InputFile {
                path,
                bytes: meta.len(),
                day,
            });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Lists a period's files and plans its tasks; an empty period is an error.
pub fn plan_period(
    contract: &floe_common::contract::Contract,
    bronze: &Path,
    period: &crate::period::Period,
    target_task_bytes: u64,
) -> Result<Vec<crate::plan::PlannedTask>, CoordinatorError> {
    let mut files = Vec::new();
    for day in period.days() {
        files.extend(list_day(bronze, &contract.source.location, day)?);
    }
    if files.is_empty() {
        return Err(CoordinatorError::NoInput {
            pipeline: contract.name.clone(),
            period: period.label.clone(),
            pattern: bronze.join(&contract.source.location).display().to_string(),
        });
    }
    Ok(crate::plan::plan(contract, &files, target_task_bytes))
}
