//! The W3C trace context that carries a run's trace from the coordinator to the
//! workers inside each task message, so one trace shows run → task → read /
//! validate / write / commit. (The exporter is set up by each process.)

use std::collections::BTreeMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

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

/// The trace id (32 hex digits) in a carrier from [`inject_current`]; None
/// when it holds no valid trace context (traces were off).
pub fn trace_id_of(carrier: &BTreeMap<String, String>) -> Option<String> {
    let map: std::collections::HashMap<String, String> = carrier.clone().into_iter().collect();
    let context = TraceContextPropagator::new().extract(&map);
    let span = context.span();
    let sc = span.span_context();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_carriers_trace_id_is_read_back() {
        let carrier = BTreeMap::from([(
            "traceparent".to_string(),
            "00-224314223738a7681bd7eaf825f5252d-00f067aa0ba902b7-01".to_string(),
        )]);
        assert_eq!(
            trace_id_of(&carrier).as_deref(),
            Some("224314223738a7681bd7eaf825f5252d")
        );
        assert_eq!(trace_id_of(&BTreeMap::new()), None);
    }
}
