//! Silver rows with their lineage: the batch a Silver writer takes is built
//! field by field from the table's own schema, matching columns by name, so
//! the contract's columns and the lineage columns land where the table has
//! them whatever their order.

use std::sync::Arc;

use arrow_array::{new_null_array, ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_buffer::{Buffer, OffsetBuffer};
use arrow_schema::{Schema, SchemaRef};

use super::rows::LineageContext;
use super::schema::LINEAGE_COLUMNS;
use crate::contract::Contract;
use crate::error::{FloeError, Result};

/// Where each valid row of a batch was read.
#[derive(Debug, Clone, Copy)]
pub enum Origins<'a> {
    /// Every row from one file, at these lines.
    OneFile { file: &'a str, lines: &'a [u64] },
    /// A file and line per row.
    PerRow(&'a [(Arc<str>, u64)]),
}

impl<'a> Origins<'a> {
    fn len(&self) -> usize {
        match self {
            Origins::OneFile { lines, .. } => lines.len(),
            Origins::PerRow(rows) => rows.len(),
        }
    }

    fn files(&self) -> ArrayRef {
        Arc::new(match self {
            Origins::OneFile { file, lines } => repeated(file, lines.len()),
            Origins::PerRow(rows) => StringArray::from_iter_values(rows.iter().map(|r| &*r.0)),
        })
    }

    fn one_file(&self) -> Option<&'a str> {
        match self {
            Origins::OneFile { file, .. } => Some(file),
            Origins::PerRow(_) => None,
        }
    }

    fn lines(&self) -> ArrayRef {
        Arc::new(match self {
            Origins::OneFile { lines, .. } => {
                Int64Array::from_iter_values(lines.iter().map(|&l| l as i64))
            }
            Origins::PerRow(rows) => Int64Array::from_iter_values(rows.iter().map(|r| r.1 as i64)),
        })
    }
}

/// The Silver table's fields that hold the contract's columns, in the
/// contract's order and all nullable: the schema validation builds its batches
/// in (it filters out rows that break `required` afterwards).
pub fn contract_schema(silver: &SchemaRef, contract: &Contract) -> Result<SchemaRef> {
    let mut fields = Vec::with_capacity(contract.columns.len());
    for column in &contract.columns {
        let field = silver.field_with_name(&column.name).map_err(|_| {
            table_mismatch(
                contract,
                format!(
                    "it has no column `{}`, which the contract declares",
                    column.name
                ),
            )
        })?;
        fields.push(field.as_ref().clone().with_nullable(true));
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// The lineage columns that may hold one value in every row a Silver writer
/// writes: the run and the task, and the source file when the task reads one.
/// With these as its constant columns ([`ColumnHints`]), a writer takes their
/// bounds from [`SilverBatch::constants`] instead of comparing every row.
///
/// [`ColumnHints`]: floe_lake::data::ColumnHints
pub fn constant_lineage_columns(lineage: bool, inputs: usize) -> &'static [&'static str] {
    match (lineage, inputs) {
        (false, _) => &[],
        (true, 1) => &["_floe_run_id", "_floe_task_id", "_floe_source_file"],
        (true, _) => &["_floe_run_id", "_floe_task_id"],
    }
}

/// A batch for the Silver table and the lineage columns it fills with one value.
pub struct SilverBatch<'a> {
    pub batch: RecordBatch,
    /// (column, value): every row of `batch` holds `value` in `column`.
    pub constants: Vec<(&'static str, &'a str)>,
}

