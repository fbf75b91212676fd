//! The audits a staged run passes before it is published (the contract's
//! `[audits]`): pure functions of the run's task counts, and of the Silver
//! rows per partition on the run's branch and on `main`.

use std::collections::BTreeMap;

use crate::ledger::{AuditResult, RunRecord, TaskState};

pub const MAX_QUARANTINE_RATE: &str = "max_quarantine_rate";
pub const MAX_ROW_CHANGE: &str = "max_row_change";

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
/// the rows `main` holds there. A partition `main` does not hold yet passes.
pub fn row_changes(
    partitions: &[String],
    staged: &BTreeMap<String, u64>,
    main: &BTreeMap<String, u64>,
    max: f64,
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
                    let detail = format!(
                        "{new} Silver rows against {old} on main ({:+.1}%), allowed ±{:.1}%",
                        change * 100.0,
                        max * 100.0
                    );
                    (change.abs() <= max, detail)
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
        let results = row_changes(&partitions, &staged, &main, 0.2);
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
        let edge = row_changes(&partitions[..1], &counts(&[("d1", 80)]), &main, 0.2);
        assert!(edge[0].passed);
        let gone = row_changes(&partitions[..1], &counts(&[]), &main, 0.2);
        assert!(!gone[0].passed);
    }
}
