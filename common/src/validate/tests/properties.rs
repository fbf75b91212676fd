//! Property tests: no input makes reading + validating panic or lose a row.

use super::*;
use crate::error::FloeError;
use floe_lake::storage::LocalStore;

// ------------------------------------------------------------ properties

const PROP_COLUMNS: &str = r#"columns = [
  { name = "id", type = "string", required = true, regex = "^[a-z][0-9]$" },
  { name = "qty", type = "int", min = 1 },
  { name = "amount", type = "decimal(6,2)" },
  { name = "ts", type = "timestamptz", required = true },
  { name = "flag", type = "boolean" },
  { name = "label", type = "string", max_length = 4 },
]
"#;

const SEEDS: [&str; 3] = [
    "id,qty,amount,ts,flag,label\na1,1,1.50,2025-01-05T10:00:00Z,true,xé\n\
     a2,0,x,2025-01-06T01:00:00+02:00,maybe,toolong\na1,2,3.00,2025-01-05 11:00:00Z,,\"q,\"\"r\"\n",
    "{\"id\":\"a1\",\"qty\":1,\"ts\":\"2025-01-05T10:00:00Z\",\"flag\":true}\n\
     {\"id\":\"a1\",\"amount\":\"9999.99\",\"ts\":\"2025-01-05T10:00:00Z\",\"label\":[1]}\n",
    "[{\"id\":\"a1\",\"ts\":\"2025-01-05T10:00:00Z\",\"label\":\"a]\\\"{\"},\n {\"id\":\"b2\",\"qty\":\"x\"}, 7]",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete(Index),
    Insert(Index, u8),
    Duplicate(Index, usize),
    /// Inserts a run of one byte, long enough to break max_record_bytes.
    Repeat(Index, u8, usize),
}

fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(b'"'),
        Just(b','),
        Just(b'\n'),
        Just(b'\r'),
        Just(b'{'),
        Just(b']'),
        Just(b'\\'),
        Just(0xff),
        Just(0xc3),
        any::<u8>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => any::<Index>().prop_map(Mutation::Delete),
        4 => (any::<Index>(), interesting_byte()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => (any::<Index>(), 1..64usize).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        1 => (any::<Index>(), interesting_byte(), 1..3000usize).prop_map(|(i, b, n)| Mutation::Repeat(i, b, n)),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let at = |i: &Index, len: usize| i.index(len + 1);
        match m {
            Mutation::Delete(i) if !bytes.is_empty() => {
                bytes.remove(i.index(bytes.len()));
            }
            Mutation::Delete(_) => {}
            Mutation::Insert(i, b) => bytes.insert(at(i, bytes.len()), *b),
            Mutation::Duplicate(i, n) => {
                let start = at(i, bytes.len());
                let chunk = bytes[start..(start + n).min(bytes.len())].to_vec();
                bytes.splice(start..start, chunk);
            }
            Mutation::Repeat(i, b, n) => {
                let start = at(i, bytes.len());
                bytes.splice(start..start, std::iter::repeat_n(*b, *n));
            }
        }
    }
    bytes
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        (0..SEEDS.len(), prop::collection::vec(mutation(), 0..12))
            .prop_map(|(s, m)| apply(SEEDS[s].as_bytes().to_vec(), &m)),
    ]
}

const PROP_HEADER: &str = "id,qty,amount,ts,flag,label\n";
const CSV: &str = "format = \"csv\"";
const CSV_NO_HEADER: &str = "format = \"csv\"\n[source.csv]\nheader = false";

/// Reads `bytes` with the source spelled `source`, validates every batch and
/// checks the row accounting.
fn check_accounting(source: &str, bytes: &[u8]) -> Result<(), TestCaseError> {
    let c = contract(
        "partition = \"day(ts)\"\n[dedupe]\nkey = [\"id\"]",
        PROP_COLUMNS,
    );
    let c = Contract::parse(&c.text.replace(CSV, source), Path::new("prop.toml")).unwrap();
    let mut h = Harness::new(c, Some(day("2025-01-05")));
    let path = h.dir.path().join("input");
    std::fs::write(&path, bytes).unwrap();
    let (mut rows_in, mut rows_out) = (0usize, 0usize);
    let validator = &mut h.validator;
    let read = read_file(
        &LocalStore,
        &path.to_string_lossy(),
        &h.contract,
        4,
        &mut |b| {
            rows_in += b.num_rows() + b.rejects.len();
            let v = validator.validate(b).unwrap();
            rows_out += v.valid.num_rows() + v.quarantined.len() + v.condemned.len();
            assert!(v
                .quarantined
                .iter()
                .all(|r| r.line >= 1 && !r.reasons.is_empty()));
            Ok(())
        },
    );
    let stats = match read {
        // Binary input is refused whole, before any row is read: a clear error.
        Err(FloeError::NotText { .. }) if rows_in == 0 => return Ok(()),
        other => other.unwrap(),
    };
    prop_assert_eq!(rows_in, rows_out, "{} rows in, {} out", rows_in, rows_out);
    prop_assert_eq!(stats.records as usize, rows_in);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// With a header the CSV gets a fixed one: a header record longer than 4096
    /// bytes panics (`source::tests::a_header_longer_than_4096_bytes_does_not_panic`).
    #[test]
    fn reading_and_validating_any_bytes_never_panics_and_loses_no_row(bytes in input()) {
        check_accounting(CSV, &[PROP_HEADER.as_bytes(), &bytes].concat())?;
        for source in [CSV_NO_HEADER, "format = \"ndjson\"", "format = \"json\""] {
            check_accounting(source, &bytes)?;
        }
    }
}
