//! OpenTelemetry traces: the OTLP exporter, and the W3C trace context that
//! carries a run's trace from the coordinator to the workers inside each task
//! message, so one trace shows run → task → read / validate / write / commit.

use std::collections::BTreeMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// True when the standard variables ask for traces.
fn enabled() -> bool {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

/// The tracer provider exporting to the OTLP endpoint the `OTEL_*` variables
/// name (HTTP/protobuf), or `None` when traces are off.
pub(super) fn provider(service: &str) -> Result<Option<SdkTracerProvider>, String> {
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

pub(super) fn layer<S>(
    provider: &SdkTracerProvider,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer("floe"))
}

/// The current span's trace context as W3C headers (`traceparent`, ...); empty
/// when traces are off.
pub fn inject_current() -> BTreeMap<String, String> {
    let mut carrier: std::collections::HashMap<String, String> = Default::default();
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.into_iter().collect()
}

/// Makes `span` a child of the trace context in `carrier` (from [`inject_current`]).
pub fn set_parent(span: &tracing::Span, carrier: &BTreeMap<String, String>) {
    if carrier.is_empty() {
        return;
    }
    let map: std::collections::HashMap<String, String> = carrier.clone().into_iter().collect();
    let parent = TraceContextPropagator::new().extract(&map);
    let _ = span.set_parent(parent);
}

/// The current span's trace id (32 hex digits), when traces are on.
pub fn current_trace_id() -> Option<String> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let sc = span.span_context();
    sc.is_valid().then(|| sc.trace_id().to_string())
}
