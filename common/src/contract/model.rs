//! Gold models (`[[models]]`): SQL over Silver whose result Floe keeps in its own
//! table, rebuilt partition by partition. Only the shape is checked here; the SQL
//! itself is planned against the tables' schemas by the `floe-gold` crate.

use super::error::Checker;
use super::names::{identifier, table_name};
use super::raw::{RawModel, RawModelTest};
use super::types::parse_transform;
use super::{ContractError, TableName, TargetSpec, TransformKind};

/// One Gold model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    pub name: String,
    pub table: TableName,
    /// How the Gold table is partitioned: one of the query's output columns,
    /// whose partition label matches the Silver partition it was computed from.
    /// `None` exactly when Silver is unpartitioned.
    pub partition: Option<ModelPartition>,
    pub sql: String,
    /// The contract line the SQL's first line is on, when the SQL is written as
    /// a multi-line string that maps line for line (for error positions).
    pub sql_first_line: Option<usize>,
    pub tests: Vec<ModelTest>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPartition {
    pub kind: TransformKind,
    pub column: String,
}

/// A check on a model's result before it is committed (dbt-style).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelTest {
    /// No row has a null in any of these columns.
    NotNull { columns: Vec<String> },
    /// No two rows share a value of these columns (taken together).
    Unique { columns: Vec<String> },
    /// Every non-null value of the column is one of `values`.
    AcceptedValues { column: String, values: Vec<String> },
    /// An aggregate of the result equals an aggregate of the Silver rows of the
    /// same partition, e.g. `SUM(revenue)` and `SUM(amount)`.
    Reconcile { gold: String, silver: String },
}

impl ModelTest {
    pub fn name(&self) -> String {
        match self {
            ModelTest::NotNull { columns } => format!("not_null({})", columns.join(", ")),
            ModelTest::Unique { columns } => format!("unique({})", columns.join(", ")),
            ModelTest::AcceptedValues { column, .. } => format!("accepted_values({column})"),
            ModelTest::Reconcile { gold, silver } => format!("reconcile({gold} = {silver})"),
        }
    }
}

const PARTITION_EXPECTED: &str = "identity(col), year(col), month(col) or day(col) naming an output column of the SQL, or none when Silver is unpartitioned";

pub(super) fn build_models(
    check: &Checker,
    text: &str,
    raw: &[RawModel],
    target: &TargetSpec,
) -> Result<Vec<ModelSpec>, ContractError> {
    let mut models: Vec<ModelSpec> = Vec::with_capacity(raw.len());
    for (i, m) in raw.iter().enumerate() {
        let key = |k: &str| format!("models[{i}].{k}");
        let name = identifier(check, &key("name"), &m.name)?;
        if models.iter().any(|o| o.name == name) {
            return Err(check.invalid(
                key("name"),
                format!("`{name}`, which an earlier model already uses"),
                "a name no other model has",
            ));
        }
        let table = table_name(check, &key("table"), &m.table)?;
        let taken = [
            &target.table,
            &target.quarantine_table,
            &target.condemned_table,
        ];
        if taken.contains(&&table) || models.iter().any(|o| o.table == table) {
            return Err(check.invalid(
                key("table"),
                format!("`{table}`, which another table of this contract already uses"),
                "a table of its own for each model",
            ));
        }
        let partition = build_partition(check, &key("partition"), m, target)?;
        let sql = m.sql.get_ref().trim().to_string();
        if sql.is_empty() {
            return Err(check.invalid(
                key("sql"),
                "an empty query",
                "a SELECT over the Silver table",
            ));
        }
        let tests = m
            .tests
            .iter()
            .enumerate()
            .map(|(j, t)| build_test(check, &key(&format!("tests[{j}]")), t))
            .collect::<Result<_, _>>()?;
        models.push(ModelSpec {
            name,
            table,
            partition,
            sql_first_line: sql_first_line(text, &m.sql),
            sql,
            tests,
        });
    }
    Ok(models)
}

