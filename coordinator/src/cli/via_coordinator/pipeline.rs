//! `pipeline apply | list | show | diff`: the coordinator's registered
//! pipelines, and `--pipeline NAME|PATH`, how other commands name a contract.

use std::path::Path;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use floe_proto::v1 as pb;

use super::Remote;

/// How a command names its contract.
#[derive(Args, Clone)]
pub struct PipelineArg {
    /// A registered pipeline's name, or a contract file (a path ending in
    /// `.toml`, or one that exists). Without it: the only registered pipeline.
    #[arg(long, env = "FLOE_PIPELINE")]
    pipeline: Option<String>,
}

/// What a request sends for [`PipelineArg`]: (contract text, origin, pipeline name).
pub struct ContractFields {
    pub text: String,
    pub origin: String,
    pub pipeline: String,
}

impl PipelineArg {
    pub fn fields(&self) -> Result<ContractFields> {
        let Some(value) = &self.pipeline else {
            return Ok(ContractFields {
                text: String::new(),
                origin: String::new(),
                pipeline: String::new(),
            });
        };
        if value.ends_with(".toml") || Path::new(value).is_file() {
            let text = std::fs::read_to_string(value)
                .with_context(|| format!("cannot read the pipeline contract {value}"))?;
            return Ok(ContractFields {
                text,
                origin: value.clone(),
                pipeline: String::new(),
            });
        }
        Ok(ContractFields {
            text: String::new(),
            origin: String::new(),
            pipeline: value.clone(),
        })
    }
}

