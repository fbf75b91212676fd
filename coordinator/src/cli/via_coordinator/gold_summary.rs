//! One line per Gold model for a run's summary (`submit --wait`): how many
//! partitions it built, in which states, and the rows written. `status` keeps
//! the per-partition detail.

use std::collections::BTreeMap;

use floe_proto::v1 as pb;

/// A Gold model's tasks in one run, summed.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct ModelLine {
    pub model: String,
    pub partitions: usize,
    /// Tasks per state name, e.g. `{"succeeded": 30, "failed": 1}`.
    pub states: BTreeMap<&'static str, usize>,
    pub rows: u64,
    pub snapshots: usize,
}

impl ModelLine {
    /// `succeeded`, or e.g. `30 succeeded, 1 failed`.
    pub fn state(&self) -> String {
        match self.states.len() {
            1 => self.states.keys().next().unwrap().to_string(),
            _ => self
                .states
                .iter()
                .map(|(s, n)| format!("{n} {s}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// The Gold tasks' lines, one per model, in the order models first appear.
pub(super) fn model_lines(
    tasks: &[&pb::Task],
    state_name: impl Fn(i32) -> &'static str,
    new_snapshots: impl Fn(&pb::Task) -> usize,
) -> Vec<ModelLine> {
    let mut lines: Vec<ModelLine> = Vec::new();
    for t in tasks {
        let i = match lines.iter().position(|l| l.model == t.model) {
            Some(i) => i,
            None => {
                lines.push(ModelLine {
                    model: t.model.clone(),
                    ..ModelLine::default()
                });
                lines.len() - 1
            }
        };
        let line = &mut lines[i];
        line.partitions += 1;
        *line.states.entry(state_name(t.state)).or_default() += 1;
        line.rows += t.stats.as_ref().map_or(0, |s| s.gold_rows);
        line.snapshots += new_snapshots(t);
    }
    lines
}

pub(super) fn print_model_lines(lines: &[ModelLine]) {
    println!(
        "{:<24} {:>10} {:<24} {:>11} {:>10}",
        "gold model", "partitions", "state", "rows", "snapshots"
    );
    for l in lines {
        println!(
            "{:<24} {:>10} {:<24} {:>11} {:>10}",
            l.model,
            l.partitions,
            l.state(),
            l.rows,
            l.snapshots
        );
    }
    println!("(per partition: floe-coordinator status RUN)");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(model: &str, state: pb::TaskState, rows: u64) -> pb::Task {
        pb::Task {
            model: model.into(),
            state: state as i32,
            stats: Some(pb::TaskStats {
                gold_rows: rows,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_month_of_gold_tasks_is_one_line_per_model() {
        let mut tasks = Vec::new();
        for day in 0..31 {
            tasks.push(task("daily_revenue", pb::TaskState::Succeeded, 10 + day));
            let state = if day == 7 {
                pb::TaskState::Failed
            } else {
                pb::TaskState::Succeeded
            };
            tasks.push(task("daily_currency_totals", state, 5));
        }
        let refs: Vec<&pb::Task> = tasks.iter().collect();
        let name = |s: i32| match pb::TaskState::try_from(s).unwrap() {
            pb::TaskState::Succeeded => "succeeded",
            _ => "failed",
        };
        let lines = model_lines(&refs, name, |_| 1);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].model, "daily_revenue");
        assert_eq!(lines[0].partitions, 31);
        assert_eq!(lines[0].rows, (10..41).sum::<u64>());
        assert_eq!(lines[0].state(), "succeeded");
        assert_eq!(lines[0].snapshots, 31);
        assert_eq!(lines[1].state(), "1 failed, 30 succeeded");
        assert_eq!(lines[1].rows, 155);
    }
}
