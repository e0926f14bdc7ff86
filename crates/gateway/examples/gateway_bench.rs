//! Benchmark of the gateway's cost on model calls (run by `bench/gateway.sh`).
//!
//! One upstream is reached two ways in the same run: directly with the real key, as an agent did
//! before the gateway, and through a gateway on 127.0.0.1 set up as the local supervisor sets up
//! a Task's (one grant with a budget, the token swapped for the real key, the answer metered,
//! audit records appended to a JSONL file, usage events sent to a subscriber).
//!
//! * **First byte.** N sequential streaming requests each way, interleaved (direct, gateway,
//!   gateway, direct, …) so drift hits both sides: time from sending the request to the answer's
//!   first body byte (its `message_start` event); p50/p99 each way and what the gateway adds.
//!   Aim: ≤ 2 ms added p50.
//! * **Concurrent streams.** M streams at once, each an Anthropic Messages SSE answer of E events
//!   sent at a model's pace (one event every P ms): total time through the gateway against
//!   direct, median of rounds alternating the sides. Aim: ≤ 1.05×. The same streams unpaced (as
//!   fast as loopback and the cores allow) are shown too, with no aim: there the gateway's work
//!   competes with the client's and the upstream's for the same cores, so the ratio is the raw
//!   cost of one more hop on this machine, not a slowdown an agent would see.
//!
//! Both parts also print the CPU the gateway's threads used per request.
//!
//! The upstream is a minimal hyper server on its own thread serving a fixed SSE body, not the
//! project's fake model server: that one sends each answer as one buffer (no event stream to
//! pace), records every request and caps their number, so a baseline against it would measure
//! the fake more than the gateway. It answers only the real key, so the gateway's swap is
//! checked on every call; the bench also checks that every answer through the gateway is
//! byte-identical to the upstream's and that the gateway metered every call's tokens.
//!
//! Upstream, gateway and client run on separate threads and runtimes, standing for the three
//! processes of a real run; the gateway's is single-threaded, as in the local supervisor
//! (`AXON_BENCH_GATEWAY_WORKERS=N`: a multi-thread runtime with N workers instead).
//!
//! Sizes: `AXON_BENCH_REQUESTS` (500), `AXON_BENCH_STREAMS` (100), `AXON_BENCH_EVENTS` (300),
//! `AXON_BENCH_PACE_MS` (10), `AXON_BENCH_ROUNDS` (3), `AXON_BENCH_REQUEST_KB` (32).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axon_gateway::{
    BudgetLimits, Gateway, JsonlSink, ModelRoute, Network, PriceTable, Proxy, Secret, Server,
    StaticGrants, TaskGrant, TaskRef, new_token,
};
use axon_testsupport::bench::{ms, pct};
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;

/// The key only the upstream and the gateway know.
const REAL_KEY: &str = "sk-ant-bench-real-upstream-key-0123456789";
/// The model the requests name (priced in the shipped table, so cost is computed too).
const MODEL: &str = "claude-sonnet-4-5";
const INPUT_TOKENS: u64 = 1234;
const OUTPUT_TOKENS: u64 = 567;
/// Asks the upstream to send one event every this many milliseconds (0: all at once).
const PACE_HEADER: &str = "x-bench-pace-ms";
/// Names of the gateway's and the upstream's threads (for their CPU time).
const GATEWAY_THREAD: &str = "axon-gateway";
const UPSTREAM_THREAD: &str = "bench-upstream";
/// Unmeasured requests each way before the first-byte part.
const WARMUP: usize = 20;
/// The benchmark's Task.
const TASK_UID: &str = "bench-uid";

