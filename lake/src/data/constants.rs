//! Columns holding one value in every row a writer writes (a task's run and
//! task ids, its one source file). Parquet's statistics would compare that
//! value with itself row after row; the writer skips them for these columns and
//! gives the data files the bounds and null counts the value implies.

use std::collections::HashMap;

use arrow_array::{Array, RecordBatch, StringArray};
use iceberg::spec::{DataFile, DataFileBuilder, Datum, Schema};

/// What the writer has been told a constant column holds so far.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Nothing,
    One(String),
    /// Two values, or a batch written without declaring one: no bounds.
    Unknown,
}

#[derive(Debug)]
struct Column {
    name: String,
    field_id: i32,
    seen: Seen,
}

/// The constant columns of one writer and the values its batches declared.
#[derive(Debug, Default)]
pub(super) struct Constants(Vec<Column>);

impl Constants {
    /// `names` are string columns of `schema`; a name the table lacks is
    /// ignored (nothing is written there).
    pub fn new(schema: &Schema, names: &[&str]) -> Self {
        let columns = names
            .iter()
            .filter_map(|name| {
                let field = schema.field_by_name(name)?;
                Some(Column {
                    name: name.to_string(),
                    field_id: field.id,
                    seen: Seen::Nothing,
                })
            })
            .collect();
        Self(columns)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|c| c.name.as_str())
    }

    /// Records a batch written with `declared` (column, value) pairs: each
    /// names the value every row of that column holds. A constant column the
    /// batch does not declare loses its bounds.
    pub fn record(&mut self, batch: &RecordBatch, declared: &[(&str, &str)]) {
        for column in &mut self.0 {
            let value = declared.iter().find(|(n, _)| *n == column.name);
            debug_assert!(
                value.is_none_or(|(_, v)| holds_only(batch, &column.name, v)),
                "column {} declared constant but holds other values",
                column.name
            );
            column.seen = match (&column.seen, value) {
                (_, None) | (Seen::Unknown, _) => Seen::Unknown,
                (Seen::Nothing, Some((_, v))) => Seen::One(v.to_string()),
                (Seen::One(old), Some((_, v))) if old == v => Seen::One(old.clone()),
                (Seen::One(_), Some(_)) => Seen::Unknown,
            };
        }
    }

    /// `file` with the bounds (the value itself) and null count (none) of every
    /// constant column whose batches all declared the same value. `spec_id` is
    /// the partition spec the file was written for (the field has no getter).
    pub fn apply(&self, file: DataFile, spec_id: i32) -> DataFile {
        let known: Vec<(i32, &str)> = self
            .0
            .iter()
            .filter_map(|c| match &c.seen {
                Seen::One(v) => Some((c.field_id, v.as_str())),
                _ => None,
            })
            .collect();
        if known.is_empty() {
            return file;
        }
        let mut lower = file.lower_bounds().clone();
        let mut upper = file.upper_bounds().clone();
        let mut nulls = file.null_value_counts().clone();
        for (id, value) in known {
            lower.insert(id, Datum::string(value));
            upper.insert(id, Datum::string(value));
            nulls.insert(id, 0);
        }
        with_metrics(&file, spec_id, lower, upper, nulls)
    }
}

/// Every row of `batch`'s column `name` is `value` (no nulls).
fn holds_only(batch: &RecordBatch, name: &str, value: &str) -> bool {
    let Some(column) = batch.column_by_name(name) else {
        return false;
    };
    let Some(strings) = column.as_any().downcast_ref::<StringArray>() else {
        return false;
    };
    strings.null_count() == 0 && strings.iter().all(|v| v == Some(value))
}

/// A copy of `file` with other bounds and null counts, every other field kept.
fn with_metrics(
    file: &DataFile,
    spec_id: i32,
    lower: HashMap<i32, Datum>,
    upper: HashMap<i32, Datum>,
    nulls: HashMap<i32, u64>,
) -> DataFile {
    let mut b = DataFileBuilder::default();
    b.content(file.content_type())
        .file_path(file.file_path().to_string())
        .file_format(file.file_format())
        .partition(file.partition().clone())
        .record_count(file.record_count())
        .file_size_in_bytes(file.file_size_in_bytes())
        .column_sizes(file.column_sizes().clone())
        .value_counts(file.value_counts().clone())
        .null_value_counts(nulls)
        .nan_value_counts(file.nan_value_counts().clone())
        .lower_bounds(lower)
        .upper_bounds(upper)
        .key_metadata(file.key_metadata().map(<[u8]>::to_vec))
        .split_offsets(file.split_offsets().map(<[i64]>::to_vec))
        .equality_ids(file.equality_ids())
        .first_row_id(file.first_row_id())
        .partition_spec_id(spec_id)
        .referenced_data_file(file.referenced_data_file())
        .content_offset(file.content_offset())
        .content_size_in_bytes(file.content_size_in_bytes());
    if let Some(order) = file.sort_order_id() {
        b.sort_order_id(order);
    }
    b.build().expect("every required field copied")
}

#[cfg(test)]
#[path = "constants_tests.rs"]
mod tests;
