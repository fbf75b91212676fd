//! Quarantined and condemned rows as Arrow batches of their tables' schemas.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::SchemaRef;

use crate::source::Reject;
use crate::validate::{Duplicate, UTC};

/// Who wrote these rows, and when.
#[derive(Debug, Clone)]
pub struct LineageContext {
    pub source_partition: String,
    pub run_id: String,
    pub task_id: String,
    pub attempt: u32,
    pub at_micros: i64,
}

fn repeat_str(v: &str, n: usize) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(std::iter::repeat_n(v, n)))
}

fn repeat_i32(v: i32, n: usize) -> ArrayRef {
    Arc::new(Int32Array::from(vec![v; n]))
}

fn repeat_ts(v: i64, n: usize) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(vec![v; n]).with_timezone(UTC))
}

pub fn quarantine_batch(schema: SchemaRef, rows: &[Reject], ctx: &LineageContext) -> RecordBatch {
    // First time in quarantine; reprocessing raises it.
    quarantine_rows(schema, rows, &vec![1; rows.len()], ctx)
}

/// Quarantine rows with their `attempt_count`s (one per row).
pub fn quarantine_rows(
    schema: SchemaRef,
    rows: &[Reject],
    attempt_counts: &[i32],
    ctx: &LineageContext,
) -> RecordBatch {
    let n = rows.len();
    let columns: Vec<ArrayRef> = vec![
        repeat_str(&ctx.source_partition, n),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.file.as_ref()),
        )),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.line as i64),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.raw.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.reasons.join("; ")),
        )),
        repeat_str(&ctx.run_id, n),
        repeat_str(&ctx.task_id, n),
        repeat_i32(ctx.attempt as i32, n),
        Arc::new(Int32Array::from(attempt_counts.to_vec())),
        repeat_ts(ctx.at_micros, n),
    ];
    RecordBatch::try_new(schema, columns).expect("columns follow QUARANTINE_COLUMNS")
}

/// A row of the condemned table.
#[derive(Debug, Clone, PartialEq)]
pub struct CondemnedRow {
    pub file: Arc<str>,
    pub line: u64,
    pub raw: String,
    pub reason: String,
    /// `file:line` of the row a duplicate repeats; empty otherwise.
    pub duplicate_of: String,
}

pub fn condemned_batch(schema: SchemaRef, rows: &[Duplicate], ctx: &LineageContext) -> RecordBatch {
    let rows: Vec<CondemnedRow> = rows
        .iter()
        .map(|d| CondemnedRow {
            file: d.file.clone(),
            line: d.line,
            raw: d.raw.clone(),
            reason: format!("duplicate of {}", d.duplicate_of),
            duplicate_of: d.duplicate_of.clone(),
        })
        .collect();
    condemned_rows(schema, &rows, ctx)
}

pub fn condemned_rows(
    schema: SchemaRef,
    rows: &[CondemnedRow],
    ctx: &LineageContext,
) -> RecordBatch {
    let n = rows.len();
    let columns: Vec<ArrayRef> = vec![
        repeat_str(&ctx.source_partition, n),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.file.as_ref()),
        )),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.line as i64),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.raw.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.reason.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.duplicate_of.as_str()),
        )),
        repeat_str(&ctx.run_id, n),
        repeat_str(&ctx.task_id, n),
        repeat_i32(ctx.attempt as i32, n),
        repeat_ts(ctx.at_micros, n),
    ];
    RecordBatch::try_new(schema, columns).expect("columns follow CONDEMNED_COLUMNS")
}
