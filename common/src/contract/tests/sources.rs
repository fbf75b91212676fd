//! Contract checking of what a source format can read.

use super::*;

#[test]
fn paths_are_refused_on_csv_and_list_indexes_on_parquet() {
    let on = |format: &str, path: &str| {
        let text = with("format = \"csv\"", &format!("format = \"{format}\""));
        let decl = "name = \"id\"\n";
        text.replacen(decl, &format!("{decl}path = \"{path}\"\n"), 1)
    };
    assert_invalid(
        &on("csv", "a.b"),
        "columns[0].path",
        "a path on a CSV source",
        "`path` only with source.format",
    );
    assert_invalid(
        &on("parquet", "items[0].sku"),
        "columns[0].path",
        "a list index on a Parquet source",
        "struct fields only",
    );
    let parquet = parse(&on("parquet", "payment.id")).unwrap();
    assert_eq!(parquet.source.format, SourceFormat::Parquet);
}

#[test]
fn a_whole_file_compression_on_parquet_is_refused() {
    let text = with("format = \"csv\"", "format = \"parquet\"");
    assert_invalid(
        &text.replacen("compression = \"auto\"", "compression = \"gzip\"", 1),
        "source.compression",
        "a whole-file compression on a Parquet source",
        "auto or none",
    );
}

#[test]
fn a_continuous_source_polls_for_new_files_over_recent_days() {
    let polled = |keys: &str| {
        with(
            "location = \"orders/date={date}/*.csv\"",
            &format!("location = \"orders/date={{date}}/*.csv\"\n{keys}"),
        )
    };
    let c = parse(&polled("poll = \"10s\"")).unwrap();
    let continuous = c.source.continuous.unwrap();
    assert_eq!(continuous.poll, Some(std::time::Duration::from_secs(10)));
    assert_eq!(continuous.events, None);
    assert_eq!((continuous.poll_days, continuous.window.as_secs()), (2, 30));
    let c = parse(&polled("poll = \"1m\"\npoll_days = 1\nwindow = \"0s\"")).unwrap();
    assert_eq!(
        c.source.continuous.unwrap().window,
        std::time::Duration::ZERO
    );
    assert!(parse(BASE).unwrap().source.continuous.is_none());
    let events = parse(&polled("events = \"bronze-events\"")).unwrap();
    let continuous = events.source.continuous.unwrap();
    assert_eq!(
        (continuous.poll, continuous.events.as_deref()),
        (None, Some("bronze-events"))
    );
    assert_invalid(
        &polled("events = \" \""),
        "source.events",
        "an empty name",
        "SQS queue",
    );

    assert_invalid(&polled("poll = \"often\""), "source.poll", "often", "30s");
    assert_invalid(&polled("poll = \"0s\""), "source.poll", "0s", "a duration");
    assert_invalid(
        &polled("poll = \"10s\"\npoll_days = 40"),
        "source.poll_days",
        "40",
        "1 to 31",
    );
    assert_invalid(
        &polled("window = \"1m\""),
        "source.window / source.poll_days",
        "without source.poll or source.events",
        "source.events",
    );
}
