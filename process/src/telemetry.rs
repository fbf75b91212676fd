//! Logs (human-readable or JSON) and OpenTelemetry traces over OTLP (off unless
//! the standard `OTEL_*` variables name an endpoint) for a Floe process.

use opentelemetry::trace::TracerProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event, with its spans (run and task ids).
    #[default]
    Text,
    /// One JSON object per event, with its spans, for log pipelines.
    Json,
}

/// Keeps the trace exporter alive; dropping it flushes the spans not yet sent.
#[must_use = "dropping the guard stops and flushes the trace exporter"]
pub struct TelemetryGuard {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(e) = provider.shutdown() {
                eprintln!("flushing traces failed: {e}");
            }
        }
    }
}

/// Installs the global subscriber: log filter from `FLOE_LOG` (else
/// `default_filter`), lines to stderr in `format`, and spans exported over
/// OTLP as `service` when `OTEL_EXPORTER_OTLP_ENDPOINT` (or its `_TRACES_`
/// form) is set and `OTEL_SDK_DISABLED` is not `true`.
pub fn init(service: &str, default_filter: &str, format: LogFormat) -> TelemetryGuard {
    let filter = EnvFilter::try_from_env("FLOE_LOG").unwrap_or_else(|_| default_filter.into());
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Text => fmt
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .boxed(),
        LogFormat::Json => fmt
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .boxed(),
    };
    let (otel, provider, error) = match provider(service) {
        Ok(Some(provider)) => (Some(layer(&provider)), Some(provider), None),
        Ok(None) => (None, None, None),
        Err(e) => (None, None, Some(e)),
    };
    tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .with(filter)
        .init();
    if let Some(e) = error {
        tracing::warn!(error = %e, "traces are off: the OTLP exporter could not be set up");
    }
    TelemetryGuard { provider }
}

/// True when the standard variables ask for traces.
fn enabled() -> bool {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

/// The tracer provider exporting to the OTLP endpoint the `OTEL_*` variables
/// name (HTTP/protobuf), or `None` when traces are off.
fn provider(service: &str) -> Result<Option<SdkTracerProvider>, String> {
    if !enabled() {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| e.to_string())?;
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the default name.
    let mut resource = Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").is_err() {
        resource = resource.with_service_name(service.to_string());
    }
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build(),
    ))
}

fn layer<S>(
    provider: &SdkTracerProvider,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer("floe"))
}
