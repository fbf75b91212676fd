//! Commit benchmarks through Floe's commit layer. Not a test: it prints figures.
//!
//!   floe-bench-commits history [--commits 2000] [--reload-every 4] [--no-merge]
//!       [--days N] [--retain-last N] [--manifest-target BYTES] [--min-merge N]
//!   floe-bench-commits contention [--committers 8,32,64] [--commits-per 10]
//!
//! Both take `--catalog sqlite|glue` (Glue and S3 on a moto server it starts;
//! `FLOE_PYTHON` names a Python with moto).
//!
//! `history`: one committer makes daily loads into new days, reloading an
//! earlier day every `--reload-every` commits, and prints commit latency as the
//! table's history grows, with the manifests and metadata size it ends with.
//! `--days N` reloads N days over and over instead: the table keeps its size
//! and only its history grows. `--retain-last N` expires all but the newest N snapshots every N/2 commits,
//! as maintenance bounds a table's history (the expiry is not timed).
//! `contention`: N committer processes load their own days of one table at
//! once; prints commits/s, retries per commit and latency quantiles.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use floe_lake::catalog::TableCatalog;
use floe_lake::commit::merge::{MERGE_ENABLED, MIN_COUNT_TO_MERGE, TARGET_SIZE_BYTES};
use floe_lake::maintenance::expire::{expire_snapshots, ExpireOptions};
use floe_tests::commit_bench::*;
use floe_tests::moto::Moto;

/// The first bench day: 2020-01-01, in days since the epoch.
const FIRST_DAY: i32 = 18_262;

struct Args {
    mode: String,
    catalog: String,
    dir: PathBuf,
    commits: usize,
    reload_every: usize,
    days: Option<usize>,
    merge: bool,
    retain_last: Option<usize>,
    manifest_target: Option<u64>,
    min_merge: Option<usize>,
    committers: Vec<usize>,
    commits_per: usize,
    // A committer process's own settings.
    endpoint: String,
    bucket: String,
    id: usize,
}

fn args() -> Args {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        mode: it.next().unwrap_or_else(|| "history".into()),
        catalog: "sqlite".into(),
        dir: std::env::temp_dir().join("floe-bench-commits"),
        commits: 2_000,
        reload_every: 4,
        days: None,
        merge: true,
        retain_last: None,
        manifest_target: None,
        min_merge: None,
        committers: vec![8, 32, 64],
        commits_per: 10,
        endpoint: String::new(),
        bucket: "floe-bench".into(),
        id: 0,
    };
    while let Some(flag) = it.next() {
        if flag == "--no-merge" {
            a.merge = false;
            continue;
        }
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        let number = |v: &str| v.parse::<usize>().unwrap_or_else(|_| panic!("{flag} N"));
        match flag.as_str() {
            "--catalog" => a.catalog = value,
            "--dir" | "--lakehouse" => a.dir = value.into(),
            "--commits" => a.commits = number(&value),
            "--reload-every" => a.reload_every = number(&value).max(1),
            "--days" => a.days = Some(number(&value).max(1)),
            "--retain-last" => a.retain_last = Some(number(&value).max(2)),
            "--manifest-target" => a.manifest_target = Some(number(&value) as u64),
            "--min-merge" => a.min_merge = Some(number(&value)),
            "--committers" => a.committers = value.split(',').map(number).collect(),
            "--commits-per" => a.commits_per = number(&value),
            "--endpoint" => a.endpoint = value,
            "--bucket" => a.bucket = value,
            "--id" => a.id = number(&value),
            other => panic!("unknown flag {other}; see the comment atop floe-bench-commits.rs"),
        }
    }
    a
}

/// The catalog to bench on, with the moto server it needs (kept alive).
fn bench_catalog(a: &Args, fresh: bool) -> (BenchCatalog, Option<Moto>) {
    match a.catalog.as_str() {
        "sqlite" | "sql" => {
            if fresh {
                let _ = std::fs::remove_dir_all(&a.dir);
            }
            std::fs::create_dir_all(&a.dir).expect("the bench folder");
            let lakehouse = a.dir.clone();
            (BenchCatalog::Sqlite { lakehouse }, None)
        }
        "glue" if !a.endpoint.is_empty() => (
            BenchCatalog::Glue {
                endpoint: a.endpoint.clone(),
                bucket: a.bucket.clone(),
            },
            None,
        ),
        "glue" => {
            let moto = Moto::start();
            let catalog = BenchCatalog::Glue {
                endpoint: moto.endpoint.clone(),
                bucket: a.bucket.clone(),
            };
            (catalog, Some(moto))
        }
        other => panic!("--catalog {other}: expected sqlite or glue"),
    }
}

