//! `floe-coordinator`: serve the coordinator, submit and follow runs.

mod cli;

fn main() -> anyhow::Result<()> {
    // The config file is applied as environment variables, before any thread starts.
    let args: Vec<String> = std::env::args().collect();
    floe_process::config::apply_config_file("coordinator", &args)?;
    let code = tokio::runtime::Runtime::new()?.block_on(cli::run(args))?;
    std::process::exit(code);
}
