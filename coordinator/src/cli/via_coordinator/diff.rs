//! `diff RUN`: what publishing a staged run changes on each table, per
//! partition — rows before and after (a publish replaces a partition whole)
//! and column sums — as a table or JSON.

use anyhow::Result;
use floe_proto::v1 as pb;
use serde_json::{json, Value};

use super::output::run_state;
use super::Remote;

/// Prints the diff of `run_id`, summing `sum` (empty: every decimal column).
pub async fn diff(remote: Remote, run_id: String, sum: Vec<String>, as_json: bool) -> Result<()> {
    let mut client = remote.connect().await?;
    let diff = fetch(&mut client, &run_id, sum).await?;
    print(&diff, as_json);
    Ok(())
}

pub async fn fetch(
    client: &mut pb::runs_client::RunsClient<floe_proto::security::AuthChannel>,
    run_id: &str,
    sum: Vec<String>,
) -> Result<pb::RunDiff> {
    Ok(client
        .diff_run(pb::DiffRunRequest {
            run_id: run_id.to_string(),
            sum_columns: sum,
        })
        .await
        .map_err(|s| anyhow::anyhow!("{}", s.message()))?
        .into_inner())
}

pub fn print(diff: &pb::RunDiff, as_json: bool) {
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&to_json(diff)).expect("json")
        );
    } else {
        print_diff(diff);
    }
}

fn to_json(d: &pb::RunDiff) -> Value {
    let tables: Vec<Value> = d
        .tables
        .iter()
        .map(|t| {
            let partitions: Vec<Value> = t
                .partitions
                .iter()
                .map(|p| {
                    let sums: serde_json::Map<String, Value> = p
                        .sums
                        .iter()
                        .map(|s| {
                            (
                                s.column.clone(),
                                json!({ "before": s.before, "after": s.after }),
                            )
                        })
                        .collect();
                    json!({
                        "partition": p.partition,
                        "rows_before": p.rows_before,
                        "rows_after": p.rows_after,
                        "rows_added": p.rows_after,
                        "rows_removed": p.rows_before,
                        "sums": sums,
                    })
                })
                .collect();
            json!({
                "table": t.table,
                "published": t.published,
                "before_snapshot_id": (t.before_snapshot_id != 0).then_some(t.before_snapshot_id),
                "after_snapshot_id": t.after_snapshot_id,
                "partitions": partitions,
            })
        })
        .collect();
    json!({ "run_id": d.run_id, "state": run_state(d.state), "tables": tables })
}

fn print_diff(d: &pb::RunDiff) {
    let partitions: usize = d.tables.iter().map(|t| t.partitions.len()).sum();
    let published = d.tables.iter().any(|t| t.published);
    println!(
        "run {} ({}): {} {partitions} partitions of {} tables",
        d.run_id,
        run_state(d.state),
        if published {
            "published"
        } else {
            "publishing replaces"
        },
        d.tables.len()
    );
    for t in &d.tables {
        print_table(t);
    }
}

fn print_table(t: &pb::TableDiff) {
    let before = match t.before_snapshot_id {
        0 => "empty".to_string(),
        id => id.to_string(),
    };
    let after = if t.published {
        "published as"
    } else {
        "branch at"
    };
    println!(
        "\n{}  (main at {before}, {after} {})",
        t.table, t.after_snapshot_id
    );
    let columns: Vec<&str> = t
        .partitions
        .iter()
        .flat_map(|p| p.sums.iter().map(|s| s.column.as_str()))
        .fold(Vec::new(), |mut seen, c| {
            if !seen.contains(&c) {
                seen.push(c);
            }
            seen
        });
    let mut header = format!(
        "  {:<28} {:>12} {:>12} {:>9}",
        "partition", "rows before", "rows after", "change"
    );
    for c in &columns {
        let (b, a) = (format!("sum({c}) before"), format!("sum({c}) after"));
        header.push_str(&format!(" {b:>22} {a:>22}"));
    }
    println!("{header}");
    for p in &t.partitions {
        let mut line = format!(
            "  {:<28} {:>12} {:>12} {:>9}",
            p.partition,
            p.rows_before,
            p.rows_after,
            change(p.rows_before, p.rows_after)
        );
        for c in &columns {
            let sum = p.sums.iter().find(|s| s.column == *c);
            let (b, a) = sum.map_or(("", ""), |s| (s.before.as_str(), s.after.as_str()));
            line.push_str(&format!(" {b:>22} {a:>22}"));
        }
        println!("{line}");
    }
}

/// `+4.2%`, `-50.0%`, `new` (nothing before) or `=`.
fn change(before: u64, after: u64) -> String {
    match (before, after) {
        (0, 0) => "=".into(),
        (0, _) => "new".into(),
        (b, a) if a == b => "=".into(),
        (b, a) => format!("{:+.1}%", (a as f64 - b as f64) / b as f64 * 100.0),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn changes_read_as_percentages() {
        assert_eq!(super::change(100, 150), "+50.0%");
        assert_eq!(super::change(100, 50), "-50.0%");
        assert_eq!(super::change(0, 7), "new");
        assert_eq!(super::change(7, 7), "=");
    }
}