async fn create_table(bench: &BenchCatalog, a: &Args) -> Arc<dyn TableCatalog> {
    if let BenchCatalog::Glue { endpoint, bucket } = bench {
        let s3 = floe_lake::aws::s3_client(&floe_tests::moto::sdk_config_at(endpoint).await);
        let _ = s3.create_bucket().bucket(bucket).send().await;
    }
    let catalog = bench.open().await;
    let mut properties = HashMap::from([(MERGE_ENABLED.to_string(), a.merge.to_string())]);
    if let Some(bytes) = a.manifest_target {
        properties.insert(TARGET_SIZE_BYTES.into(), bytes.to_string());
    }
    if let Some(count) = a.min_merge {
        properties.insert(MIN_COUNT_TO_MERGE.into(), count.to_string());
    }
    catalog
        .ensure_table(&bench_table(), bench_creation(properties))
        .await
        .expect("create the bench table");
    catalog
}

async fn history(a: &Args) {
    let (bench, _moto) = bench_catalog(a, true);
    let catalog = create_table(&bench, a).await;
    let retries = Arc::new(RetryCounter::default());
    let policy = patient_policy(retries.clone());
    let window = (a.commits / 10).max(1);
    println!(
        "history: {} commits on {} (manifest merging {}), {}, snapshots kept: {}",
        a.commits,
        a.catalog,
        if a.merge { "on" } else { "off" },
        a.days.map_or(
            format!("new days, a reload every {}", a.reload_every),
            |n| { format!("reloads of {n} days") }
        ),
        a.retain_last
            .map_or("all".to_string(), |n| format!("newest {n}")),
    );
    println!("commits        p50 ms   p90 ms   max ms");
    let mut latencies = Vec::with_capacity(a.commits);
    let mut next_day = FIRST_DAY;
    for i in 0..a.commits {
        let reload = i % a.reload_every == a.reload_every - 1;
        let day = if let Some(days) = a.days {
            FIRST_DAY + (i % days) as i32
        } else if reload {
            FIRST_DAY + rand::random_range(0..(next_day - FIRST_DAY))
        } else {
            next_day += 1;
            next_day - 1
        };
        let timed = load_day(
            catalog.as_ref(),
            &policy,
            &retries,
            &format!("run-{i:05}"),
            day,
        )
        .await;
        latencies.push(timed.latency);
        if let Some(keep) = a.retain_last.filter(|keep| (i + 1) % (keep / 2) == 0) {
            let opts = ExpireOptions {
                older_than: Some(Duration::ZERO),
                retain_last: keep,
                ..ExpireOptions::default()
            };
            expire_snapshots(catalog.as_ref(), &bench_table(), &opts, &policy)
                .await
                .expect("expire snapshots");
        }
        if (i + 1) % window == 0 {
            let mut w = latencies[i + 1 - window..=i].to_vec();
            w.sort();
            println!(
                "{:>5}-{:<5}  {:>7.1}  {:>7.1}  {:>7.1}",
                i + 2 - window,
                i + 1,
                ms(quantile(&w, 0.5)),
                ms(quantile(&w, 0.9)),
                ms(*w.last().expect("a window"))
            );
        }
    }
    let first = median(&latencies[..window.min(latencies.len())]);
    let last = median(&latencies[latencies.len().saturating_sub(window)..]);
    let table = catalog
        .load_table(&bench_table())
        .await
        .expect("load")
        .expect("the table");
    let snapshot = table.metadata().current_snapshot().expect("a snapshot");
    let manifests = table
        .manifest_list_reader(snapshot)
        .load()
        .await
        .expect("the manifest list")
        .entries()
        .iter()
        .map(|m| m.manifest_length)
        .collect::<Vec<_>>();
    let location = table.metadata_location().expect("a metadata file");
    let metadata_bytes = table
        .file_io()
        .new_input(location)
        .expect("metadata input")
        .metadata()
        .await
        .map(|m| m.size)
        .unwrap_or(0);
    println!(
        "first {window} commits p50 {:.1} ms, last {window} p50 {:.1} ms: {:.2}x; \
         {} manifests ({:.0} KiB in all), {} snapshots, metadata file {:.0} KiB",
        ms(first),
        ms(last),
        last.as_secs_f64() / first.as_secs_f64(),
        manifests.len(),
        manifests.iter().sum::<i64>() as f64 / 1024.0,
        table.metadata().snapshots().count(),
        metadata_bytes as f64 / 1024.0
    );
}

