//! Parse-back test: reads generated files with an independent, hand-written
//! RFC 4180 splitter and contract checker, and recomputes the ground truth.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use super::tests::TempDir;
use super::*;

/// One CSV record: its exact bytes (terminator included) and its fields.
struct Rec<'a> {
    raw: &'a [u8],
    fields: Vec<Vec<u8>>,
}

/// Minimal RFC 4180 splitter: quotes may wrap fields, `""` is a literal quote,
/// and commas / newlines inside quotes belong to the field.
fn split_records(data: &[u8]) -> Vec<Rec<'_>> {
    let (mut out, mut fields, mut field) = (Vec::new(), Vec::new(), Vec::new());
    let (mut start, mut in_quotes, mut i) = (0, false, 0);
    while i < data.len() {
        let b = data[i];
        match (in_quotes, b) {
            (true, b'"') if data.get(i + 1) == Some(&b'"') => {
                field.push(b'"');
                i += 1;
            }
            (true, b'"') => in_quotes = false,
            (true, _) => field.push(b),
            (false, b'"') => in_quotes = true,
            (false, b',') => fields.push(std::mem::take(&mut field)),
            (false, b'\n') => {
                fields.push(std::mem::take(&mut field));
                out.push(Rec {
                    raw: &data[start..=i],
                    fields: std::mem::take(&mut fields),
                });
                start = i + 1;
            }
            (false, _) => field.push(b),
        }
        i += 1;
    }
    assert!(
        !in_quotes && start == data.len(),
        "file must end with a complete record"
    );
    out
}