#[derive(Subcommand)]
pub enum PipelineCommand {
    /// Checks a contract as a submit would and registers it as the next
    /// version of its pipeline (nothing changes if it is the latest already).
    Apply {
        contract: std::path::PathBuf,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// The registered pipelines, each with its latest version.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// A pipeline's contract (its latest version, or --version N).
    Show {
        name: String,
        #[arg(long)]
        version: Option<u32>,
        #[command(flatten)]
        remote: Remote,
    },
    /// What changed between two versions of a pipeline (by default the latest
    /// and the one before), or between its latest version and a contract file.
    Diff {
        /// A pipeline's name, or a contract file to compare with its pipeline's
        /// latest version.
        target: String,
        #[arg(long)]
        from: Option<u32>,
        #[arg(long)]
        to: Option<u32>,
        #[command(flatten)]
        remote: Remote,
    },
}

pub async fn run(command: PipelineCommand) -> Result<i32> {
    match command {
        PipelineCommand::Apply {
            contract,
            json,
            remote,
        } => apply(&contract, json, &remote).await,
        PipelineCommand::List { json, remote } => list(json, &remote).await,
        PipelineCommand::Show {
            name,
            version,
            remote,
        } => {
            let p = get(&remote, &name, version).await?;
            print!("{}", p.contract_text);
            Ok(0)
        }
        PipelineCommand::Diff {
            target,
            from,
            to,
            remote,
        } => diff(&target, from, to, &remote).await,
    }
}

async fn apply(contract: &Path, json: bool, remote: &Remote) -> Result<i32> {
    let contract_text = std::fs::read_to_string(contract)
        .with_context(|| format!("cannot read the pipeline contract {}", contract.display()))?;
    let mut client = remote.connect_pipelines().await?;
    let p = client
        .apply_pipeline(pb::ApplyPipelineRequest {
            contract_text,
            contract_origin: contract.display().to_string(),
        })
        .await
        .map_err(|s| anyhow::anyhow!("{}", s.message()))?
        .into_inner();
    if json {
        println!("{}", version_json(&p));
    } else if p.changed {
        println!("pipeline {} version {} registered", p.name, p.version);
    } else {
        println!("pipeline {} unchanged at version {}", p.name, p.version);
    }
    Ok(0)
}

async fn list(json: bool, remote: &Remote) -> Result<i32> {
    let mut client = remote.connect_pipelines().await?;
    let all = client
        .list_pipelines(pb::Empty {})
        .await
        .map_err(|s| anyhow::anyhow!("{}", s.message()))?
        .into_inner()
        .pipelines;
    if json {
        let rows: Vec<_> = all.iter().map(version_json).collect();
        println!("{}", serde_json::Value::Array(rows));
        return Ok(0);
    }
    if all.is_empty() {
        println!("no pipeline registered: `floe-coordinator pipeline apply CONTRACT.toml`");
    }
    for p in &all {
        println!(
            "{:<24} v{:<4} {}  sha256 {}  from {}",
            p.name,
            p.version,
            applied_at(p.applied_at_ms),
            &p.sha256[..p.sha256.len().min(12)],
            p.contract_origin
        );
        if let Some(s) = &p.schedule {
            print_schedule(s);
        }
        if let Some(f) = &p.freshness {
            println!("    {}", freshness_line(f));
        }
    }
    Ok(0)
}

/// Prints the freshness of `pipeline`, if it is registered (after `status`).
pub async fn print_freshness_of(remote: &Remote, pipeline: &str) -> Result<()> {
    let mut client = remote.connect_pipelines().await?;
    let all = client
        .list_pipelines(pb::Empty {})
        .await?
        .into_inner()
        .pipelines;
    if let Some(f) = all
        .iter()
        .find(|p| p.name == pipeline)
        .and_then(|p| p.freshness.as_ref())
    {
        println!("pipeline {pipeline}: {}", freshness_line(f));
    }
    Ok(())
}

fn freshness_line(f: &pb::FreshnessStatus) -> String {
    let newest = if f.newest_partition.is_empty() {
        "none"
    } else {
        &f.newest_partition
    };
    let at = |ms: i64| {
        if ms > 0 {
            format!("{} UTC", applied_at(ms))
        } else {
            "never".into()
        }
    };
    let last = format!(
        "{}, newest file seen {}",
        at(f.last_load_ms),
        at(f.newest_file_ms)
    );
    let verdict = match (f.expected, f.missed.is_empty()) {
        (false, _) => String::new(),
        (true, true) => "; fresh as its contract expects".into(),
        (true, false) => format!("; FRESHNESS MISSED: {}", f.missed.join("; ")),
    };
    format!("newest partition {newest}, last load {last}{verdict}")
}

fn print_schedule(s: &pb::ScheduleStatus) {
    let at = |ms: i64| {
        if ms > 0 {
            format!("{} UTC", applied_at(ms))
        } else {
            "never".into()
        }
    };
    println!(
        "    schedule {}: next {}, last fired {}",
        s.describe,
        at(s.next_tick_ms),
        at(s.last_fired_ms)
    );
    if !s.last_error.is_empty() {
        println!(
            "    the tick of {} was not submitted (retried at the next tick): {}",
            at(s.failed_tick_ms),
            s.last_error
        );
    }
}

async fn get(remote: &Remote, name: &str, version: Option<u32>) -> Result<pb::PipelineVersion> {
    let mut client = remote.connect_pipelines().await?;
    Ok(client
        .get_pipeline(pb::GetPipelineRequest {
            name: name.to_string(),
            version: version.unwrap_or(0),
        })
        .await
        .map_err(|s| anyhow::anyhow!("{}", s.message()))?
        .into_inner())
}

async fn diff(target: &str, from: Option<u32>, to: Option<u32>, remote: &Remote) -> Result<i32> {
    let (old, new) = if target.ends_with(".toml") || Path::new(target).is_file() {
        let text = std::fs::read_to_string(target)
            .with_context(|| format!("cannot read the pipeline contract {target}"))?;
        let contract = floe_common::contract::Contract::parse(&text, target.as_ref())?;
        let latest = get(remote, &contract.name, None).await?;
        let old = (
            format!("{} v{}", latest.name, latest.version),
            latest.contract_text,
        );
        (old, (target.to_string(), text))
    } else {
        let to = get(remote, target, to).await?;
        let from_version = from.unwrap_or(to.version.saturating_sub(1)).max(1);
        let from = get(remote, target, Some(from_version)).await?;
        (
            (format!("{target} v{}", from.version), from.contract_text),
            (format!("{target} v{}", to.version), to.contract_text),
        )
    };
    let text_diff = similar::TextDiff::from_lines(&old.1, &new.1);
    print!(
        "{}",
        text_diff
            .unified_diff()
            .context_radius(3)
            .header(&old.0, &new.0)
    );
    // Like diff(1): 1 when the contracts differ.
    Ok(if old.1 == new.1 { 0 } else { 1 })
}

fn applied_at(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn version_json(p: &pb::PipelineVersion) -> serde_json::Value {
    serde_json::json!({
        "name": p.name,
        "version": p.version,
        "sha256": p.sha256,
        "applied_at_ms": p.applied_at_ms,
        "contract_origin": p.contract_origin,
        "changed": p.changed,
        "schedule": p.schedule.as_ref().map(|s| serde_json::json!({
            "describe": s.describe,
            "next_tick_ms": (s.next_tick_ms > 0).then_some(s.next_tick_ms),
            "last_fired_ms": (s.last_fired_ms > 0).then_some(s.last_fired_ms),
            "failed_tick_ms": (s.failed_tick_ms > 0).then_some(s.failed_tick_ms),
            "last_error": (!s.last_error.is_empty()).then_some(&s.last_error),
        })),
        "freshness": p.freshness.as_ref().map(|f| serde_json::json!({
            "newest_partition": (!f.newest_partition.is_empty()).then_some(&f.newest_partition),
            "last_load_ms": (f.last_load_ms > 0).then_some(f.last_load_ms),
            "newest_file_ms": (f.newest_file_ms > 0).then_some(f.newest_file_ms),
            "expected": f.expected,
            "missed": f.missed,
        })),
    })
}