/// `valid` (of [`contract_schema`]) as a batch of the Silver table's `schema`,
/// with the lineage columns filled from `origins` and `ctx` when `lineage` is
/// on (null when off), and any other column the table has null.
pub fn silver_batch<'a>(
    schema: &SchemaRef,
    valid: &RecordBatch,
    origins: Origins<'a>,
    ctx: &'a LineageContext,
    lineage: bool,
) -> Result<SilverBatch<'a>> {
    let rows = valid.num_rows();
    debug_assert_eq!(origins.len(), rows, "an origin per valid row");
    let mut columns = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let column = match valid.column_by_name(field.name()) {
            Some(values) => values.clone(),
            None => match lineage_column(field.name(), origins, ctx).filter(|_| lineage) {
                Some(values) => values,
                None => new_null_array(field.data_type(), rows),
            },
        };
        columns.push(column);
    }
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| FloeError::Stage {
        stage: "building the Silver batch",
        message: e.to_string(),
    })?;
    let mut constants = Vec::new();
    if lineage {
        let names = |n: &str| schema.field_with_name(n).is_ok();
        for (name, value) in [
            ("_floe_run_id", Some(ctx.run_id.as_str())),
            ("_floe_task_id", Some(ctx.task_id.as_str())),
            ("_floe_source_file", origins.one_file()),
        ] {
            if let Some(value) = value.filter(|_| names(name)) {
                constants.push((name, value));
            }
        }
    }
    Ok(SilverBatch { batch, constants })
}

fn lineage_column(name: &str, origins: Origins<'_>, ctx: &LineageContext) -> Option<ArrayRef> {
    let rows = origins.len();
    let column: ArrayRef = match name {
        "_floe_source_file" => origins.files(),
        "_floe_source_line" => origins.lines(),
        "_floe_run_id" => repeat(&ctx.run_id, rows),
        "_floe_task_id" => repeat(&ctx.task_id, rows),
        "_floe_attempt" => Arc::new(Int32Array::from(vec![ctx.attempt as i32; rows])),
        _ => return None,
    };
    debug_assert!(LINEAGE_COLUMNS.iter().any(|(n, ..)| *n == name));
    Some(column)
}

fn repeat(value: &str, rows: usize) -> ArrayRef {
    Arc::new(repeated(value, rows))
}

/// `value` `rows` times: the bytes copied in doublings, not appended per row.
fn repeated(value: &str, rows: usize) -> StringArray {
    let offsets = OffsetBuffer::from_lengths(std::iter::repeat_n(value.len(), rows));
    let values = Buffer::from(value.repeat(rows).into_bytes());
    StringArray::new(offsets, values, None)
}

