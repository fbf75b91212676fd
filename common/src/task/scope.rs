//! What a worker checks before it runs a task, whoever sent it: every input
//! lies under the Bronze roots it was given, and a Gold task names a model of
//! the task's contract and only tables that model may read. A signed message
//! comes from the coordinator, so a task failing these checks means the two are
//! configured apart (or the coordinator is not what it seems): it fails and is
//! not retried, and nothing it names is read.

use std::collections::BTreeSet;

use super::TaskSpec;
use crate::error::{FloeError, Result};

/// The prefixes task inputs must lie under (`FLOE_BRONZE_ROOT` on the worker).
/// Empty: any location (the embedded default, where the coordinator is local).
#[derive(Debug, Clone, Default)]
pub struct BronzeRoots(Vec<String>);

impl BronzeRoots {
    /// Roots from a comma-separated list; each is taken as a folder. A local
    /// folder that exists is resolved as the coordinator resolves `--bronze`
    /// (symbolic links followed), so both spell it the same way.
    pub fn parse(text: &str) -> Self {
        Self(
            text.split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(|r| {
                    let resolved = match r.contains("://") {
                        true => None,
                        false => std::fs::canonicalize(r).ok(),
                    };
                    let root = resolved.map_or(r.to_string(), |p| p.display().to_string());
                    format!("{}/", root.trim_end_matches('/'))
                })
                .collect(),
        )
    }

    fn admits(&self, input: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|root| input.starts_with(root.as_str()))
    }
}

/// A path that climbs (`..`) could leave any root it starts under.
fn climbs(input: &str) -> bool {
    input.split(['/', '\\']).any(|segment| segment == "..")
}

impl TaskSpec {
    /// Refuses a task that reads outside `roots` or names what its contract
    /// does not hold.
    pub fn check_scope(&self, roots: &BronzeRoots) -> Result<()> {
        let task = &self.attempt.task_id;
        if let Some(input) = self.inputs.iter().find(|i| climbs(i) || !roots.admits(i)) {
            return Err(FloeError::OutOfScope(format!(
                "task {task} reads `{input}`, which is outside this worker's Bronze roots ({}). \
                 Set FLOE_BRONZE_ROOT on the workers to the coordinator's --bronze",
                roots.0.join(", ")
            )));
        }
        if let Some(gold) = &self.gold {
            let contract = &self.contract;
            if !contract.models.iter().any(|m| m.name == gold.model) {
                return Err(FloeError::OutOfScope(format!(
                    "Gold task {task} names model `{}`, which its contract does not have",
                    gold.model
                )));
            }
            let target = &contract.target;
            let readable: BTreeSet<String> = [
                &target.table,
                &target.quarantine_table,
                &target.condemned_table,
            ]
            .into_iter()
            .chain(contract.models.iter().map(|m| &m.table))
            .map(|t| t.to_string())
            .collect();
            if let Some(table) = gold.pins.keys().find(|t| !readable.contains(*t)) {
                return Err(FloeError::OutOfScope(format!(
                    "Gold task {task} pins table `{table}`, which is none of its contract's tables \
                     (Silver, quarantine, condemned, its models')"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_must_lie_under_a_root() {
        let roots = BronzeRoots::parse("s3://lake/bronze, /data/bronze/");
        for inside in [
            "s3://lake/bronze/orders/2025-01-02/a.csv",
            "/data/bronze/orders/a.csv",
        ] {
            assert!(roots.admits(inside) && !climbs(inside), "{inside}");
        }
        for outside in [
            "/proc/self/environ",
            "s3://lake/bronze-other/a.csv",
            "s3://other/bronze/a.csv",
            "/data/bronzed/a.csv",
        ] {
            assert!(!roots.admits(outside), "{outside}");
        }
        assert!(climbs("/data/bronze/../../etc/passwd"));
        assert!(climbs("s3://lake/bronze/..\\x"));
        assert!(!climbs("/data/bronze/a..b.csv"));
    }

    fn gold_task(model: &str, pins: &[&str]) -> TaskSpec {
        let text = include_str!("../../../examples/transactions.toml");
        let contract =
            crate::contract::Contract::parse(text, std::path::Path::new("t.toml")).unwrap();
        let id = |s: &str| floe_lake::ids::TaskId::new(s);
        TaskSpec {
            attempt: floe_lake::Attempt::first(floe_lake::ids::RunId::new("run-1"), id("t1")),
            contract: std::sync::Arc::new(contract),
            inputs: Vec::new(),
            fingerprints: Default::default(),
            ranges: Default::default(),
            partition: Some("2025-01-02".into()),
            trace_context: Default::default(),
            gold: Some(super::super::GoldTask {
                model: model.into(),
                pins: pins.iter().map(|t| (t.to_string(), vec![1])).collect(),
            }),
            dedupe: None,
            pass: None,
            append: false,
            staged: false,
        }
    }

    #[test]
    fn a_gold_task_names_its_contracts_model_and_tables_only() {
        let roots = BronzeRoots::default();
        let every_table = [
            "silver.transactions",
            "silver.transactions_quarantine",
            "silver.transactions_condemned",
            "gold.daily_revenue",
        ];
        assert!(gold_task("daily_revenue", &every_table)
            .check_scope(&roots)
            .is_ok());
        let e = gold_task("other", &[])
            .check_scope(&roots)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("model `other`, which its contract does not have"),
            "{e}"
        );
        let e = gold_task("daily_revenue", &["secret.table"])
            .check_scope(&roots)
            .unwrap_err();
        assert!(e.to_string().contains("`secret.table`"), "{e}");
        assert!(!e.is_retryable());
    }

    #[test]
    fn no_roots_admit_any_location() {
        assert!(BronzeRoots::parse("").admits("/anywhere/a.csv"));
        assert!(BronzeRoots::default().admits("/anywhere/a.csv"));
    }
}
