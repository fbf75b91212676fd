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
