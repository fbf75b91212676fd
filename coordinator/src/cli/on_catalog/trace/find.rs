//! Finding a key's rows: in Silver by its key columns (pushed down to the
//! scan where the type allows), in the quarantine and condemned tables by
//! their raw text holding every key value as a whole value.

use anyhow::{Context, Result};
use arrow_array::{Array, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use futures::TryStreamExt;
use iceberg::expr::{Predicate, Reference};
use iceberg::spec::{Datum, PrimitiveType, Type};
use iceberg::table::Table;

/// One found row: its columns as text, by name.
pub(super) type Row = Vec<(String, Option<String>)>;

/// Rows of the current snapshot of `table` whose `columns` equal `keys`,
/// with `wanted` columns (those the table has).
pub(super) async fn by_key(
    table: &Table,
    columns: &[String],
    keys: &[String],
    wanted: &[&str],
) -> Result<Vec<Row>> {
    let schema = table.metadata().current_schema();
    let mut predicate = Predicate::AlwaysTrue;
    for (column, key) in columns.iter().zip(keys) {
        let field = schema
            .field_by_name(column)
            .with_context(|| format!("table {} has no column `{column}`", ident(table)))?;
        if let Some(datum) = datum(&field.field_type, key) {
            predicate = predicate.and(Reference::new(column).equal_to(datum));
        }
    }
    let select: Vec<&str> = columns
        .iter()
        .map(String::as_str)
        .chain(
            wanted
                .iter()
                .copied()
                .filter(|c| schema.field_by_name(c).is_some()),
        )
        .collect();
    let rows = scan(table, &select, predicate).await?;
    Ok(rows
        .into_iter()
        .filter(|row| {
            columns
                .iter()
                .zip(keys)
                .all(|(c, k)| value(row, c) == Some(k.as_str()))
        })
        .collect())
}

/// Rows of `table` whose `raw_line` holds every one of `keys` as a whole value
/// (not inside a longer run of letters and digits).
pub(super) async fn by_raw_text(
    table: &Table,
    keys: &[String],
    wanted: &[&str],
) -> Result<Vec<Row>> {
    let rows = scan(table, wanted, Predicate::AlwaysTrue).await?;
    Ok(rows
        .into_iter()
        .filter(|row| {
            let raw = value(row, "raw_line").unwrap_or_default();
            keys.iter().all(|k| holds_whole(raw, k))
        })
        .collect())
}

pub(super) fn value<'r>(row: &'r Row, column: &str) -> Option<&'r str> {
    row.iter()
        .find(|(c, _)| c == column)
        .and_then(|(_, v)| v.as_deref())
}

/// `text` contains `key`, with no letter or digit right before or after it.
pub(super) fn holds_whole(text: &str, key: &str) -> bool {
    if key.is_empty() {
        return false;
    }
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
    text.match_indices(key).any(|(at, _)| {
        !word(text[..at].chars().next_back()) && !word(text[at + key.len()..].chars().next())
    })
}

fn datum(t: &Type, text: &str) -> Option<Datum> {
    match t {
        Type::Primitive(PrimitiveType::String) => Some(Datum::string(text)),
        Type::Primitive(PrimitiveType::Long) => text.trim().parse::<i64>().ok().map(Datum::long),
        Type::Primitive(PrimitiveType::Int) => text.trim().parse::<i32>().ok().map(Datum::int),
        _ => None,
    }
}

async fn scan(table: &Table, columns: &[&str], predicate: Predicate) -> Result<Vec<Row>> {
    if table.metadata().current_snapshot().is_none() {
        return Ok(Vec::new());
    }
    let batches: Vec<RecordBatch> = table
        .scan()
        .select(columns.iter().copied())
        .with_filter(predicate)
        .build()?
        .to_arrow()
        .await?
        .try_collect()
        .await
        .with_context(|| format!("reading {}", ident(table)))?;
    let mut rows = Vec::new();
    for batch in &batches {
        let options = FormatOptions::default();
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for i in 0..batch.num_rows() {
            let row = batch
                .schema()
                .fields()
                .iter()
                .zip(batch.columns().iter().zip(&formatters))
                .map(|(field, (array, f))| {
                    let text = array.is_valid(i).then(|| f.value(i).to_string());
                    (field.name().clone(), text)
                })
                .collect();
            rows.push(row);
        }
    }
    Ok(rows)
}

fn ident(table: &Table) -> String {
    table.identifier().to_string()
}

#[cfg(test)]
mod tests {
    use super::holds_whole;

    #[test]
    fn a_key_is_found_only_as_a_whole_value() {
        assert!(holds_whole("tx_1,c_2,9.50", "tx_1"));
        assert!(holds_whole(r#"{"id":"17","amount":"-1"}"#, "17"));
        assert!(!holds_whole("tx_12,c_2", "tx_1"));
        assert!(!holds_whole("117,abc", "17"));
        assert!(!holds_whole("abc", ""));
        assert!(holds_whole("é,17", "17"));
    }
}