fn is_tx_id(s: &str) -> bool {
    s.len() == 19
        && s.starts_with("tx_")
        && s[3..]
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn parse_ts(s: &str) -> Option<DateTime<chrono::Utc>> {
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%:z") {
        return Some(t.to_utc());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

/// Cents of a well-formed `-?digits.dd` amount.
fn parse_cents(s: &str) -> Option<i64> {
    let (int, frac) = s.split_once('.')?;
    let digits = int.strip_prefix('-').unwrap_or(int);
    let ok = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && frac.len() == 2;
    let ok = ok && frac.bytes().all(|b| b.is_ascii_digit());
    let cents = digits.parse::<i64>().ok()? * 100 + frac.parse::<i64>().ok()?;
    ok.then_some(if int.starts_with('-') { -cents } else { cents })
}

/// Checks a record against the contract; returns its single defect, if any.
/// `other:*` defects are never injected and fail the test.
fn classify(fields: &[Vec<u8>], day: NaiveDate) -> Option<&'static str> {
    if fields.len() != 14 {
        return Some("wrong_column_count");
    }
    let mut defects = Vec::new();
    if fields[..13].iter().any(|f| std::str::from_utf8(f).is_err()) {
        defects.push("other:utf8_outside_description");
    }
    if std::str::from_utf8(&fields[13]).is_err() {
        defects.push("invalid_utf8");
    }
    let f: Vec<String> = fields
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    let one_of = |s: &str, set: &[&str]| set.contains(&s);
    match f[0].as_str() {
        "" => defects.push("missing_required"),
        s if !is_tx_id(s) => defects.push("bad_regex"),
        _ => {}
    }
    let cust = f[1].strip_prefix("c_").unwrap_or("");
    if cust.len() != 6 || !cust.bytes().all(|b| b.is_ascii_digit()) {
        defects.push("other:customer_id");
    }
    if f[2].is_empty() || f[2].chars().count() > 16 {
        defects.push("other:merchant_id");
    }
    match parse_ts(&f[3]) {
        None => defects.push("bad_timestamp"),
        Some(t) if t.date_naive() != day => defects.push("other:ts_outside_day"),
        Some(_) => {}
    }
    match (
        f[4].as_str(),
        f[4].parse::<f64>().is_ok(),
        parse_cents(&f[4]),
    ) {
        ("", _, _) => defects.push("missing_required"),
        (_, false, _) => defects.push("bad_number"),
        (_, true, None) => defects.push("other:amount_format"),
        (_, true, Some(c)) if !(1..=5_000_000).contains(&c) => defects.push("out_of_range"),
        _ => {}
    }
    if !one_of(&f[5], &["EUR", "USD", "GBP", "CHF", "JPY"]) {
        defects.push("bad_enum");
    }
    if !one_of(&f[6], &["settled", "pending", "refunded", "failed"]) {
        defects.push("other:status");
    }
    if !one_of(&f[7], &row::CATEGORIES) {
        defects.push("other:category");
    }
    if f[8].len() != 2 || !f[8].bytes().all(|b| b.is_ascii_uppercase()) {
        defects.push("bad_regex");
    }
    if !one_of(&f[9], &["card", "bank_transfer", "wallet", "cash"]) {
        defects.push("other:payment_method");
    }
    match f[10].parse::<i64>() {
        Ok(q) if (1..=1000).contains(&q) => {}
        Ok(_) => defects.push("out_of_range"),
        Err(_) => defects.push("other:quantity"),
    }
    if !one_of(&f[11], &["true", "false"]) {
        defects.push("other:is_online");
    }
    match NaiveDate::parse_from_str(&f[12], "%Y-%m-%d") {
        Ok(d) if (0..=3).contains(&(d - day).num_days()) => {}
        _ => defects.push("other:settlement_date"),
    }
    if f[13].chars().count() > 200 {
        defects.push("too_long");
    }
    assert!(
        defects.len() <= 1,
        "more than one defect {defects:?} in {f:?}"
    );
    assert!(
        !defects.iter().any(|d| d.starts_with("other:")),
        "unexpected {defects:?} in {f:?}"
    );
    defects.first().copied()
}

#[derive(Default)]
struct Seen {
    counts: Counts,
    /// Non-empty ids of valid and bad records across the whole dataset.
    ids: HashSet<Vec<u8>>,
    /// The day's valid records so far: a duplicate repeats one of them.
    valid_raw: HashSet<Vec<u8>>,
    features: HashSet<&'static str>,
}

/// Recomputes one file's truth, checking id uniqueness and that every duplicate
/// repeats an earlier valid record of its day.
fn check_file(data: &[u8], day: NaiveDate, seen: &mut Seen) {
    let records = split_records(data);
    assert_eq!(records[0].raw, row::HEADER);
    for rec in &records[1..] {
        seen.counts.rows += 1;
        if seen.valid_raw.contains(rec.raw) {
            seen.counts.duplicates += 1;
            continue;
        }
        let id = rec.fields[0].clone();
        assert!(
            id.is_empty() || seen.ids.insert(id.clone()),
            "id {id:?} reused"
        );
        match classify(&rec.fields, day) {
            Some(kind) => {
                seen.counts.bad += 1;
                *seen.counts.bad_by_kind.entry(kind.to_string()).or_default() += 1;
            }
            None => {
                seen.counts.valid += 1;
                let amount = std::str::from_utf8(&rec.fields[4]).unwrap();
                seen.counts.sum_amount_valid_cents += parse_cents(amount).unwrap();
                seen.valid_raw.insert(rec.raw.to_vec());
                note_features(&rec.fields, &mut seen.features);
            }
        }
    }
    let physical_lines = data.iter().filter(|&&b| b == b'\n').count();
    if physical_lines > records.len() {
        seen.features.insert("multi-line record");
    }
}

/// Records which realistic variations valid rows exercise.
fn note_features(fields: &[Vec<u8>], features: &mut HashSet<&'static str>) {
    let ts = std::str::from_utf8(&fields[3]).unwrap();
    for (needle, name) in [
        ("+00:00", "utc offset"),
        ("+01:00", "+01:00"),
        ("-05:00", "-05:00"),
    ] {
        if ts.ends_with(needle) {
            features.insert(name);
        }
    }
    if ts.contains(' ') {
        features.insert("space format");
    }
    let desc = &fields[13];
    for (b, name) in [(b',', "comma"), (b'"', "quote"), (b'\n', "newline")] {
        if desc.contains(&b) {
            features.insert(name);
        }
    }
    if desc.is_empty() {
        features.insert("empty description");
    }
}

#[test]
fn parse_back_matches_ground_truth() {
    let dir = TempDir::new("parse");
    let cfg = SampleConfig {
        rows: 12_000,
        files_per_day: 2,
        bad_row_rate: 0.15,
        duplicate_rate: 0.05,
        ..SampleConfig::default()
    };
    let truth = generate(dir.path(), &cfg).unwrap();
    let mut ids = HashSet::new();
    let mut features = HashSet::new();
    let mut kinds_seen = BTreeMap::new();
    for (date, day) in &truth.days {
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        let mut seen = Seen {
            ids: std::mem::take(&mut ids),
            ..Seen::default()
        };
        for file in &day.files {
            check_file(&fs::read(dir.path().join(file)).unwrap(), date, &mut seen);
        }
        // The truth lists every kind (zeros included); the parse only finds
        // kinds that occur.
        let expected: BTreeMap<_, _> = day
            .counts
            .bad_by_kind
            .iter()
            .filter(|(_, &v)| v > 0)
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        assert_eq!(seen.counts.bad_by_kind, expected, "{date}");
        seen.counts.bad_by_kind = day.counts.bad_by_kind.clone();
        assert_eq!(seen.counts, day.counts, "{date}");
        for (k, v) in expected {
            *kinds_seen.entry(k).or_insert(0u64) += v;
        }
        ids = seen.ids;
        features.extend(seen.features);
    }
    for kind in BadKind::ALL {
        assert!(
            kinds_seen.get(kind.as_str()).copied().unwrap_or(0) > 0,
            "{} never injected",
            kind.as_str()
        );
    }
    let want = [
        "utc offset",
        "+01:00",
        "-05:00",
        "space format",
        "comma",
        "quote",
        "newline",
        "empty description",
        "multi-line record",
    ];
    for feature in want {
        assert!(features.contains(feature), "no valid row with {feature}");
    }
}

#[test]
fn splitter_handles_quotes_and_newlines() {
    let recs = split_records(b"a,\"b,\"\"c\"\"\nd\",\ne,f,g\n");
    assert_eq!(recs.len(), 2);
    assert_eq!(
        recs[0].fields,
        vec![b"a".to_vec(), b"b,\"c\"\nd".to_vec(), Vec::new()]
    );
    assert_eq!(recs[1].raw, b"e,f,g\n");
}
