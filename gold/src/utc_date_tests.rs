use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, Int64Array, RecordBatch, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray,
};
use arrow_schema::{DataType, Field, Schema};
use datafusion::prelude::SessionContext;
use proptest::prelude::*;

use super::*;
use crate::session::{new_session, Limits};

fn timestamps(unit: TimeUnit, tz: Option<&str>, values: Vec<Option<i64>>) -> ArrayRef {
    let tz: Option<Arc<str>> = tz.map(Into::into);
    match unit {
        TimeUnit::Second => Arc::new(TimestampSecondArray::from(values).with_timezone_opt(tz)),
        TimeUnit::Millisecond => {
            Arc::new(TimestampMillisecondArray::from(values).with_timezone_opt(tz))
        }
        TimeUnit::Microsecond => {
            Arc::new(TimestampMicrosecondArray::from(values).with_timezone_opt(tz))
        }
        TimeUnit::Nanosecond => {
            Arc::new(TimestampNanosecondArray::from(values).with_timezone_opt(tz))
        }
    }
}

fn any_unit() -> impl Strategy<Value = TimeUnit> {
    prop_oneof![
        Just(TimeUnit::Second),
        Just(TimeUnit::Millisecond),
        Just(TimeUnit::Microsecond),
        Just(TimeUnit::Nanosecond),
    ]
}

/// Around the epoch, at day boundaries, and anywhere in i64 (far beyond
/// chrono's dates for seconds and milliseconds).
fn any_value() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![
        Just(None),
        (-10_000i64..10_000).prop_map(|d| Some(d * 86_400_000_000 - 1)),
        (-10_000i64..10_000).prop_map(|d| Some(d * 86_400_000_000)),
        any::<i32>().prop_map(|v| Some(i64::from(v))),
        any::<i64>().prop_map(Some),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The same dates and nulls as Arrow's cast, or an error where it errs.
    #[test]
    fn utc_days_is_the_cast(
        unit in any_unit(),
        tz in prop_oneof![Just(None), Just(Some("+00:00")), Just(Some("UTC"))],
        values in proptest::collection::vec(any_value(), 0..40),
    ) {
        let array = timestamps(unit, tz, values);
        let fast = utc_days(&array);
        let cast = arrow_cast::cast(&array, &DataType::Date32);
        match (fast, cast) {
            (Ok(fast), Ok(cast)) => prop_assert_eq!(fast.as_ref(), cast.as_ref()),
            (Err(fast), Err(cast)) => prop_assert_eq!(fast.to_string(), cast.to_string()),
            (fast, cast) => prop_assert!(false, "fast {fast:?}, cast {cast:?}"),
        }
    }
}

fn table(ctx: &SessionContext, tz: &str) {
    let day = 86_400_000_000i64;
    let ts = timestamps(
        TimeUnit::Microsecond,
        Some(tz),
        vec![
            Some(0),
            Some(day - 1),
            Some(day),
            None,
            Some(-1),
            Some(3 * day + 5),
        ],
    );
    let amount: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5, 6]));
    let schema = Schema::new(vec![
        Field::new("ts", ts.data_type().clone(), true),
        Field::new("amount", DataType::Int64, false),
    ]);
    let batch = RecordBatch::try_new(Arc::new(schema), vec![ts, amount]).unwrap();
    ctx.register_batch("t", batch).unwrap();
}

async fn run(ctx: &SessionContext, sql: &str) -> (Vec<RecordBatch>, String) {
    let df = ctx.sql(sql).await.unwrap();
    let plan = df
        .clone()
        .into_optimized_plan()
        .unwrap()
        .display_indent()
        .to_string();
    (df.collect().await.unwrap(), plan)
}

/// Models give what they gave without the rule (names included), and the rule
/// fires where it should and only there.
#[tokio::test]
async fn rewritten_queries_answer_as_the_cast_does() {
    let queries = [
        "SELECT CAST(ts AS DATE) AS day, COUNT(*) AS n, SUM(amount) AS amount \
         FROM t GROUP BY 1 ORDER BY 1",
        "SELECT CAST(ts AS DATE), amount FROM t ORDER BY amount",
        "SELECT CAST(ts AS DATE) + 1 AS next FROM t ORDER BY amount",
        "SELECT amount FROM t WHERE CAST(ts AS DATE) = DATE '1970-01-01' ORDER BY amount",
    ];
    for tz in ["+00:00", "+02:00"] {
        for sql in queries {
            let floe = new_session(&Limits::default());
            let plain = SessionContext::new();
            table(&floe, tz);
            table(&plain, tz);
            let (got, plan) = run(&floe, sql).await;
            let (want, _) = run(&plain, sql).await;
            assert_eq!(got, want, "{tz}: {sql}\n{plan}");
            let fired = plan.contains("floe_utc_date");
            let should = tz == "+00:00" && !sql.contains("WHERE");
            assert_eq!(fired, should, "{tz}: {sql}\n{plan}");
        }
    }
}
