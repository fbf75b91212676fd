//! Prints a query's result as a table, JSON (an array of objects) or CSV.

use datafusion::arrow::util::pretty::pretty_format_batches;

use crate::error::{GoldError, Result};
use crate::query::QueryResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

pub fn render(result: &QueryResult, format: Format) -> Result<String> {
    let failed = |e: datafusion::arrow::error::ArrowError| {
        GoldError::Query(format!("formatting the result: {e}"))
    };
    match format {
        Format::Table => {
            if result.batches.iter().all(|b| b.num_rows() == 0) {
                return Ok(format!("{}\n(0 rows)", column_names(result).join(" | ")));
            }
            Ok(pretty_format_batches(&result.batches)
                .map_err(failed)?
                .to_string())
        }
        Format::Json => {
            let mut writer = datafusion::arrow::json::ArrayWriter::new(Vec::new());
            let batches: Vec<_> = result.batches.iter().collect();
            writer.write_batches(&batches).map_err(failed)?;
            writer.finish().map_err(failed)?;
            let text = String::from_utf8(writer.into_inner()).unwrap_or_default();
            // An empty result writes nothing: it is still an array.
            Ok(if text.is_empty() { "[]".into() } else { text })
        }
        Format::Csv => {
            let mut buffer = Vec::new();
            {
                let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut buffer);
                for b in &result.batches {
                    writer.write(b).map_err(failed)?;
                }
            }
            if buffer.is_empty() {
                return Ok(column_names(result).join(","));
            }
            Ok(String::from_utf8(buffer)
                .unwrap_or_default()
                .trim_end()
                .to_string())
        }
    }
}

fn column_names(result: &QueryResult) -> Vec<&str> {
    result
        .schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Decimal128Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    fn result(rows: bool) -> QueryResult {
        let schema = Arc::new(Schema::new(vec![
            Field::new("currency", DataType::Utf8, true),
            Field::new("revenue", DataType::Decimal128(22, 2), true),
        ]));
        let (currencies, cents): (Vec<&str>, Vec<i128>) = if rows {
            (vec!["EUR", "JPY"], vec![12345, 5])
        } else {
            (vec![], vec![])
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(currencies)),
            Arc::new(
                Decimal128Array::from(cents)
                    .with_precision_and_scale(22, 2)
                    .unwrap(),
            ),
        ];
        QueryResult {
            batches: vec![RecordBatch::try_new(schema.clone(), columns).unwrap()],
            schema,
            read: vec![],
        }
    }

    #[test]
    fn a_result_prints_as_a_table_json_or_csv() {
        let table = render(&result(true), Format::Table).unwrap();
        assert!(table.contains("| EUR      | 123.45  |"), "{table}");
        let json: serde_json::Value =
            serde_json::from_str(&render(&result(true), Format::Json).unwrap()).unwrap();
        assert_eq!(json[1]["currency"], "JPY");
        assert_eq!(json[0]["revenue"].to_string().trim_matches('"'), "123.45");
        let csv = render(&result(true), Format::Csv).unwrap();
        assert_eq!(csv, "currency,revenue\nEUR,123.45\nJPY,0.05");
    }

    #[test]
    fn an_empty_result_still_names_its_columns() {
        assert_eq!(
            render(&result(false), Format::Csv).unwrap(),
            "currency,revenue"
        );
        assert_eq!(render(&result(false), Format::Json).unwrap(), "[]");
        assert!(render(&result(false), Format::Table)
            .unwrap()
            .contains("(0 rows)"));
    }
}
