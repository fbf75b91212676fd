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
        // First time in quarantine; reprocessing raises it.
        repeat_i32(1, n),
        repeat_ts(ctx.at_micros, n),
    ];
    RecordBatch::try_new(schema, columns).expect("columns follow QUARANTINE_COLUMNS")
}

pub fn condemned_batch(schema: SchemaRef, rows: &[Duplicate], ctx: &LineageContext) -> RecordBatch {
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
            rows.iter()
                .map(|r| format!("duplicate of {}", r.duplicate_of)),
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
