//! Controller memory and throughput (`bench/kube.sh`): the Task controller's watch and
//! reconcile path fed 10,000 Tasks and Jobs by an in-process mock API server. Prints RSS per
//! 1,000 objects and reconciles per second, against baselines in the same run: an empty
//! reflector (memory) and a no-op reconciler over the same watch (throughput).

use axon_api::Task;
use axon_kube::job::JobOptions;
use axon_kube::metrics::Metrics;
use axon_kube::task_controller::{Context, error_policy, reconcile};
use futures::StreamExt;
use http::{Request, Response};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::Api;
use kube::client::Body;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::watcher;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn task(i: usize) -> Value {
    json!({"apiVersion": "axon.io/v1alpha1", "kind": "Task",
        "metadata": {"name": format!("t-{i}"), "namespace": "bench", "uid": format!("uid-{i}"),
            "resourceVersion": "1", "generation": 1, "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"type": "claude-code", "prompt": format!("Fix issue {i}: the widget breaks when the input is empty."),
            "credentials": {"type": "api-key", "secretRef": {"name": "key"}}}})
}

fn job(name: &str) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": "bench", "resourceVersion": "1",
            "labels": {"axon.io/task": name},
            "ownerReferences": [{"apiVersion": "axon.io/v1alpha1", "kind": "Task", "name": name, "uid": "u", "controller": true}]},
        "spec": {"template": {}}, "status": {"active": 1}})
}

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{name}-x"), "namespace": "bench", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "status": {"phase": "Running", "containerStatuses": [{"name": "agent", "image": "i", "imageID": "",
            "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2026-01-01T00:00:10Z"}}}]}})
}

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "1"}, "items": items})
}

fn ok(v: &Value) -> Response<Body> {
    Response::new(Body::from(serde_json::to_vec(v).unwrap_or_default()))
}

/// One page of a list, as the API server pages it (`limit`, `continue`).
fn page(kind: &str, n: usize, query: &str, item: &dyn Fn(usize) -> Value) -> Response<Body> {
    let param = |k: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .and_then(|v| v.parse::<usize>().ok())
    };
    let limit = param("limit").unwrap_or(n.max(1));
    let from = param("continue").unwrap_or(0);
    let to = (from + limit).min(n);
    let mut body = list(kind, (from..to).map(item).collect());
    if to < n {
        body["metadata"]["continue"] = json!(to.to_string());
    }
    ok(&body)
}

/// A mock API server holding `n` Tasks and their Jobs (pages of `limit`, as a real one).
fn client(n: usize) -> Client {
    let svc = tower::service_fn(move |req: Request<Body>| async move {
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or_default().to_string();
        if query.contains("watch=true") {
            futures::future::pending::<()>().await;
        }
        let name = path.rsplit('/').nth(1).unwrap_or_default().to_string();
        let resp = match (req.method().as_str(), path.as_str()) {
            ("GET", "/apis/axon.io/v1alpha1/tasks") => page("TaskList", n, &query, &task),
            ("GET", "/apis/batch/v1/jobs") => {
                page("JobList", n, &query, &|i| job(&format!("t-{i}")))
            }
            ("GET", "/api/v1/pods") => ok(&list("PodList", vec![])),
            ("GET", p) if p.starts_with("/apis/batch/v1/namespaces/bench/jobs/") => {
                ok(&job(p.rsplit('/').next().unwrap_or_default()))
            }
            ("GET", "/api/v1/namespaces/bench/pods") => {
                let t = query.rsplit("%3D").next().unwrap_or_default();
                ok(&list("PodList", vec![pod(t)]))
            }
            ("PATCH", p) if p.ends_with("/status") => {
                let i: usize = name.trim_start_matches("t-").parse().unwrap_or(0);
                ok(&task(i))
            }
            ("POST", p) if p.contains("/events") => {
                use http_body_util::BodyExt;
                let b = req
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                Response::new(Body::from(b.to_vec()))
            }
            _ => {
                let mut r = Response::new(Body::from(
                    br#"{"kind":"Status","code":404,"message":"no"}"#.to_vec(),
                ));
                *r.status_mut() = http::StatusCode::NOT_FOUND;
                r
            }
        };
        Ok::<_, Infallible>(resp)
    });
    Client::new(svc, "bench")
}

/// Run the controller over `n` Tasks until `n` reconciles; returns seconds and RSS (KiB).
async fn run(n: usize, real: bool) -> (f64, u64) {
    let client = client(n);
    let metrics = Arc::new(Metrics::default());
    let ctx = Arc::new(Context {
        client: client.clone(),
        job_options: JobOptions {
            axon_image: "axon:bench".into(),
            version: "bench".into(),
            default_timeout_seconds: 14400,
        },
        metrics: metrics.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "bench".into(),
                instance: None,
            },
        ),
        gateway: None,
    });
    let noop_count = Arc::new(AtomicU64::new(0));
    let controller = Controller::new(Api::<Task>::all(client.clone()), watcher::Config::default())
        .owns(Api::<Job>::all(client.clone()), watcher::Config::default())
        .watches(
            Api::<Pod>::all(client.clone()),
            watcher::Config::default(),
            |_p: Pod| None::<kube::runtime::reflector::ObjectRef<Task>>,
        )
        .with_config(kube::runtime::controller::Config::default().concurrency(64));
    let start = Instant::now();
    let counter = noop_count.clone();
    let m = metrics.clone();
    let done = async move {
        loop {
            let seen = if real {
                m.reconcile_count()
            } else {
                counter.load(Ordering::Relaxed)
            };
            if seen >= n as u64 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let stream: futures::stream::BoxStream<'static, ()> = if real {
        controller
            .run(reconcile, error_policy, ctx)
            .map(|_| ())
            .boxed()
    } else {
        let c = noop_count.clone();
        controller
            .run(
                move |_t: Arc<Task>, _ctx: Arc<Context>| {
                    let c = c.clone();
                    async move {
                        c.fetch_add(1, Ordering::Relaxed);
                        Ok::<_, axon_kube::KubeError>(Action::await_change())
                    }
                },
                error_policy,
                ctx,
            )
            .map(|_| ())
            .boxed()
    };
    let drive = stream.for_each(|_| async {});
    tokio::select! {
        _ = done => {}
        _ = drive => {}
        _ = tokio::time::sleep(Duration::from_secs(300)) => eprintln!("timed out"),
    }
    let secs = start.elapsed().as_secs_f64();
    (secs, rss_kib())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "real".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let (n, real) = match mode.as_str() {
        "empty" => (0, false),
        "noop" => (n, false),
        _ => (n, true),
    };
    let (secs, rss) = run(n, real).await;
    let rate = if n == 0 { 0.0 } else { n as f64 / secs };
    // One machine-readable line per run: mode objects rss_kib reconciles_per_second
    println!("{mode} {n} {rss} {rate:.0}");
}