fn median(values: &[Duration]) -> Duration {
    let mut v = values.to_vec();
    v.sort();
    quantile(&v, 0.5)
}

async fn contention(a: &Args) {
    let (bench, _moto) = bench_catalog(a, true);
    println!(
        "contention on {}: committers {:?}, {} commits each, each its own days of one table",
        a.catalog, a.committers, a.commits_per
    );
    println!("committers  commits/s  retries/commit  p50 ms  p99 ms  max ms");
    for (round, &n) in a.committers.iter().enumerate() {
        if let BenchCatalog::Sqlite { lakehouse } = &bench {
            let _ = std::fs::remove_dir_all(lakehouse);
            std::fs::create_dir_all(lakehouse).expect("the bench folder");
        }
        let mut round_bench = bench.clone();
        if let BenchCatalog::Glue { bucket, .. } = &mut round_bench {
            *bucket = format!("{bucket}-{round}");
        }
        create_table(&round_bench, a).await;
        let (wall, timings) = run_committers(&round_bench, n, a.commits_per);
        let mut latencies: Vec<Duration> = timings.iter().map(|t| t.latency).collect();
        latencies.sort();
        let retries: u64 = timings.iter().map(|t| t.retries).sum();
        println!(
            "{n:>10}  {:>9.1}  {:>14.2}  {:>6.0}  {:>6.0}  {:>6.0}",
            timings.len() as f64 / wall.as_secs_f64(),
            retries as f64 / timings.len() as f64,
            ms(quantile(&latencies, 0.5)),
            ms(quantile(&latencies, 0.99)),
            ms(*latencies.last().unwrap_or(&Duration::ZERO)),
        );
    }
}

/// Starts `n` committer processes, lets them go at once, and gathers every
/// commit's figures; the wall time runs from the start signal to the last exit.
fn run_committers(bench: &BenchCatalog, n: usize, commits_per: usize) -> (Duration, Vec<Timed>) {
    let exe = std::env::current_exe().expect("this binary");
    let mut children = Vec::new();
    for id in 0..n {
        let mut child = Command::new(&exe)
            .arg("committer")
            .args(bench.flags())
            .args([
                "--id",
                &id.to_string(),
                "--commits-per",
                &commits_per.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start a committer");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let ready = lines.next().and_then(|l| l.ok());
        assert_eq!(
            ready.as_deref(),
            Some("ready"),
            "committer {id} did not start"
        );
        children.push((child, lines));
    }
    let started = Instant::now();
    for (child, _) in &mut children {
        let stdin = child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "go").expect("start a committer");
    }
    let mut timings = Vec::new();
    for (mut child, lines) in children {
        for line in lines.map_while(Result::ok) {
            let mut parts = line.split_whitespace();
            let latency: f64 = parts.next().and_then(|v| v.parse().ok()).expect("latency");
            let retries: u64 = parts.next().and_then(|v| v.parse().ok()).expect("retries");
            timings.push(Timed {
                latency: Duration::from_secs_f64(latency / 1_000.0),
                retries,
            });
        }
        assert!(
            child.wait().expect("a committer").success(),
            "a committer failed"
        );
    }
    (started.elapsed(), timings)
}

/// A committer process: opens the catalog, says `ready`, waits for `go`, then
/// loads its days one by one and prints `latency_ms retries` per commit.
async fn committer(a: &Args) {
    let (bench, _) = bench_catalog(a, false);
    let catalog = bench.open().await;
    let retries = Arc::new(RetryCounter::default());
    let policy = patient_policy(retries.clone());
    println!("ready");
    let mut go = String::new();
    std::io::stdin()
        .read_line(&mut go)
        .expect("the start signal");
    for j in 0..a.commits_per {
        let day = FIRST_DAY + (a.id * a.commits_per + j) as i32;
        let run = format!("committer-{}-{j}", a.id);
        let timed = load_day(catalog.as_ref(), &policy, &retries, &run, day).await;
        println!("{:.3} {}", ms(timed.latency), timed.retries);
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    match a.mode.as_str() {
        "history" => history(&a).await,
        "contention" => contention(&a).await,
        "committer" => committer(&a).await,
        other => panic!("mode {other}: expected history, contention (or committer)"),
    }
}
