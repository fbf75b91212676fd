//! The audits a staged run passes before it is published (the contract's
//! `[audits]`): pure functions of the run's task counts, and of the Silver
//! rows per partition on the run's branch and on `main`.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::ledger::{AuditResult, RunRecord, TaskState};

pub const MAX_QUARANTINE_RATE: &str = "max_quarantine_rate";
pub const MAX_ROW_CHANGE: &str = "max_row_change";
pub const REQUIRE_ALL_DAYS: &str = "require_all_days";

/// Per day of the run's period: whether its load tasks brought valid rows.
pub fn days_present(run: &RunRecord, days: impl Iterator<Item = NaiveDate>) -> Vec<AuditResult> {
    days.map(|day| {
        let day = day.format("%Y-%m-%d").to_string();
        let loads: Vec<_> = run
            .tasks
            .iter()
            .filter(|t| t.gold.is_none() && t.partition.as_deref() == Some(day.as_str()))
            .collect();
        let valid: u64 = loads
            .iter()
            .filter_map(|t| t.stats.as_ref())
            .map(|s| s.valid)
            .sum();
        let rows: u64 = loads
            .iter()
            .filter_map(|t| t.stats.as_ref())
            .map(|s| s.rows_in)
            .sum();
        let detail = match (loads.len(), valid) {
            (0, _) => "no Bronze file was found for this day".to_string(),
            (_, 0) => format!("none of its {rows} rows is valid"),
            (files, _) => format!("{valid} valid rows of {rows} from {files} tasks"),
        };
        AuditResult {
            name: REQUIRE_ALL_DAYS.into(),
            partition: day,
            passed: valid > 0,
            detail,
        }
    })
    .collect()
}

/// Per partition of the run's load tasks: the share of rows quarantined.
pub fn quarantine_rates(run: &RunRecord, max: f64) -> Vec<AuditResult> {
    let mut by_partition: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let loads = run
        .tasks
        .iter()
        .filter(|t| t.gold.is_none() && t.state == TaskState::Succeeded);
    for task in loads {
        let Some(stats) = &task.stats else { continue };
        let partition = task
            .partition
            .clone()
            .unwrap_or_else(|| "(unpartitioned)".into());
        let counts = by_partition.entry(partition).or_default();
        counts.0 += stats.rows_in;
        counts.1 += stats.quarantined;
    }
    by_partition
        .into_iter()
        .map(|(partition, (rows, quarantined))| {
            let rate = if rows == 0 {
                0.0
            } else {
                quarantined as f64 / rows as f64
            };
            AuditResult {
                name: MAX_QUARANTINE_RATE.into(),
                partition,
                passed: rate <= max,
                detail: format!(
                    "{quarantined} of {rows} rows quarantined ({:.2}%), allowed {:.2}%",
                    rate * 100.0,
                    max * 100.0
                ),
            }
        })
        .collect()
}

/// Per partition the run would publish: its Silver rows (`staged`) against
/// the rows `main` holds there. A partition `main` does not hold yet passes;
/// with `allow_shrink`, so does one that shrinks.
pub fn row_changes(
    partitions: &[String],
    staged: &BTreeMap<String, u64>,
    main: &BTreeMap<String, u64>,
    max: f64,
    allow_shrink: bool,
) -> Vec<AuditResult> {
    partitions
        .iter()
        .map(|partition| {
            let new = staged.get(partition).copied().unwrap_or(0);
            let (passed, detail) = match main.get(partition).copied().filter(|&n| n > 0) {
                None => (
                    true,
                    format!("{new} Silver rows; main holds none there yet"),
                ),
                Some(old) => {
                    let change = (new as f64 - old as f64) / old as f64;
                    let allowed = if allow_shrink {
                        format!("up to +{:.1}% (shrinking allowed)", max * 100.0)
                    } else {
                        format!("±{:.1}%", max * 100.0)
                    };
                    let detail = format!(
                        "{new} Silver rows against {old} on main ({:+.1}%), allowed {allowed}",
                        change * 100.0,
                    );
                    let shrinks = allow_shrink && change < 0.0;
                    (change.abs() <= max || shrinks, detail)
                }
            };
            AuditResult {
                name: MAX_ROW_CHANGE.into(),
                partition: partition.clone(),
                passed,
                detail,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(entries: &[(&str, u64)]) -> BTreeMap<String, u64> {
        entries.iter().map(|(p, n)| (p.to_string(), *n)).collect()
    }

    #[test]
    fn a_partition_whose_rows_change_past_the_limit_fails_either_way() {
        let partitions: Vec<String> = ["d1", "d2", "d3", "d4"].map(String::from).to_vec();
        let staged = counts(&[("d1", 110), ("d2", 49), ("d3", 121), ("d4", 7)]);
        let main = counts(&[("d1", 100), ("d2", 100), ("d3", 100)]);
        let results = row_changes(&partitions, &staged, &main, 0.2, false);
        let passed: Vec<bool> = results.iter().map(|r| r.passed).collect();
        assert_eq!(passed, [true, false, false, true]);
        assert_eq!(
            results[1].detail,
            "49 Silver rows against 100 on main (-51.0%), allowed ±20.0%"
        );
        assert!(
            results[3].detail.contains("main holds none"),
            "{}",
            results[3].detail
        );
        // The limit itself passes; a partition the branch lost counts as empty.
        let edge = row_changes(&partitions[..1], &counts(&[("d1", 80)]), &main, 0.2, false);
        assert!(edge[0].passed);
        let gone = row_changes(&partitions[..1], &counts(&[]), &main, 0.2, false);
        assert!(!gone[0].passed);
    }

    #[test]
    fn shrinking_passes_when_allowed_and_growth_still_fails() {
        let partitions: Vec<String> = ["d1", "d2"].map(String::from).to_vec();
        let staged = counts(&[("d1", 40), ("d2", 130)]);
        let main = counts(&[("d1", 100), ("d2", 100)]);
        let results = row_changes(&partitions, &staged, &main, 0.2, true);
        let passed: Vec<bool> = results.iter().map(|r| r.passed).collect();
        assert_eq!(passed, [true, false]);
        assert!(
            results[0].detail.contains("shrinking allowed"),
            "{}",
            results[0].detail
        );
    }

    #[test]
    fn every_day_of_the_period_needs_valid_rows() {
        use crate::ledger::fixtures::{load_task, run_with};
        let run = run_with(vec![
            load_task("2025-01-01", Some((10, 8))),
            load_task("2025-01-02", Some((5, 0))),
        ]);
        let days =
            ["2025-01-01", "2025-01-02", "2025-01-03"].map(|d| d.parse::<NaiveDate>().unwrap());
        let results = days_present(&run, days.into_iter());
        let got: Vec<(&str, bool, &str)> = results
            .iter()
            .map(|r| (r.partition.as_str(), r.passed, r.detail.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("2025-01-01", true, "8 valid rows of 10 from 1 tasks"),
                ("2025-01-02", false, "none of its 5 rows is valid"),
                ("2025-01-03", false, "no Bronze file was found for this day"),
            ]
        );
    }
}
