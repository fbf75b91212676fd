//! Real processes on loopback: a coordinator and workers started from the built
//! binaries, each killed when the cluster is dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The directory holding the workspace's binaries (next to this test's own).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // A test runs from target/<profile>/deps/, a bench binary from target/<profile>/.
    let dir = exe.parent().expect("executable dir");
    if dir.ends_with("deps") {
        dir.parent().expect("target dir").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` first (scripts/test.sh does)",
        path.display()
    );
    crate::fresh::assert_fresh(&path);
    path
}

pub struct Cluster {
    pub root: PathBuf,
    pub addr: String,
    coordinator: Option<Child>,
    workers: Vec<Child>,
    /// Extra environment for workers started from now on (e.g. FLOE_FAILPOINT).
    pub worker_env: Vec<(String, String)>,
    pub visibility_seconds: u64,
    pub max_attempts: u32,
    /// Flags and environment for every process started from now on (e.g. the
    /// catalog and queue settings and the AWS endpoint of an AWS-backed cluster).
    pub shared_args: Vec<String>,
    pub shared_env: Vec<(String, String)>,
    /// The coordinator's Bronze root (default: `<root>/bronze`).
    pub bronze: Option<String>,
    /// Extra flags for the coordinator.
    pub coordinator_args: Vec<String>,
    /// Extra environment for coordinators started from now on.
    pub coordinator_env: Vec<(String, String)>,
    /// The operator's bearer token: the coordinator and client commands get it
    /// (a fresh random one per cluster); None runs without tokens.
    pub auth_token: Option<String>,
    /// The workers' bearer token: the coordinator and the workers get it.
    pub worker_token: Option<String>,
    /// The key task messages are signed with: the coordinator and the workers
    /// get it.
    pub signing_key: Option<String>,
    /// Serve gRPC over TLS with this certificate; clients trust its CA.
    pub tls: Option<crate::tls::TestCerts>,
    /// How often [`Cluster::wait_for_run`] asks for the run's state (each ask
    /// starts a client process).
    pub status_poll: Duration,
}

impl Cluster {
    /// A cluster whose lakehouse lives in `root` (bronze/, warehouse/, catalog.db, coordinator/).
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            addr: String::new(),
            coordinator: None,
            workers: Vec::new(),
            worker_env: Vec::new(),
            coordinator_env: Vec::new(),
            visibility_seconds: 3,
            max_attempts: 3,
            shared_args: Vec::new(),
            shared_env: Vec::new(),
            bronze: None,
            coordinator_args: Vec::new(),
            auth_token: Some(format!("tok-{}", uuid::Uuid::new_v4().simple())),
            worker_token: Some(format!("wtok-{}", uuid::Uuid::new_v4().simple())),
            signing_key: Some(format!("key-{}", uuid::Uuid::new_v4().simple())),
            tls: None,
            status_poll: Duration::from_millis(300),
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// A command of one of the workspace's binaries with this cluster's shared
    /// environment, TLS settings and the secrets of its role: a worker gets the
    /// worker token only, `floe-coordinator` (server and client) the operator's
    /// too.
    pub fn command(&self, name: &str) -> Command {
        let mut command = Command::new(binary(name));
        command.envs(
            self.shared_env
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        if let Some(token) = self.auth_token.as_ref().filter(|_| name != "floe-worker") {
            command.env("FLOE_AUTH_TOKEN", token);
        }
        if let Some(token) = &self.worker_token {
            command.env("FLOE_WORKER_TOKEN", token);
        }
        if let Some(key) = &self.signing_key {
            command.env("FLOE_TASK_SIGNING_KEY", key);
        }
        if let Some(tls) = &self.tls {
            command.env("FLOE_TLS_CA", &tls.ca);
        }
        command
    }

    /// Starts the coordinator; on a restart it binds the address it had before.
    pub fn start_coordinator(&mut self) {
        let listen = if self.addr.is_empty() {
            "127.0.0.1:0".to_string()
        } else {
            self.addr.clone()
        };
        let mut command = self.command("floe-coordinator");
        command.args(["serve", "--listen", &listen]);
        if let Some(tls) = &self.tls {
            command.arg("--tls-cert").arg(&tls.cert);
            command.arg("--tls-key").arg(&tls.key);
        }
        let mut child = command
            .arg("--state-dir")
            .arg(self.root.join("coordinator"))
            .arg("--bronze")
            .arg(self.bronze_root())
            .args(["--max-attempts", &self.max_attempts.to_string()])
            .arg("--lakehouse")
            .arg(&self.root)
            .args(&self.coordinator_args)
            .args(&self.shared_args)
            .envs(self.coordinator_env.iter().cloned())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file(&self.root, "coordinator")))
            .spawn()
            .expect("start the coordinator");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("coordinator prints its address");
        self.addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_string();
        self.coordinator = Some(child);
    }

    pub fn start_worker(&mut self) {
        self.start_worker_with(&[]);
    }

    /// Starts a worker with `extra` flags of its own (e.g. `--metrics-listen`).
    pub fn start_worker_with(&mut self, extra: &[&str]) {
        let n = self.workers.len();
        let child = self
            .command("floe-worker")
            .args(["--coordinator", &self.url()])
            .args(extra)
            .arg("--lakehouse")
            .arg(&self.root)
            .args(["--visibility-seconds", &self.visibility_seconds.to_string()])
            .args(["--grace-seconds", "30", "--worker-id", &format!("w{n}")])
            .args(&self.shared_args)
            // Retries wait (the real path), briefly; `worker_env` may say otherwise.
            .env("FLOE_RETRY_BACKOFF", "1s")
            // Every input of every run must pass the worker's Bronze check.
            .env("FLOE_BRONZE_ROOT", self.bronze_root())
            .envs(
                self.worker_env
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file(&self.root, &format!("worker-{n}"))))
            .spawn()
            .expect("start a worker");
        self.workers.push(child);
    }

    /// The coordinator's `--bronze`.
    fn bronze_root(&self) -> String {
        self.bronze
            .clone()
            .unwrap_or_else(|| self.root.join("bronze").display().to_string())
    }

    pub fn worker_pids(&self) -> Vec<u32> {
        self.workers.iter().map(Child::id).collect()
    }

    /// Waits for the coordinator to exit by itself; panics after `timeout`.
    pub fn wait_for_coordinator_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        let child = self.coordinator.as_mut().expect("a coordinator");
        loop {
            if let Some(status) = child.try_wait().expect("the coordinator's status") {
                self.coordinator = None;
                return status;
            }
            assert!(started.elapsed() < timeout, "the coordinator did not exit");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn kill_coordinator(&mut self) {
        if let Some(mut c) = self.coordinator.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGKILL: the worker gets no chance to release its task.
    pub fn kill_worker(&mut self, i: usize) {
        let _ = self.workers[i].kill();
        let _ = self.workers[i].wait();
    }

    /// SIGTERM, then waits for the exit; returns the exit status.
    pub fn terminate_worker(&mut self, i: usize) -> std::process::ExitStatus {
        let pid = self.workers[i].id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        self.workers[i].wait().expect("worker exits")
    }

    /// Runs a `floe-coordinator` client command against this cluster.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command("floe-coordinator")
            .args(args)
            .args(["--coordinator", &self.url()])
            .output()
            .expect("run floe-coordinator")
    }

    /// Submits a run of the example contract and returns its id.
    pub fn submit(&self, contract: &Path, period_args: &[&str]) -> String {
        let mut args = vec!["submit", "--pipeline", contract.to_str().unwrap(), "--json"];
        args.extend_from_slice(period_args);
        let out = self.cli(&args);
        assert!(
            out.status.success(),
            "submit failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("submit --json");
        v["run_id"].as_str().expect("run_id").to_string()
    }

    /// The run as `status --json` shows it.
    pub fn status(&self, run_id: &str) -> Option<Value> {
        let out = self.cli(&["status", run_id, "--json"]);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).expect("status --json"))
    }

    /// Polls until some task of the run is running and returns it (as `status
    /// --json` shows it); panics after `timeout`.
    pub fn wait_for_a_running_task(&self, run_id: &str, timeout: Duration) -> Value {
        let started = Instant::now();
        loop {
            let run = self.status(run_id).expect("status");
            let tasks = run["tasks"].as_array().expect("tasks");
            if let Some(t) = tasks.iter().find(|t| t["state"] == "running") {
                return t.clone();
            }
            assert!(started.elapsed() < timeout, "no task of {run_id} started");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Polls until the run ends (leaves `running`, and `publishing` for a
    /// staged run); panics after `timeout`.
    pub fn wait_for_run(&self, run_id: &str, timeout: Duration) -> Value {
        let started = Instant::now();
        loop {
            let run = self.status(run_id);
            if let Some(run) = &run {
                if run["state"] != "running" && run["state"] != "publishing" {
                    return run.clone();
                }
            }
            if started.elapsed() >= timeout {
                // The tempdir goes with the test: say here what was stuck.
                panic!(
                    "run {run_id} did not finish within {timeout:?}\n{}\n{}",
                    unfinished_tasks(run.as_ref()),
                    log_tails(&self.root.join("logs"), 20)
                );
            }
            std::thread::sleep(self.status_poll);
        }
    }
}

/// The run's tasks that have not succeeded: id, state, attempts, last error.
fn unfinished_tasks(run: Option<&Value>) -> String {
    let Some(tasks) = run.and_then(|r| r["tasks"].as_array()) else {
        return "(no status)".into();
    };
    let lines: Vec<String> = tasks
        .iter()
        .filter(|t| t["state"] != "succeeded")
        .map(|t| {
            format!(
                "  {} {} attempts={} {}",
                t["task_id"], t["state"], t["attempts"], t["last_error"]
            )
        })
        .collect();
    format!(
        "tasks not succeeded ({}):\n{}",
        lines.len(),
        lines.join("\n")
    )
}

/// The last `n` lines of every process log.
fn log_tails(dir: &Path, n: usize) -> String {
    let mut out = String::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(n)..];
        out.push_str(&format!(
            "--- {} (last {n} lines)\n{}\n",
            path.display(),
            tail.join("\n")
        ));
    }
    out
}

fn log_file(root: &Path, name: &str) -> std::fs::File {
    std::fs::create_dir_all(root.join("logs")).expect("logs dir");
    std::fs::File::create(root.join("logs").join(format!("{name}.log"))).expect("log file")
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for w in &mut self.workers {
            let _ = w.kill();
            let _ = w.wait();
        }
        self.kill_coordinator();
    }
}
