//! What Floe's processes tell operators: logs (human-readable or JSON) and
//! Prometheus metrics served on `/metrics`.

pub mod metrics;

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event, with its spans (run and task ids).
    #[default]
    Text,
    /// One JSON object per event, with its spans, for log pipelines.
    Json,
}

/// Installs the global log subscriber: filter from `FLOE_LOG` (else
/// `default_filter`), lines to stderr in `format`.
pub fn init_logging(default_filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLOE_LOG")
        .unwrap_or_else(|_| default_filter.into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
}
