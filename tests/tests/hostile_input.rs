//! Hostile input through real processes: a file that is not text, a
//! decompression bomb and a file rewritten after planning each fail their own
//! task at once (no retries), with a message naming the file and what to do,
//! and commit nothing; the healthy day of the run commits. Submitting again
//! loads the rewritten file as it is now.

use std::io::Write;
use std::time::Duration;

use floe_tests::checks::*;
use floe_tests::cluster::Cluster;
use floe_tests::*;

const TIMEOUT: Duration = Duration::from_secs(120);

fn gzip_bomb() -> Vec<u8> {
    let member = |bytes: &[u8]| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    };
    let mut out = member(b"transaction_id,amount\n");
    let body = member(&vec![b'9'; 1 << 20]);
    for _ in 0..100 {
        out.extend_from_slice(&body);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_files_bombs_and_changed_files_fail_their_task_clearly() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(12_400));
    let (binary, bomb, changed, healthy) = ("2025-01-02", "2025-01-03", "2025-01-04", "2025-01-05");
    let dir = |day: &str| lake.bronze().join(format!("transactions/date={day}"));
    // A PNG that landed among the CSVs, and a gzip bomb next to a day's files.
    std::fs::write(
        dir(binary).join("upload.csv"),
        [&b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..], &[7u8; 4096]].concat(),
    )
    .unwrap();
    std::fs::write(dir(bomb).join("extra.csv.gz"), gzip_bomb()).unwrap();
    let contract = lake.dir.path().join("any-csv.toml");
    // Direct: the healthy days reach `main` although the run fails (a failed
    // staged run publishes nothing: tests/tests/staged_runs.rs).
    let text = std::fs::read_to_string(contract_path())
        .unwrap()
        .replace("date={date}/*.csv\"", "date={date}/*.csv*\"")
        .replace("publish = \"auto\"", "publish = \"direct\"");
    assert!(text.contains("publish = \"direct\""));
    std::fs::write(&contract, text).unwrap();

    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    let run_id = cluster.submit(&contract, &["--from", binary, "--to", healthy]);
    // Planned; now a file of one day is appended to before any worker reads it.
    let appended = lake.bronze().join(&truth.days[changed].files[0]);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&appended)
        .unwrap();
    file.write_all(b"late,row\n").unwrap();
    drop(file);
    cluster.start_worker();
    let run = cluster.wait_for_run(&run_id, TIMEOUT);
    assert_eq!(run["state"], "failed", "{run:#}");
    let tasks = run["tasks"].as_array().unwrap();
    let task = |day: &str| tasks.iter().find(|t| t["partition"] == day).unwrap();
    let expect = [
        (binary, vec!["upload.csv", "is not text", "it is an image"]),
        (
            bomb,
            vec!["extra.csv.gz", "decompression bomb", "limits.max_expansion"],
        ),
        (
            changed,
            vec!["changed after the run was planned", "Submit the run again"],
        ),
    ];
    for (day, parts) in expect {
        let t = task(day);
        assert_eq!(t["state"], "failed", "{day}: {t:#}");
        assert_eq!(t["attempts"], 1, "{day} is not retried: {t:#}");
        let error = t["last_error"].as_str().unwrap();
        for part in parts
            .iter()
            .chain(&["Nothing from this task was committed"])
        {
            assert!(
                error.contains(part),
                "{day}: `{part}` missing from: {error}"
            );
        }
    }
    assert_eq!(task(healthy)["state"], "succeeded");
    assert_tables_match(lake.catalog.as_ref(), &truth, &[healthy]).await;

    // Submitted again, the appended file is read as it is now: one more row,
    // quarantined (it does not fit the contract).
    let again = cluster.submit(&contract, &["--date", changed]);
    let run = cluster.wait_for_run(&again, TIMEOUT);
    assert_eq!(run["state"], "succeeded", "{run:#}");
    let counts = &truth.days[changed].counts;
    assert_eq!(run["rows"]["rows_in"], counts.rows + 1, "{run:#}");
    assert_eq!(run["rows"]["quarantined"], counts.bad + 1);
    assert_eq!(run["rows"]["valid"], counts.valid);
}
