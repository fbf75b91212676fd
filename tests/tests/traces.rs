//! OpenTelemetry traces over OTLP/HTTP: a receiver on loopback collects what a
//! coordinator and a worker export for one run — run → task → read / validate /
//! write / commit, in one trace — and the snapshot summary names that trace.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use floe_tests::checks::*;
use floe_tests::cluster::Cluster;
use floe_tests::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;

#[derive(Debug, Clone)]
struct Received {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent: String,
    attributes: Vec<(String, String)>,
}

impl Received {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(v: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

/// An OTLP/HTTP trace receiver on loopback; returns its endpoint and what it got.
async fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let spans: Arc<Mutex<Vec<Received>>> = Default::default();
    let sink = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                let mut out = sink.lock().unwrap();
                for rs in request.resource_spans {
                    let service = rs
                        .resource
                        .iter()
                        .flat_map(|r| r.attributes.iter())
                        .find(|a| a.key == "service.name")
                        .map(|a| text(&a.value))
                        .unwrap_or_default();
                    for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                        out.push(Received {
                            service: service.clone(),
                            name: span.name,
                            trace_id: hex(&span.trace_id),
                            span_id: hex(&span.span_id),
                            parent: hex(&span.parent_span_id),
                            attributes: span
                                .attributes
                                .iter()
                                .map(|a| (a.key.clone(), text(&a.value)))
                                .collect(),
                        });
                    }
                }
                // An empty ExportTraceServiceResponse.
                (
                    [(axum::http::header::CONTENT_TYPE, "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), spans)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_run_is_one_trace_from_the_coordinator_to_each_commit() {
    let (endpoint, spans) = receiver().await;
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.shared_env = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()),
    ];
    cluster.start_coordinator();
    cluster.start_worker();
    let day = "2025-01-02";
    let run_id = cluster.submit(&contract_path(), &["--date", day]);
    let run = cluster.wait_for_run(&run_id, Duration::from_secs(120));
    assert_run_totals(&run, &truth, &[day]);

    let names = ["run", "task", "read", "validate", "write", "commit"];
    let started = Instant::now();
    let got = loop {
        let got = spans.lock().unwrap().clone();
        let commits = got.iter().filter(|s| s.name == "commit").count();
        if names.iter().all(|n| got.iter().any(|s| s.name == *n)) && commits == 3 {
            break got;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "spans so far: {:?}",
            got.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let one = |name: &str| got.iter().find(|s| s.name == name).unwrap();
    let (run_span, task) = (one("run"), one("task"));
    assert_eq!(run_span.service, "floe-coordinator");
    assert_eq!(run_span.attribute("run_id"), Some(run_id.as_str()));
    assert_eq!(task.service, "floe-worker");
    assert_eq!(task.attribute("run_id"), Some(run_id.as_str()));
    assert!(
        task.attribute("task_id")
            .is_some_and(|t| t.starts_with(&format!("transactions-{day}"))),
        "{task:?}"
    );
    // One trace: the task is the run's child, the stages are the task's.
    assert_eq!(task.trace_id, run_span.trace_id);
    assert_eq!(task.parent, run_span.span_id);
    for s in got
        .iter()
        .filter(|s| s.service == "floe-worker" && s.name != "worker")
    {
        assert_eq!(s.trace_id, run_span.trace_id, "{s:?}");
    }
    for name in ["read", "write", "commit"] {
        for s in got.iter().filter(|s| s.name == name) {
            assert_eq!(s.parent, task.span_id, "{s:?}");
        }
    }
    let read_ids: Vec<&str> = got
        .iter()
        .filter(|s| s.name == "read")
        .map(|s| s.span_id.as_str())
        .collect();
    assert!(got
        .iter()
        .filter(|s| s.name == "validate")
        .all(|s| read_ids.contains(&s.parent.as_str())));

    // The table change leads back to the trace.
    let table = lake
        .catalog
        .load_table_ok(&example_contract().target.table)
        .await;
    let summary = table.metadata().current_snapshot().unwrap().summary();
    assert_eq!(
        summary.additional_properties.get("floe.trace-id"),
        Some(&run_span.trace_id)
    );
}
