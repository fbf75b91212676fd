//! Floe's stateless worker: pulls tasks, runs the data path, commits, reports.
//! The task execution itself lives in `floe_common::task`.

pub use floe_common::task::{run_task, TaskEnv, TaskReport, TaskSpec};