fn table_mismatch(contract: &Contract, detail: String) -> FloeError {
    FloeError::SilverMismatch {
        table: contract.target.table.to_string(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::Array;
    use arrow_schema::{DataType, Field};
    use iceberg::arrow::schema_to_arrow_schema;

    use super::*;
    use crate::table::silver_schema;

    fn contract(lineage: &str) -> Contract {
        let text = format!(
            r#"
[pipeline]
name = "p"
version = 1
[source]
location = "in/*.csv"
format = "csv"
[target]
table = "silver.p"
quarantine_table = "silver.p_q"
condemned_table = "silver.p_c"
{lineage}
[[columns]]
name = "id"
type = "long"
required = true
[[columns]]
name = "note"
type = "string"
"#
        );
        Contract::parse(&text, std::path::Path::new("p.toml")).unwrap()
    }

    fn ctx() -> LineageContext {
        LineageContext {
            source_partition: String::new(),
            run_id: "run-1".into(),
            task_id: "task-1".into(),
            attempt: 2,
            at_micros: 0,
        }
    }

    #[test]
    fn lineage_columns_follow_the_contracts_unless_turned_off() {
        let on = silver_schema(&contract("")).unwrap();
        let names: Vec<(i32, &str, bool)> = on
            .as_struct()
            .fields()
            .iter()
            .map(|f| (f.id, f.name.as_str(), f.required))
            .collect();
        assert_eq!(
            names,
            vec![
                (1, "id", true),
                (2, "note", false),
                (3, "_floe_source_file", false),
                (4, "_floe_source_line", false),
                (5, "_floe_run_id", false),
                (6, "_floe_task_id", false),
                (7, "_floe_attempt", false),
            ]
        );
        let off = silver_schema(&contract("lineage = false")).unwrap();
        assert_eq!(off.as_struct().fields().len(), 2);
    }

    fn valid(contract: &Contract, silver: &SchemaRef) -> RecordBatch {
        let schema = contract_schema(silver, contract).unwrap();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![7, 8])),
                Arc::new(StringArray::from(vec![Some("a"), None])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn a_silver_batch_matches_the_tables_columns_by_name() {
        let contract = contract("");
        let iceberg = silver_schema(&contract).unwrap();
        let arrow = Arc::new(schema_to_arrow_schema(&iceberg).unwrap());
        // The table has its columns in another order, and one the contract lacks.
        let mut fields: Vec<Field> = arrow
            .fields()
            .iter()
            .rev()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new("added_later", DataType::Utf8, true));
        let table = Arc::new(Schema::new(fields));
        let valid = valid(&contract, &table);
        let lines = [3, 9];
        let origins = Origins::OneFile {
            file: "/bronze/a.csv",
            lines: &lines,
        };
        let ctx = ctx();
        let SilverBatch { batch, constants } =
            silver_batch(&table, &valid, origins, &ctx, true).unwrap();
        let text = |name: &str, row: usize| {
            let c = batch.column_by_name(name).unwrap();
            arrow_cast::display::ArrayFormatter::try_new(c.as_ref(), &Default::default())
                .unwrap()
                .value(row)
                .to_string()
        };
        assert_eq!(text("id", 1), "8");
        assert_eq!(text("note", 0), "a");
        assert_eq!(text("_floe_source_file", 1), "/bronze/a.csv");
        assert_eq!(text("_floe_source_line", 1), "9");
        assert_eq!(text("_floe_run_id", 0), "run-1");
        assert_eq!(text("_floe_task_id", 0), "task-1");
        assert_eq!(text("_floe_attempt", 0), "2");
        assert_eq!(batch.column_by_name("added_later").unwrap().null_count(), 2);
        assert_eq!(
            constants,
            vec![
                ("_floe_run_id", "run-1"),
                ("_floe_task_id", "task-1"),
                ("_floe_source_file", "/bronze/a.csv"),
            ]
        );
        for (name, value) in constants {
            for row in 0..batch.num_rows() {
                assert_eq!(text(name, row), value, "{name} row {row}");
            }
        }

        // Lineage turned off: the table's lineage columns stay null, and none is constant.
        let off = silver_batch(&table, &valid, origins, &ctx, false).unwrap();
        let run_ids = off.batch.column_by_name("_floe_run_id").unwrap();
        assert_eq!(run_ids.null_count(), 2);
        assert!(off.constants.is_empty());
    }

    #[test]
    fn rows_from_several_files_declare_only_the_run_and_the_task() {
        let contract = contract("");
        let iceberg = silver_schema(&contract).unwrap();
        let table = Arc::new(schema_to_arrow_schema(&iceberg).unwrap());
        let valid = valid(&contract, &table);
        let rows = [
            (Arc::from("/bronze/a.csv"), 3),
            (Arc::from("/bronze/b.csv"), 1),
        ];
        let ctx = ctx();
        let out = silver_batch(&table, &valid, Origins::PerRow(&rows), &ctx, true).unwrap();
        let names: Vec<&str> = out.constants.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["_floe_run_id", "_floe_task_id"]);
        assert_eq!(constant_lineage_columns(true, 1).len(), 3);
        assert_eq!(constant_lineage_columns(true, 2), names);
        assert!(constant_lineage_columns(false, 1).is_empty());
    }

    #[test]
    fn a_repeated_value_is_that_value_in_every_row() {
        for (value, rows) in [("", 0), ("", 3), ("x", 1), ("run-01a2", 1000)] {
            let array = repeated(value, rows);
            assert_eq!(array.len(), rows);
            assert_eq!(array.null_count(), 0);
            assert!(array.iter().all(|v| v == Some(value)), "{value:?} x {rows}");
        }
    }

    #[test]
    fn a_contract_column_the_table_lacks_is_named() {
        let table = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        let err = contract_schema(&table, &contract("")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("Silver table silver.p does not fit the contract"),
            "{text}"
        );
        assert!(text.contains("no column `note`"), "{text}");
    }
}
