//! The circuit breaker: a task whose rejection rate passes the contract's
//! `limits.max_rejection_rate` stops early — a sign of schema drift upstream —
//! instead of quarantining every row, with the top reasons and sample lines.

use std::collections::HashMap;

use super::Validated;
use crate::error::{FloeError, Result};

const TOP_REASONS: usize = 3;
const SAMPLES: usize = 3;
const SAMPLE_CHARS: usize = 120;

#[derive(Debug)]
pub struct Breaker {
    task: String,
    limit: Option<f64>,
    min_rows: u64,
    rows: u64,
    rejected: u64,
    reasons: HashMap<String, u64>,
    samples: Vec<String>,
}

/// A reason with its quoted values elided, so that rows failing the same rule
/// count together: ``amount: `12.3x` is not …`` → ``amount: `…` is not …``.
fn kind(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut quoted = false;
    for c in reason.chars() {
        if c == '`' {
            if !quoted {
                out.push_str("`…");
            }
            quoted = !quoted;
        }
        if !quoted {
            out.push(c);
        }
    }
    out
}

impl Breaker {
    pub fn new(task: &str, limit: Option<f64>, min_rows: u64) -> Self {
        Self {
            task: task.to_string(),
            limit,
            min_rows: min_rows.max(1),
            rows: 0,
            rejected: 0,
            reasons: HashMap::new(),
            samples: Vec::new(),
        }
    }

    /// Counts one validated batch; an error once the rate is over the limit.
    pub fn observe(&mut self, batch: &Validated) -> Result<()> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        self.rows += batch.rows_out() as u64;
        self.rejected += batch.quarantined.len() as u64;
        for reject in &batch.quarantined {
            for reason in &reject.reasons {
                *self.reasons.entry(kind(reason)).or_default() += 1;
            }
            if self.samples.len() < SAMPLES {
                let raw: String = reject.raw.chars().take(SAMPLE_CHARS).collect();
                self.samples
                    .push(format!("{}:{}: {raw}", reject.file, reject.line));
            }
        }
        if self.rows < self.min_rows || (self.rejected as f64) <= limit * self.rows as f64 {
            return Ok(());
        }
        let mut top: Vec<(&String, &u64)> = self.reasons.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let reasons = top
            .iter()
            .take(TOP_REASONS)
            .map(|(r, n)| format!("{n}× {r}"))
            .collect::<Vec<_>>()
            .join("; ");
        Err(FloeError::RejectionRate {
            task: self.task.clone(),
            rejected: self.rejected,
            rows: self.rows,
            percent: 100.0 * self.rejected as f64 / self.rows as f64,
            limit_percent: 100.0 * limit,
            reasons,
            samples: self.samples.join(" | "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_count_by_rule_not_by_value() {
        assert_eq!(
            kind("amount: `12.3x` is not a valid decimal(12,2)"),
            "amount: `…` is not a valid decimal(12,2)"
        );
        assert_eq!(kind("no quotes"), "no quotes");
        assert_eq!(kind("a `x` and `y`"), "a `…` and `…`");
    }
}

#[cfg(test)]
mod rate_tests {
    use std::sync::Arc;

    use arrow_array::{RecordBatch, RecordBatchOptions};
    use arrow_schema::Schema;

    use super::*;
    use crate::source::Reject;

    fn batch(valid: usize, rejected: usize) -> Validated {
        let options = RecordBatchOptions::new().with_row_count(Some(valid));
        Validated {
            valid: RecordBatch::try_new_with_options(Arc::new(Schema::empty()), vec![], &options)
                .unwrap(),
            file: Arc::from("in.csv"),
            valid_lines: (0..valid as u64).collect(),
            quarantined: (0..rejected)
                .map(|i| Reject {
                    file: Arc::from("in.csv"),
                    line: i as u64 + 2,
                    raw: format!("row {i}"),
                    reasons: vec![format!("amount: `{i}x` is not a valid decimal(12,2)")],
                })
                .collect(),
            condemned: vec![],
        }
    }

    #[test]
    fn trips_only_past_the_limit_once_enough_rows_are_seen() {
        let mut b = Breaker::new("t", Some(0.2), 100);
        // 50% rejected, but only 40 rows so far: too few to judge.
        assert!(b.observe(&batch(20, 20)).is_ok());
        // 60 rows, 20 rejected of 100 = 20%: at the limit, not over it.
        assert!(b.observe(&batch(60, 0)).is_ok());
        let err = b.observe(&batch(0, 10)).unwrap_err();
        let message = err.to_string();
        assert!(!err.is_retryable());
        assert!(
            message.contains("quarantined 30 of the first 110 rows (27.3%)"),
            "{message}"
        );
        assert!(
            message.contains("30× amount: `…` is not a valid decimal(12,2)"),
            "{message}"
        );
        assert!(message.contains("in.csv:2: row 0"), "{message}");
    }

    #[test]
    fn without_a_limit_nothing_trips() {
        let mut b = Breaker::new("t", None, 1);
        assert!(b.observe(&batch(0, 1000)).is_ok());
    }
}
