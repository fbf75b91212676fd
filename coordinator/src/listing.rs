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

/// The day whose expansion of `template` (under `root`) names `location`, if
/// any: how a file reported by an event is matched to a pipeline and a day.
pub fn day_of(root: &str, template: &str, location: &str) -> Option<NaiveDate> {
    let pattern = storage::join(root, template);
    let placeholders = [
        ("{date}", "date", r"\d{4}-\d{2}-\d{2}"),
        ("{year}", "year", r"\d{4}"),
        ("{month}", "month", r"\d{2}"),
        ("{day}", "day", r"\d{2}"),
    ];
    let mut regex = String::from("^");
    let mut named = std::collections::HashSet::new();
    let mut rest = pattern.as_str();
    'outer: while let Some(c) = rest.chars().next() {
        for (placeholder, name, digits) in placeholders {
            if let Some(after) = rest.strip_prefix(placeholder) {
                if named.insert(name) {
                    regex.push_str(&format!("(?P<{name}>{digits})"));
                } else {
                    regex.push_str(&format!("(?:{digits})"));
                }
                rest = after;
                continue 'outer;
            }
        }
        // `**/` is any number of folders, none included.
        if let Some(after) = rest.strip_prefix("**/") {
            regex.push_str("(?:.*/)?");
            rest = after;
            continue;
        }
        if let Some(after) = rest.strip_prefix("**") {
            regex.push_str(".*");
            rest = after;
            continue;
        }
        match c {
            '*' => regex.push_str("[^/]*"),
            '?' => regex.push_str("[^/]"),
            c => regex.push_str(&regex::escape(&c.to_string())),
        }
        rest = &rest[c.len_utf8()..];
    }
    regex.push('$');
    let captures = regex::Regex::new(&regex).ok()?.captures(location)?;
    if let Some(date) = captures.name("date") {
        return NaiveDate::parse_from_str(date.as_str(), "%Y-%m-%d").ok();
    }
    let number = |name: &str| captures.name(name)?.as_str().parse::<u32>().ok();
    NaiveDate::from_ymd_opt(number("year")? as i32, number("month")?, number("day")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_events_file_is_matched_to_the_day_whose_template_names_it() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        let root = "s3://lake/bronze";
        let t = "transactions/date={date}/*.csv";
        let of = |location: &str| day_of(root, t, location);
        assert_eq!(
            of("s3://lake/bronze/transactions/date=2025-01-03/part-0.csv"),
            day("2025-01-03")
        );
        assert_eq!(
            of("s3://lake/bronze/transactions/date=2025-01-03/x/part-0.csv"),
            None
        );
        assert_eq!(
            of("s3://lake/bronze/transactions/date=2025-01-03/part-0.json"),
            None
        );
        assert_eq!(
            of("s3://lake/bronze/orders/date=2025-01-03/part-0.csv"),
            None
        );
        assert_eq!(
            of("s3://other/bronze/transactions/date=2025-01-03/a.csv"),
            None
        );
        let parts = "{year}/{month}/{day}/**/*.ndjson.gz";
        assert_eq!(
            day_of(root, parts, "s3://lake/bronze/2025/02/28/a/b/c.ndjson.gz"),
            day("2025-02-28")
        );
        assert_eq!(
            day_of(root, parts, "s3://lake/bronze/2025/02/28/c.ndjson.gz"),
            day("2025-02-28")
        );
        assert_eq!(
            day_of(root, parts, "s3://lake/bronze/2025/02/30/c.ndjson.gz"),
            None
        );
        assert_eq!(
            day_of(
                "/data/bronze",
                "t/{date}/f?.csv",
                "/data/bronze/t/2025-01-01/f1.csv"
            ),
            day("2025-01-01")
        );
    }
}