fn build_partition(
    check: &Checker,
    key: &str,
    m: &RawModel,
    target: &TargetSpec,
) -> Result<Option<ModelPartition>, ContractError> {
    let spelling = m.partition.as_deref().map(str::trim).unwrap_or("none");
    let parsed = match spelling {
        "none" | "" => None,
        s => Some(
            parse_transform(s)
                .ok_or_else(|| check.invalid(key, format!("`{s}`"), PARTITION_EXPECTED))?,
        ),
    };
    let silver = target.partition.as_ref().map(|p| p.kind);
    match (silver, parsed) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(check.invalid(
            key,
            format!("`{spelling}` while target.partition is none"),
            "none: an unpartitioned Silver table is rebuilt into an unpartitioned Gold table",
        )),
        (Some(_), None) => Err(check.invalid(
            key,
            "none while Silver is partitioned",
            "a partition of the same granularity as target.partition, e.g. day(col) or identity(col) for day(ts)",
        )),
        (Some(s), Some((kind, column))) => {
            let fits = kind == s || (s == TransformKind::Day && kind == TransformKind::Identity);
            if !fits {
                return Err(check.invalid(
                    key,
                    format!("`{spelling}`, which does not match target.partition's {s:?}"),
                    "the same transform as target.partition (identity(date_col) also fits day)",
                ));
            }
            Ok(Some(ModelPartition { kind, column }))
        }
    }
}

fn build_test(check: &Checker, key: &str, t: &RawModelTest) -> Result<ModelTest, ContractError> {
    let columns_ok = |columns: &[String]| -> Result<Vec<String>, ContractError> {
        if columns.is_empty() || columns.iter().any(|c| c.trim().is_empty()) {
            return Err(check.invalid(
                format!("{key}.columns"),
                "an empty list or name",
                "one or more output column names",
            ));
        }
        Ok(columns.iter().map(|c| c.trim().to_string()).collect())
    };
    Ok(match t {
        RawModelTest::NotNull { columns } => ModelTest::NotNull {
            columns: columns_ok(columns)?,
        },
        RawModelTest::Unique { columns } => ModelTest::Unique {
            columns: columns_ok(columns)?,
        },
        RawModelTest::AcceptedValues { column, values } => {
            if values.is_empty() {
                return Err(check.invalid(
                    format!("{key}.values"),
                    "an empty list",
                    "the values the column may hold",
                ));
            }
            ModelTest::AcceptedValues {
                column: columns_ok(std::slice::from_ref(column))?.remove(0),
                values: values.clone(),
            }
        }
        RawModelTest::Reconcile { gold, silver } => {
            if gold.trim().is_empty() || silver.trim().is_empty() {
                return Err(check.invalid(
                    key,
                    "an empty expression",
                    "two aggregate expressions, e.g. gold = \"SUM(revenue)\", silver = \"SUM(amount)\"",
                ));
            }
            ModelTest::Reconcile {
                gold: gold.trim().to_string(),
                silver: silver.trim().to_string(),
            }
        }
    })
}

/// The contract line of the SQL's first line, when the value is a multi-line
/// string (`"""` or `'''`) whose text is the file's text, so that line `n` of the
/// SQL is line `first + n - 1` of the contract.
fn sql_first_line(text: &str, sql: &toml::Spanned<String>) -> Option<usize> {
    let span = sql.span();
    let raw = text.get(span.clone())?;
    let body = raw
        .strip_prefix("\"\"\"")
        .or_else(|| raw.strip_prefix("'''"))?;
    let skipped_newline = body.starts_with('\n') as usize;
    let body = body.strip_prefix('\n').unwrap_or(body);
    let body = &body[..body.len().checked_sub(3)?];
    if body != sql.get_ref() {
        return None; // escapes or line continuations: lines do not map one to one
    }
    let start = span.start + 3 + skipped_newline;
    let leading = sql.get_ref().len() - sql.get_ref().trim_start().len();
    let first = text[..start + leading].matches('\n').count() + 1;
    Some(first)
}
