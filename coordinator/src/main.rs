//! `floe-coordinator`: serve the coordinator, submit and follow runs.

mod cli;

fn main() {
    let code = run().unwrap_or_else(|e| {
        // Errors quote input (paths, values, SQL): shown with controls escaped.
        eprintln!("Error: {}", floe_common::printable(&format!("{e:?}")));
        1
    });
    std::process::exit(code);
}

fn run() -> anyhow::Result<i32> {
    // The config file is applied as environment variables, before any thread starts.
    let args: Vec<String> = std::env::args().collect();
    floe_process::config::apply_config_file("coordinator", &args)?;
    tokio::runtime::Runtime::new()?.block_on(cli::run(args))
}