struct Config {
    requests: usize,
    streams: usize,
    events: usize,
    pace_ms: u64,
    rounds: usize,
    request_kb: usize,
    gateway_workers: usize,
    cores: usize,
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Config {
    fn from_env() -> Config {
        Config {
            requests: env("AXON_BENCH_REQUESTS", 500).max(1),
            streams: env("AXON_BENCH_STREAMS", 100).max(1),
            events: env("AXON_BENCH_EVENTS", 300).max(8),
            pace_ms: env("AXON_BENCH_PACE_MS", 10) as u64,
            rounds: env("AXON_BENCH_ROUNDS", 3).max(1),
            request_kb: env("AXON_BENCH_REQUEST_KB", 32),
            gateway_workers: env("AXON_BENCH_GATEWAY_WORKERS", 0),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

fn main() -> ExitCode {
    match run(&Config::from_env()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gateway bench: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The answer and the request

/// An Anthropic Messages stream of `n` events: `message_start` (input usage), a text block of
/// `n - 6` deltas with a `ping`, `message_delta` (output usage), `message_stop`.
fn answer_events(n: usize) -> Vec<Bytes> {
    const WORDS: &[&str] = &[
        " the",
        " gateway",
        " forwards",
        " each",
        " event",
        " as",
        " it",
        " arrives,",
        " unchanged;",
        " meanwhile",
        " a",
        " copy",
        " is",
        " metered",
        " for",
        " usage.",
    ];
    let event = |name: &str, data: serde_json::Value| {
        Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
    };
    let mut out = vec![
        event(
            "message_start",
            json!({"type": "message_start", "message": {
                "id": "msg_01BenchGatewayStream0000", "type": "message", "role": "assistant",
                "model": MODEL, "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": INPUT_TOKENS, "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 0, "output_tokens": 1}}}),
        ),
        event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
                   "content_block": {"type": "text", "text": ""}}),
        ),
        event("ping", json!({"type": "ping"})),
    ];
    for i in 0..n - 6 {
        let text: String = (0..3).map(|k| WORDS[(i * 3 + k) % WORDS.len()]).collect();
        out.push(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "text_delta", "text": text}}),
        ));
    }
    out.push(event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    out.push(event(
        "message_delta",
        json!({"type": "message_delta",
               "delta": {"stop_reason": "end_turn", "stop_sequence": null},
               "usage": {"output_tokens": OUTPUT_TOKENS}}),
    ));
    out.push(event("message_stop", json!({"type": "message_stop"})));
    out
}

/// A Messages request body of about `kb` KiB (system prompt, a conversation, one tool), like
/// a coding agent's.
fn request_body(kb: usize) -> Bytes {
    let filler = "You are a coding agent working in a git repository. ".repeat(kb * 1024 / 52 + 1);
    let body = json!({
        "model": MODEL,
        "max_tokens": 32000,
        "stream": true,
        "system": [{"type": "text", "text": filler}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Fix the failing test."}]}],
        "tools": [{"name": "Bash", "description": "Run a shell command",
                   "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}],
    });
    Bytes::from(body.to_string())
}

/// Which way a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Direct,
    Gateway,
}

/// Where and with which key each side sends.
struct Target {
    direct: String,
    gateway: String,
    token: Secret,
}

impl Target {
    fn request(&self, side: Side, pace_ms: u64, body: &Bytes) -> Request<Full<Bytes>> {
        let (base, key) = match side {
            Side::Direct => (&self.direct, REAL_KEY),
            Side::Gateway => (&self.gateway, self.token.expose()),
        };
        let mut req = Request::post(format!("{base}/v1/messages"));
        for (name, value) in [
            ("content-type", "application/json"),
            ("accept", "application/json"),
            ("anthropic-version", "2023-06-01"),
            (
                "anthropic-beta",
                "claude-code-20250219,interleaved-thinking-2025-05-14",
            ),
            ("user-agent", "claude-cli/2.0.0 (external, cli)"),
            ("x-app", "cli"),
            ("x-stainless-lang", "js"),
            ("x-stainless-package-version", "0.60.0"),
            ("x-stainless-os", "Linux"),
            ("x-stainless-arch", "x64"),
            ("x-stainless-runtime", "node"),
            ("x-stainless-runtime-version", "v22.0.0"),
            ("x-stainless-retry-count", "0"),
            ("x-stainless-timeout", "600"),
        ] {
            req = req.header(name, value);
        }
        req.header("x-api-key", key)
            .header(PACE_HEADER, pace_ms.to_string())
            .body(Full::new(body.clone()))
            .expect("a valid request")
    }
}

// ---------------------------------------------------------------------------------------------
// The upstream

type UpBody = BoxBody<Bytes, Infallible>;

/// The upstream on its own thread and runtime; stops when dropped.
struct Upstream {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Upstream {
    fn start(events: Arc<Vec<Bytes>>) -> std::io::Result<Upstream> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(UPSTREAM_THREAD.into())
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::select! {
                        () = accept(listener, events) => {}
                        _ = stopped => {}
                    }
                });
            })?;
        Ok(Upstream {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept(listener: tokio::net::TcpListener, events: Arc<Vec<Bytes>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let events = events.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| answer(req, events.clone()));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Reads the whole request (as a model API does before answering), then streams the events.
async fn answer(
    req: Request<Incoming>,
    events: Arc<Vec<Bytes>>,
) -> Result<Response<UpBody>, Infallible> {
    let authorized = req
        .headers()
        .get("x-api-key")
        .is_some_and(|v| v.as_bytes() == REAL_KEY.as_bytes());
    let pace_ms = req
        .headers()
        .get(PACE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let _ = req.into_body().collect().await;
    let response = Response::builder();
    if !authorized {
        let body = Full::new(Bytes::from_static(
            br#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#,
        ));
        return Ok(response
            .status(StatusCode::UNAUTHORIZED)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.boxed())
            .expect("a valid response"));
    }
    let body: UpBody = if pace_ms == 0 {
        let frames = (0..events.len()).map(move |i| Ok(Frame::data(events[i].clone())));
        StreamBody::new(futures::stream::iter(frames)).boxed()
    } else {
        // One event per tick, the first at once: the answer's end is fixed by the upstream's
        // clock, so whatever the gateway delays shows in the total time.
        let mut tick = tokio::time::interval(Duration::from_millis(pace_ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let frames = futures::stream::unfold((0, tick), move |(i, mut tick)| {
            let events = events.clone();
            async move {
                if i == events.len() {
                    return None;
                }
                tick.tick().await;
                Some((Ok(Frame::data(events[i].clone())), (i + 1, tick)))
            }
        });
        StreamBody::new(frames).boxed()
    };
    Ok(response
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("request-id", "req_01BenchGatewayUpstream00000")
        .header(
            "anthropic-organization-id",
            "00000000-0000-0000-0000-000000000000",
        )
        .header("x-robots-tag", "none")
        .body(body)
        .expect("a valid response"))
}

// ---------------------------------------------------------------------------------------------
// The gateway

/// The gateway as the local supervisor runs it for one Task, on its own thread; stops when
/// dropped.
struct Running {
    gateway: Arc<Gateway>,
    base_url: String,
    token: Secret,
    uid: String,
    audit: std::path::PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Starts the gateway in front of `upstream`, recording to a file in `dir`. With
    /// `workers == 0` on a current-thread runtime (what the local supervisor runs), else on a
    /// multi-thread runtime with that many workers.
    fn start(upstream: String, dir: &std::path::Path, workers: usize) -> Result<Running, String> {
        let runtime = if workers == 0 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .thread_name(GATEWAY_THREAD)
                .enable_all()
                .build()
        }
        .map_err(|e| format!("gateway runtime: {e}"))?;
        let audit = dir.join("requests.jsonl");
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let file = audit.clone();
        let thread = std::thread::Builder::new()
            .name(GATEWAY_THREAD.into())
            .spawn(move || {
                runtime.block_on(async move {
                    match start_gateway(&upstream, &file).await {
                        Ok((gateway, server, token)) => {
                            let base = server.base_url().unwrap_or_default();
                            let _ = started_tx.send(Ok((gateway, base, token)));
                            let _ = stopped.await;
                            server.shutdown(Duration::from_secs(2)).await;
                        }
                        Err(e) => {
                            let _ = started_tx.send(Err(e));
                        }
                    }
                });
            })
            .map_err(|e| format!("gateway thread: {e}"))?;
        let (gateway, base_url, token) = started_rx
            .recv()
            .map_err(|_| "the gateway thread ended".to_string())??;
        Ok(Running {
            gateway,
            base_url,
            token,
            uid: TASK_UID.into(),
            audit,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn start_gateway(
    upstream: &str,
    audit: &std::path::Path,
) -> Result<(Arc<Gateway>, Server, Secret), String> {
    let token = new_token().map_err(|e| e.to_string())?;
    let task = TaskRef {
        namespace: "default".into(),
        name: "bench".into(),
        uid: TASK_UID.into(),
    };
    let grants = Arc::new(StaticGrants::new());
    grants.add(TaskGrant {
        task,
        token: token.clone(),
        model: Some(ModelRoute {
            upstream: upstream.to_string(),
            credential: Secret::new(REAL_KEY),
        }),
        github: None,
        network: Network::Open,
        // Limits far above the run's, so each call is checked but none is refused.
        budget: BudgetLimits {
            max_cost_usd: Some(1_000_000.0),
            max_tokens: Some(u64::MAX / 2),
            max_turns: Some(u64::MAX / 2),
        },
        prices: PriceTable::shipped(),
    });
    let sink = JsonlSink::open(audit).map_err(|e| format!("{}: {e}", audit.display()))?;
    let gateway = Gateway::builder(grants)
        .audit(Arc::new(sink))
        .proxy(Arc::new(Proxy::new()))
        .build()
        .map_err(|e| e.to_string())?;
    // The supervisor follows the usage events; so does the bench.
    let mut events = gateway.events();
    tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        while let Ok(_) | Err(RecvError::Lagged(_)) = events.recv().await {}
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind: {e}"))?;
    let server = gateway
        .serve_tcp(listener)
        .map_err(|e| format!("serve: {e}"))?;
    Ok((gateway, server, token))
}

// ---------------------------------------------------------------------------------------------
// Measuring

/// CPU time (on-CPU nanoseconds, from `/proc/self/task/*/schedstat`) of this process's threads
/// named `name`; `None` where the kernel does not say.
fn thread_cpu(name: &str) -> Option<Duration> {
    let mut total = 0u64;
    for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let dir = entry.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

/// CPU the gateway used between two readings, per request, in milliseconds.
fn cpu_per_request(before: Option<Duration>, after: Option<Duration>, n: usize) -> String {
    match (before, after) {
        (Some(b), Some(a)) => format!("{:.3} ms", ms(a.saturating_sub(b)) / n as f64),
        _ => "n/a".into(),
    }
}

type BenchClient = Client<HttpConnector, Full<Bytes>>;

fn client() -> BenchClient {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(http)
}

/// Sends one request and reads its answer, checking it is the upstream's, byte for byte.
/// Returns the time to the first body byte.
async fn one(
    client: &BenchClient,
    req: Request<Full<Bytes>>,
    expected: &[u8],
) -> Result<Duration, String> {
    let started = Instant::now();
    let response = client
        .request(req)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status();
    let mut body = response.into_body();
    let mut first = None;
    let mut at = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("answer: {e}"))?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        first.get_or_insert_with(|| started.elapsed());
        if status != StatusCode::OK {
            return Err(format!(
                "status {status}: {}",
                String::from_utf8_lossy(data)
            ));
        }
        if expected.get(at..at + data.len()) != Some(&data[..]) {
            return Err(format!(
                "the answer differs from the upstream's at byte {at}"
            ));
        }
        at += data.len();
    }
    if at != expected.len() {
        return Err(format!("answer of {at} bytes, expected {}", expected.len()));
    }
    first.ok_or_else(|| "empty answer".to_string())
}

/// `m` streams at once on one side; the wall time.
async fn concurrent(
    client: &BenchClient,
    target: &Target,
    side: Side,
    m: usize,
    pace_ms: u64,
    body: &Bytes,
    expected: &[u8],
) -> Result<Duration, String> {
    let started = Instant::now();
    let calls = (0..m).map(|_| one(client, target.request(side, pace_ms, body), expected));
    for result in futures::future::join_all(calls).await {
        result?;
    }
    Ok(started.elapsed())
}

fn verdict(met: bool) -> &'static str {
    if met { "PASS" } else { "MISS" }
}

fn median(v: &[f64]) -> f64 {
    pct(v, 0.5)
}

fn run(cfg: &Config) -> Result<(), String> {
    let events = Arc::new(answer_events(cfg.events));
    let expected: Vec<u8> = events.iter().flat_map(|e| e.iter().copied()).collect();
    let body = request_body(cfg.request_kb);
    let upstream = Upstream::start(events.clone()).map_err(|e| format!("upstream: {e}"))?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let running = Running::start(upstream.base_url(), dir.path(), cfg.gateway_workers)?;
    let target = Target {
        direct: upstream.base_url(),
        gateway: running.base_url.clone(),
        token: running.token.clone(),
    };
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let sent = client_rt.block_on(bench(cfg, &target, &body, &expected))?;
    check_metering(&running, sent)?;
    drop(running);
    drop(upstream);
    Ok(())
}

/// Runs both parts; returns how many requests went through the gateway.
async fn bench(
    cfg: &Config,
    target: &Target,
    body: &Bytes,
    expected: &[u8],
) -> Result<u64, String> {
    let client = client();
    let mut through_gateway = 0u64;
    println!(
        "gateway benchmark: SSE upstream on 127.0.0.1 ({} events, {:.1} KiB per answer), {:.1} KiB requests, {} cores, gateway on {}",
        cfg.events,
        expected.len() as f64 / 1024.0,
        body.len() as f64 / 1024.0,
        cfg.cores,
        match cfg.gateway_workers {
            0 => "one thread (as in the supervisor)".to_string(),
            n => format!("{n} worker threads"),
        }
    );

    // Part 1: first byte, sequential, interleaved.
    for _ in 0..WARMUP {
        for side in [Side::Direct, Side::Gateway] {
            one(&client, target.request(side, 0, body), expected).await?;
        }
    }
    through_gateway += WARMUP as u64;
    let (mut direct, mut gateway) = (Vec::new(), Vec::new());
    let cpu_before = thread_cpu(GATEWAY_THREAD);
    let upstream_before = thread_cpu(UPSTREAM_THREAD);
    for i in 0..cfg.requests {
        let order = if i % 2 == 0 {
            [Side::Direct, Side::Gateway]
        } else {
            [Side::Gateway, Side::Direct]
        };
        for side in order {
            let first = one(&client, target.request(side, 0, body), expected).await?;
            match side {
                Side::Direct => direct.push(ms(first)),
                Side::Gateway => gateway.push(ms(first)),
            }
        }
    }
    let cpu_after = thread_cpu(GATEWAY_THREAD);
    let upstream_after = thread_cpu(UPSTREAM_THREAD);
    through_gateway += cfg.requests as u64;
    let added50 = pct(&gateway, 0.5) - pct(&direct, 0.5);
    let added99 = pct(&gateway, 0.99) - pct(&direct, 0.99);
    println!(
        "first byte, {} sequential streaming requests each way, interleaved:",
        cfg.requests
    );
    for (name, v) in [("direct ", &direct), ("gateway", &gateway)] {
        println!(
            "  {name}  p50 {:.3} ms  p99 {:.3} ms",
            pct(v, 0.5),
            pct(v, 0.99)
        );
    }
    println!(
        "  added    p50 {added50:.3} ms  p99 {added99:.3} ms  (gateway CPU {} per request; the upstream's {})",
        cpu_per_request(cpu_before, cpu_after, cfg.requests),
        cpu_per_request(upstream_before, upstream_after, 2 * cfg.requests)
    );
    println!(
        "  aim ≤ 2 ms added p50: {} ({added50:.3} ms)",
        verdict(added50 <= 2.0)
    );

    // Part 2: concurrent streams. One unmeasured round each way opens the connections.
    for side in [Side::Direct, Side::Gateway] {
        concurrent(&client, target, side, cfg.streams, 0, body, expected).await?;
    }
    through_gateway += cfg.streams as u64;
    let paces: &[u64] = if cfg.pace_ms > 0 {
        &[cfg.pace_ms, 0]
    } else {
        &[0]
    };
    for &pace_ms in paces {
        let (mut direct, mut gateway) = (Vec::new(), Vec::new());
        let mut gateway_cpu = Duration::ZERO;
        let mut cpu_known = true;
        for round in 0..cfg.rounds {
            let order = if round % 2 == 0 {
                [Side::Direct, Side::Gateway]
            } else {
                [Side::Gateway, Side::Direct]
            };
            for side in order {
                let before = thread_cpu(GATEWAY_THREAD);
                let wall =
                    concurrent(&client, target, side, cfg.streams, pace_ms, body, expected).await?;
                let after = thread_cpu(GATEWAY_THREAD);
                match side {
                    Side::Direct => direct.push(ms(wall)),
                    Side::Gateway => {
                        gateway.push(ms(wall));
                        match (before, after) {
                            (Some(b), Some(a)) => gateway_cpu += a.saturating_sub(b),
                            _ => cpu_known = false,
                        }
                    }
                }
            }
            through_gateway += cfg.streams as u64;
        }
        let ratio = median(&gateway) / median(&direct);
        let per_stream = if cpu_known {
            format!(
                "{:.3} ms",
                ms(gateway_cpu) / (cfg.rounds * cfg.streams) as f64
            )
        } else {
            "n/a".into()
        };
        if pace_ms > 0 {
            println!(
                "{} concurrent streams, one event every {pace_ms} ms (a model's pace), median of {} rounds each way:",
                cfg.streams, cfg.rounds
            );
        } else {
            println!(
                "{} concurrent streams, unpaced (as fast as loopback and {} cores allow; no aim), median of {} rounds each way:",
                cfg.streams, cfg.cores, cfg.rounds
            );
        }
        println!("  direct   {:.1} ms", median(&direct));
        println!(
            "  gateway  {:.1} ms  ratio {ratio:.3}  (gateway CPU {per_stream} per stream)",
            median(&gateway)
        );
        if pace_ms > 0 {
            println!(
                "  aim ≤ 1.05× total time: {} ({ratio:.3}×)",
                verdict(ratio <= 1.05)
            );
        }
    }
    Ok(through_gateway)
}

/// The gateway metered every call it forwarded, to the token, and recorded each.
fn check_metering(running: &Running, sent: u64) -> Result<(), String> {
    // A call is added when its answer has ended, which may be just after the client's last byte.
    let deadline = Instant::now() + Duration::from_secs(10);
    let usage = loop {
        let usage = running.gateway.usage(&running.uid);
        if usage.as_ref().is_some_and(|u| u.requests >= sent) || Instant::now() > deadline {
            break usage.ok_or("the gateway metered no call")?;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let records = std::fs::read_to_string(&running.audit)
        .map_err(|e| format!("{}: {e}", running.audit.display()))?
        .lines()
        .count() as u64;
    let ok = usage.requests == sent
        && usage.turns == sent
        && usage.input_tokens == sent * INPUT_TOKENS
        && usage.output_tokens == sent * OUTPUT_TOKENS
        && records == sent;
    println!(
        "metered by the gateway: {} requests, {} input + {} output tokens, ${:.2}, {records} audit records: {}",
        usage.requests,
        usage.input_tokens,
        usage.output_tokens,
        usage.cost_usd.unwrap_or(0.0),
        if ok {
            "every call, exactly"
        } else {
            "MISMATCH"
        }
    );
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the gateway forwarded {sent} calls of {INPUT_TOKENS} + {OUTPUT_TOKENS} tokens but metered otherwise"
        ))
    }
}
