//! The gateway end to end: a real listener on 127.0.0.1 in front of the project's fake model
//! server (and, for streaming timing, a hand-driven upstream), spoken to over real HTTP.

use std::sync::Arc;
use std::time::Duration;

use axon_gateway::{
    AuditRecord, BudgetLimits, Decision, Gateway, GatewayEvent, JsonlSink, ModelRoute, Network,
    PriceTable, RequestKind, Secret, Server, StaticGrants, TaskGrant, TaskRef, new_token,
};
use axon_testsupport::model_server::{FakeModelServer, RecordedRequest, Script};
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

const REAL_KEY: &str = "sk-real-upstream-key-0123456789";
const INPUT_TOKENS: u64 = 123;
const OUTPUT_TOKENS: u64 = 45;
/// Bound on every wait of these tests.
const DEADLINE: Duration = Duration::from_secs(20);

fn task(uid: &str) -> TaskRef {
    TaskRef {
        namespace: "default".into(),
        name: format!("task-{uid}"),
        uid: uid.into(),
    }
}

/// A gateway on 127.0.0.1 with one Task granted `upstream`, recording to a JSONL file.
struct Harness {
    gateway: Arc<Gateway>,
    server: Server,
    grants: Arc<StaticGrants>,
    token: Secret,
    task: TaskRef,
    audit_path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start(upstream: &str, budget: BudgetLimits) -> Harness {
        Harness::start_with(upstream, budget, |b| b).await
    }

    async fn start_with(
        upstream: &str,
        budget: BudgetLimits,
        configure: impl FnOnce(axon_gateway::GatewayBuilder) -> axon_gateway::GatewayBuilder,
    ) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let audit_path = dir.path().join("requests.jsonl");
        let grants = Arc::new(StaticGrants::new());
        let token = new_token().expect("token");
        let task = task("uid-1");
        grants.add(TaskGrant {
            task: task.clone(),
            token: token.clone(),
            model: Some(ModelRoute {
                upstream: upstream.to_string(),
                credential: Secret::new(REAL_KEY),
            }),
            github: None,
            network: Network::Open,
            budget,
            prices: PriceTable::shipped(),
        });
        let sink = Arc::new(JsonlSink::open(&audit_path).expect("audit file"));
        let gateway = configure(Gateway::builder(grants.clone()).audit(sink))
            .build()
            .expect("gateway");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let server = gateway.serve_tcp(listener).expect("serve");
        Harness {
            gateway,
            server,
            grants,
            token,
            task,
            audit_path,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url().expect("tcp"))
    }

    fn audit(&self) -> Vec<AuditRecord> {
        audit_lines(&self.audit_path)
    }

    /// The audit records once there are at least `n` (a call is recorded when it has ended).
    async fn audit_after(&self, n: usize) -> Vec<AuditRecord> {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let records = self.audit();
            if records.len() >= n {
                return records;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {} of {n} audit records",
                records.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The usage of `uid` once it counts `requests` requests (the gateway adds a call when its
/// answer has ended, which may be just after the client read the last byte).
async fn usage_after(gateway: &Gateway, uid: &str, requests: u64) -> axon_gateway::UsageTotals {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(u) = gateway.usage(uid)
            && u.requests >= requests
        {
            return u;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "usage of {uid} never reached {requests} requests"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn audit_lines(path: &std::path::Path) -> Vec<AuditRecord> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line parses"))
        .collect()
}

/// One answer, whole.
struct Answer {
    status: StatusCode,
    content_type: String,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("json body")
    }
}

/// `GET /axon/v1/run` with the token in `header: key`.
async fn run_state(h: &Harness, (header, key): (&str, &str)) -> axon_gateway::RunState {
    let req = Request::get(h.url(axon_gateway::RUN_STATE_PATH))
        .header(header, key)
        .body(Full::new(Bytes::new()))
        .expect("request");
    let answer = client().request(req).await.expect("answer");
    assert_eq!(answer.status(), StatusCode::OK);
    let bytes = answer.into_body().collect().await.expect("body").to_bytes();
    serde_json::from_slice(&bytes).expect("run state")
}

fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

async fn send(url: &str, headers: &[(&str, &str)], body: &Value) -> Answer {
    let mut req = Request::builder().method(Method::POST).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request");
    let response = tokio::time::timeout(DEADLINE, client().request(req))
        .await
        .expect("answer in time")
        .expect("answer");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = tokio::time::timeout(DEADLINE, response.into_body().collect())
        .await
        .expect("body in time")
        .expect("body")
        .to_bytes();
    Answer {
        status,
        content_type,
        body,
    }
}

/// A model call in one wire format: its path, where the key goes, its body.
struct Call {
    name: &'static str,
    path: String,
    /// `(header, prefix)`; `None`: the `key` query parameter.
    key_header: Option<(&'static str, &'static str)>,
    body: Value,
    model: &'static str,
}

impl Call {
    fn headers<'a>(&self, key: &'a str, buf: &'a mut String) -> Vec<(&'static str, &'a str)> {
        match self.key_header {
            Some((name, prefix)) => {
                *buf = format!("{prefix}{key}");
                vec![(name, buf.as_str())]
            }
            None => vec![],
        }
    }

    fn path_with(&self, key: &str) -> String {
        if self.key_header.is_some() {
            return self.path.clone();
        }
        let sep = if self.path.contains('?') { '&' } else { '?' };
        format!("{}{sep}key={key}", self.path)
    }
}

fn calls() -> Vec<Call> {
    let msgs = json!([{"role": "user", "content": "hello"}]);
    let mut out = Vec::new();
    for stream in [true, false] {
        out.push(Call {
            name: "anthropic",
            path: "/v1/messages".into(),
            key_header: Some(("x-api-key", "")),
            body: json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": stream, "messages": msgs}),
            model: "claude-sonnet-4-5",
        });
        out.push(Call {
            name: "openai-responses",
            path: "/v1/responses".into(),
            key_header: Some(("authorization", "Bearer ")),
            body: json!({"model": "gpt-5-codex", "stream": stream, "input": "hello"}),
            model: "gpt-5-codex",
        });
        out.push(Call {
            name: "openai-chat",
            path: "/v1/chat/completions".into(),
            key_header: Some(("authorization", "Bearer ")),
            body: json!({"model": "fake-model", "stream": stream, "messages": msgs}),
            model: "fake-model",
        });
    }
    out.push(Call {
        name: "gemini-sse",
        path: "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse".into(),
        key_header: Some(("x-goog-api-key", "")),
        body: json!({"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}),
        model: "gemini-2.5-pro",
    });
    out.push(Call {
        name: "gemini-json-query-key",
        path: "/v1beta/models/gemini-2.5-pro:generateContent".into(),
        key_header: None,
        body: json!({"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}),
        model: "gemini-2.5-pro",
    });
    out
}

fn script() -> Script {
    Script::new()
        .text("done")
        .usage(INPUT_TOKENS, OUTPUT_TOKENS)
}

fn last(fake: &FakeModelServer) -> RecordedRequest {
    fake.requests().pop().expect("the upstream got the request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_format_is_byte_identical_metered_and_sent_with_the_real_key() {
    for call in calls() {
        let stream = call.body["stream"] == json!(true) || call.path.contains("stream");
        let what = format!("{} (stream: {stream})", call.name);
        // Two servers with the same script: each answers its first request with the same ids.
        let direct = FakeModelServer::start(script()).expect("fake");
        let behind = FakeModelServer::start(script()).expect("fake");
        let h = Harness::start(&behind.base_url(), BudgetLimits::default()).await;
        let mut events = h.gateway.events();

        let mut buf = String::new();
        let want = send(
            &format!("{}{}", direct.base_url(), call.path_with(REAL_KEY)),
            &call.headers(REAL_KEY, &mut buf),
            &call.body,
        )
        .await;
        let mut buf = String::new();
        let got = send(
            &h.url(&call.path_with(h.token.expose())),
            &call.headers(h.token.expose(), &mut buf),
            &call.body,
        )
        .await;
        assert_eq!(want.status, StatusCode::OK, "{what}: direct");
        assert_eq!(got.status, want.status, "{what}");
        assert_eq!(got.content_type, want.content_type, "{what}");
        assert_eq!(
            String::from_utf8_lossy(&got.body),
            String::from_utf8_lossy(&want.body),
            "{what}: bytes through the gateway differ from direct ones"
        );
        if stream {
            assert!(got.content_type.starts_with("text/event-stream"), "{what}");
        }

        // The upstream saw the real key, in the same place, and never the token.
        let seen = last(&behind);
        match call.key_header {
            Some((name, prefix)) => {
                assert_eq!(seen.headers[name], format!("{prefix}{REAL_KEY}"), "{what}")
            }
            None => assert!(seen.query.contains(&format!("key={REAL_KEY}")), "{what}"),
        }
        let everything = format!("{:?} {}", seen.headers, seen.query);
        assert!(
            !everything.contains(h.token.expose()),
            "{what}: token leaked upstream"
        );

        // Usage equals what the script served, and a Usage event says so.
        let usage = h.gateway.usage(&h.task.uid).expect("usage");
        assert_eq!(
            (
                usage.input_tokens,
                usage.output_tokens,
                usage.requests,
                usage.turns
            ),
            (INPUT_TOKENS, OUTPUT_TOKENS, 1, 1),
            "{what}: {usage:?}"
        );
        if call.model == "fake-model" {
            assert_eq!(
                usage.cost_usd, None,
                "{what}: an unpriced model has no cost"
            );
            assert!(usage.unpriced_models.contains("fake-model"), "{what}");
        } else {
            let cost = usage.cost_usd.expect("priced");
            assert!(cost > 0.0, "{what}: {cost}");
        }
        let event = tokio::time::timeout(DEADLINE, events.recv())
            .await
            .expect("event in time")
            .expect("event");
        match event {
            GatewayEvent::Usage { task, totals } => {
                assert_eq!(task, h.task);
                assert_eq!(totals, usage);
            }
            other => panic!("{what}: unexpected event {other:?}"),
        }

        // One audit record: host of the upstream, path without query, figures, allowed.
        let records = h.audit_after(1).await;
        assert_eq!(records.len(), 1, "{what}: {records:?}");
        let r = &records[0];
        assert_eq!(r.kind, RequestKind::Model);
        assert_eq!(r.method, "POST");
        assert_eq!(r.host, behind.addr().to_string());
        assert_eq!(r.path, call.path.split('?').next().expect("path"));
        assert_eq!(r.status, 200);
        assert_eq!(r.bytes_up, call.body.to_string().len() as u64);
        assert_eq!(r.bytes_down, got.body.len() as u64);
        assert_eq!(r.decision, Decision::Allowed);
        let text = std::fs::read_to_string(&h.audit_path).expect("audit");
        assert!(!text.contains(REAL_KEY), "{what}: real key in audit");
        assert!(!text.contains(h.token.expose()), "{what}: token in audit");
        assert!(!text.contains('?'), "{what}: a query in audit: {text}");
    }
}

#[tokio::test]
async fn an_unknown_token_gets_401_and_reaches_nothing() {
    let fake = FakeModelServer::start(script()).expect("fake");
    let h = Harness::start(&fake.base_url(), BudgetLimits::default()).await;
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": []});
    let wrong = "axon-gw-0000000000000000000000000000000000000000000000000000000000000000";
    for headers in [vec![("x-api-key", wrong)], vec![]] {
        let got = send(&h.url("/v1/messages"), &headers, &body).await;
        assert_eq!(got.status, StatusCode::UNAUTHORIZED);
        let v = got.json();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "authentication_error");
        let message = v["error"]["message"].as_str().expect("message");
        assert!(
            message.contains("unknown or expired Axon gateway token"),
            "{message}"
        );
    }
    // A removed grant (the Task ended) is refused the same way.
    h.grants.remove(h.token.expose());
    let got = send(
        &h.url("/v1/messages"),
        &[("x-api-key", h.token.expose())],
        &body,
    )
    .await;
    assert_eq!(got.status, StatusCode::UNAUTHORIZED);
    assert!(fake.requests().is_empty(), "nothing reached the upstream");
    // Nor does the run state answer to a token that is not a running Task's.
    let req = Request::get(h.url(axon_gateway::RUN_STATE_PATH))
        .header("authorization", format!("Bearer {wrong}"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let answer = client().request(req).await.expect("answer");
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);

    let records = h.audit();
    assert_eq!(records.len(), 3);
    for r in &records {
        assert_eq!(r.status, 401);
        assert!(
            matches!(&r.decision, Decision::Denied { reason } if reason.contains("unknown or expired"))
        );
    }
    let text = std::fs::read_to_string(&h.audit_path).expect("audit");
    assert!(!text.contains(wrong) && !text.contains(h.token.expose()));
}

#[tokio::test]
async fn a_task_without_a_model_credential_gets_403() {
    let grants = Arc::new(StaticGrants::new());
    let token = new_token().expect("token");
    grants.add(TaskGrant {
        task: task("uid-none"),
        token: token.clone(),
        model: None,
        github: None,
        network: Network::Open,
        budget: BudgetLimits::default(),
        prices: PriceTable::shipped(),
    });
    let gateway = Gateway::new(grants, Arc::new(axon_gateway::MemorySink::new())).expect("gateway");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let server = gateway.serve_tcp(listener).expect("serve");
    let url = format!("{}/v1/responses", server.base_url().expect("tcp"));
    let got = send(
        &url,
        &[("authorization", &format!("Bearer {}", token.expose()))],
        &json!({"model": "gpt-5", "input": "hi"}),
    )
    .await;
    assert_eq!(got.status, StatusCode::FORBIDDEN);
    let message = got.json()["error"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(
        message.contains("default/task-uid-none has no model credential"),
        "{message}"
    );
}

#[tokio::test]
async fn max_turns_one_refuses_the_second_generation_in_the_agents_format() {
    let cases = [
        (
            "/v1/messages",
            ("x-api-key", ""),
            json!({"model": "claude-sonnet-4-5", "max_tokens": 8, "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
            "/v1/messages/count_tokens",
        ),
        (
            "/v1/responses",
            ("authorization", "Bearer "),
            json!({"model": "gpt-5-codex", "stream": true, "input": "hi"}),
            "/v1/models",
        ),
        (
            "/v1/chat/completions",
            ("authorization", "Bearer "),
            json!({"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}),
            "/v1/models",
        ),
        (
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
            ("x-goog-api-key", ""),
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
            "/v1beta/models/gemini-2.5-pro:countTokens",
        ),
    ];
    for (path, (header, prefix), body, auxiliary) in cases {
        let fake = FakeModelServer::start(script()).expect("fake");
        let budget = BudgetLimits {
            max_turns: Some(1),
            ..BudgetLimits::default()
        };
        let h = Harness::start(&fake.base_url(), budget).await;
        let mut events = h.gateway.events();
        let key = format!("{prefix}{}", h.token.expose());
        let first = send(&h.url(path), &[(header, &key)], &body).await;
        assert_eq!(first.status, StatusCode::OK, "{path}");
        let before = run_state(&h, (header, &key)).await;
        assert_eq!(before.budget_exceeded, None, "{path}");
        let second = send(&h.url(path), &[(header, &key)], &body).await;
        assert_eq!(second.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(second.content_type, "application/json");
        let v = second.json();
        let message = "Axon budget exceeded: maxTurns 1 reached (1 model requests)";
        match path {
            "/v1/messages" => {
                assert_eq!(v["type"], "error");
                assert_eq!(v["error"]["type"], "invalid_request_error");
                assert_eq!(v["error"]["message"], message);
            }
            p if p.contains("v1beta") => {
                assert_eq!(v["error"]["code"], 400);
                assert_eq!(v["error"]["status"], "FAILED_PRECONDITION");
                assert_eq!(v["error"]["message"], message);
            }
            _ => {
                assert_eq!(v["error"]["type"], "budget_exceeded");
                assert_eq!(v["error"]["code"], "budget_exceeded");
                assert_eq!(v["error"]["message"], message);
            }
        }
        assert_eq!(
            fake.requests().len(),
            1,
            "{path}: the refused call was not forwarded"
        );

        // The driver hears of it.
        let exceeded = tokio::time::timeout(DEADLINE, async {
            loop {
                match events.recv().await.expect("event") {
                    GatewayEvent::BudgetExceeded {
                        task,
                        limit,
                        figure,
                        message,
                    } => return (task, limit, figure, message),
                    _ => continue,
                }
            }
        })
        .await
        .expect("BudgetExceeded in time");
        assert_eq!(exceeded.0, h.task);
        assert_eq!(exceeded.1, "maxTurns");
        assert_eq!(exceeded.2, "1 model requests");
        assert_eq!(exceeded.3, message);
        // Axon's results container asks with the same token, the way the agent sent it.
        let state = run_state(&h, (header, &key)).await;
        assert_eq!(state.task, h.task.name, "{path}");
        assert_eq!(state.budget_exceeded.as_deref(), Some(message), "{path}");
        assert_eq!(state.turns, 1, "{path}");

        // Calls that generate nothing still pass (token counting, model lists).
        let aux = if auxiliary.ends_with("/models") {
            let req = Request::get(h.url(auxiliary))
                .header(header, key.as_str())
                .body(Full::new(Bytes::new()))
                .expect("request");
            client().request(req).await.expect("answer").status()
        } else {
            send(&h.url(auxiliary), &[(header, &key)], &body)
                .await
                .status
        };
        assert_eq!(aux, StatusCode::OK, "{auxiliary}");
        let usage = usage_after(&h.gateway, &h.task.uid, 2).await;
        assert_eq!((usage.turns, usage.requests), (1, 2), "{path}: {usage:?}");

        let records = h.audit_after(3).await;
        assert_eq!(records.len(), 3);
        assert_eq!(records[1].status, 400);
        assert_eq!(
            records[1].decision,
            Decision::Denied {
                reason: message.into()
            }
        );
    }
}

#[tokio::test]
async fn upstream_errors_pass_through_unchanged_and_count_no_turn() {
    // The main conversation (one that offers tools) is answered with a scripted 429.
    let script = || Script::new().api_error(429, "slow down").usage(1, 1);
    let direct = FakeModelServer::start(script()).expect("fake");
    let behind = FakeModelServer::start(script()).expect("fake");
    let h = Harness::start(&behind.base_url(), BudgetLimits::default()).await;
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}],
                      "tools": [{"name": "Bash", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}]});
    let want = send(
        &format!("{}/v1/messages", direct.base_url()),
        &[("x-api-key", REAL_KEY)],
        &body,
    )
    .await;
    let got = send(
        &h.url("/v1/messages"),
        &[("x-api-key", h.token.expose())],
        &body,
    )
    .await;
    assert_eq!(want.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(got.status, want.status);
    assert_eq!(got.body, want.body);
    let usage = usage_after(&h.gateway, &h.task.uid, 1).await;
    assert_eq!((usage.requests, usage.turns), (1, 0));
    assert_eq!(h.audit_after(1).await[0].status, 429);
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_502_in_the_agents_format() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let h = Harness::start(
        &format!("http://127.0.0.1:{port}"),
        BudgetLimits {
            max_turns: Some(1),
            ..BudgetLimits::default()
        },
    )
    .await;
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let path = format!(
        "/v1beta/models/gemini-2.5-pro:generateContent?key={}",
        h.token.expose()
    );
    for _ in 0..2 {
        let got = send(&h.url(&path), &[], &body).await;
        assert_eq!(got.status, StatusCode::BAD_GATEWAY);
        let v = got.json();
        assert_eq!(v["error"]["code"], 502);
        let message = v["error"]["message"].as_str().expect("message");
        assert!(
            message.contains("cannot reach the model upstream"),
            "{message}"
        );
        assert!(!message.contains(REAL_KEY) && !message.contains(h.token.expose()));
    }
    // A call that never reached the upstream used no turn: the second was not refused.
    let records = h.audit_after(2).await;
    assert_eq!(records.len(), 2);
    // The gateway allowed them; the upstream failed.
    assert!(
        records
            .iter()
            .all(|r| r.status == 502 && r.decision == Decision::Allowed)
    );
    assert!(h.gateway.usage(&h.task.uid).is_none_or(|u| u.turns == 0));
}

#[tokio::test]
async fn oversized_requests_get_413() {
    let fake = FakeModelServer::start(script()).expect("fake");
    let h = Harness::start_with(&fake.base_url(), BudgetLimits::default(), |b| {
        b.max_model_body(1024)
    })
    .await;
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "x".repeat(2048)}]});
    let got = send(
        &h.url("/v1/messages"),
        &[("x-api-key", h.token.expose())],
        &body,
    )
    .await;
    assert_eq!(got.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(got.json()["error"]["type"], "request_too_large");
    assert!(fake.requests().is_empty());
}

/// An upstream whose SSE answer the test releases chunk by chunk.
async fn slow_upstream(
    chunks: tokio::sync::mpsc::Receiver<Bytes>,
) -> (String, tokio::task::JoinHandle<()>) {
    use axum::body::Body;
    use axum::response::Response;
    let chunks = Arc::new(tokio::sync::Mutex::new(Some(chunks)));
    let app = axum::Router::new().fallback(move || {
        let chunks = chunks.clone();
        async move {
            let rx = chunks.lock().await.take().expect("one request");
            let stream = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv()
                    .await
                    .map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(stream))
                .expect("response")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, task)
}

#[tokio::test]
async fn the_first_chunk_arrives_before_the_last_is_sent() {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let (upstream, upstream_task) = slow_upstream(rx).await;
    let h = Harness::start(&upstream, BudgetLimits::default()).await;
    let first = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"type\":\"message\",\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":7,\"output_tokens\":1}}}\n\n";
    // The last chunk splits an event in two across chunks.
    let second = "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":";
    let third =
        "{\"output_tokens\":9}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

    let req = Request::post(h.url("/v1/messages"))
        .header("x-api-key", h.token.expose())
        .body(Full::new(Bytes::from(
            json!({"model": "claude-sonnet-4-5", "max_tokens": 8, "stream": true, "messages": []})
                .to_string(),
        )))
        .expect("request");
    let sent = tokio::spawn(client().request(req));
    tx.send(Bytes::from(first)).await.expect("send");
    let response = tokio::time::timeout(DEADLINE, sent)
        .await
        .expect("head in time")
        .expect("join")
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let frame = tokio::time::timeout(DEADLINE, body.frame())
        .await
        .expect("the first chunk arrives while the upstream still holds the rest")
        .expect("frame")
        .expect("ok");
    assert_eq!(frame.data_ref().expect("data"), first.as_bytes());
    // Nothing is metered before the answer ends.
    assert!(h.gateway.usage(&h.task.uid).is_none_or(|u| u.requests == 0));

    tx.send(Bytes::from(second)).await.expect("send");
    tx.send(Bytes::from(third)).await.expect("send");
    drop(tx);
    let rest = tokio::time::timeout(DEADLINE, body.collect())
        .await
        .expect("rest in time")
        .expect("rest")
        .to_bytes();
    assert_eq!(rest, Bytes::from(format!("{second}{third}")));
    let usage = usage_after(&h.gateway, &h.task.uid, 1).await;
    assert_eq!(
        (usage.input_tokens, usage.output_tokens, usage.turns),
        (7, 9, 1)
    );
    upstream_task.abort();
}

#[tokio::test]
async fn an_agent_that_goes_away_mid_stream_is_still_recorded() {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let (upstream, upstream_task) = slow_upstream(rx).await;
    let h = Harness::start(&upstream, BudgetLimits::default()).await;
    let first = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"type\":\"message\",\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":7,\"output_tokens\":1}}}\n\n";
    let req = Request::post(h.url("/v1/messages"))
        .header("x-api-key", h.token.expose())
        .body(Full::new(Bytes::from(
            json!({"model": "claude-sonnet-4-5", "max_tokens": 8, "stream": true, "messages": []})
                .to_string(),
        )))
        .expect("request");
    let sent = tokio::spawn(client().request(req));
    tx.send(Bytes::from(first)).await.expect("send");
    let response = tokio::time::timeout(DEADLINE, sent)
        .await
        .expect("in time")
        .expect("join")
        .expect("response");
    let mut body = response.into_body();
    let _ = tokio::time::timeout(DEADLINE, body.frame())
        .await
        .expect("frame");
    drop(body);
    // The gateway notices the agent left (polled, bounded).
    let usage = usage_after(&h.gateway, &h.task.uid, 1).await;
    assert_eq!(usage.input_tokens, 7);
    let records = h.audit_after(1).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].bytes_down, first.len() as u64);
    drop(tx);
    upstream_task.abort();
}

#[tokio::test]
async fn proxy_requests_go_to_the_hooks_and_absolute_form_to_itself_is_a_model_call() {
    let fake = FakeModelServer::start(script()).expect("fake");
    let h = Harness::start(&fake.base_url(), BudgetLimits::default()).await;
    let addr = h.server.local_addr().expect("addr");
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]});

    // Absolute-form to the gateway's own address: a model call (HTTPS_PROXY clients).
    let got = raw(
        addr,
        &format!(
            "POST http://{addr}/v1/messages HTTP/1.1\r\nhost: {addr}\r\nx-api-key: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            h.token.expose(),
            body.to_string().len()
        ),
    )
    .await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert_eq!(fake.requests().len(), 1);

    // Absolute-form elsewhere, and CONNECT: the proxy half (not installed: 501).
    let got = raw(
        addr,
        "GET http://example.invalid/x HTTP/1.1\r\nhost: example.invalid\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(got.starts_with("HTTP/1.1 501"), "{got}");
    let got = raw(
        addr,
        "CONNECT example.invalid:443 HTTP/1.1\r\nhost: example.invalid:443\r\n\r\n",
    )
    .await;
    assert!(got.starts_with("HTTP/1.1 501"), "{got}");
    assert_eq!(fake.requests().len(), 1);
}

/// Sends `request` as raw bytes and reads the answer until the server closes or 2 s of quiet.
async fn raw(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn oversized_heads_get_431() {
    let fake = FakeModelServer::start(script()).expect("fake");
    let h = Harness::start_with(&fake.base_url(), BudgetLimits::default(), |b| {
        b.max_head(8192)
    })
    .await;
    let addr = h.server.local_addr().expect("addr");
    let got = raw(
        addr,
        &format!(
            "GET /v1/models HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
            "a".repeat(16 * 1024)
        ),
    )
    .await;
    assert!(got.starts_with("HTTP/1.1 431"), "{got}");
}

#[tokio::test]
async fn serves_a_unix_socket_and_shuts_down_gracefully() {
    let fake = FakeModelServer::start(script()).expect("fake");
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("gateway.sock");
    let grants = Arc::new(StaticGrants::new());
    let token = new_token().expect("token");
    grants.add(TaskGrant {
        task: task("uid-unix"),
        token: token.clone(),
        model: Some(ModelRoute {
            upstream: fake.base_url(),
            credential: Secret::new(REAL_KEY),
        }),
        github: None,
        network: Network::Open,
        budget: BudgetLimits::default(),
        prices: PriceTable::shipped(),
    });
    let gateway = Gateway::new(grants, Arc::new(axon_gateway::MemorySink::new())).expect("gateway");
    let listener = tokio::net::UnixListener::bind(&socket).expect("bind");
    let server = gateway.serve_unix(listener).expect("serve");
    assert!(server.local_addr().is_none());

    let stream = tokio::net::UnixStream::connect(&socket)
        .await
        .expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    let conn = tokio::spawn(connection);
    let body = json!({"model": "gemini-2.5-pro", "contents": []}).to_string();
    let req = Request::post("/v1beta/models/gemini-2.5-pro:generateContent")
        .header("host", "gateway")
        .header("x-goog-api-key", token.expose())
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    let response = sender.send_request(req).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let _ = response.into_body().collect().await.expect("body");
    assert_eq!(fake.requests()[0].headers["x-goog-api-key"], REAL_KEY);
    assert_eq!(
        usage_after(&gateway, "uid-unix", 1).await.output_tokens,
        OUTPUT_TOKENS
    );

    // Shutdown closes the idle keep-alive connection and stops accepting.
    tokio::time::timeout(DEADLINE, server.shutdown(DEADLINE))
        .await
        .expect("shutdown in time");
    tokio::time::timeout(DEADLINE, conn)
        .await
        .expect("connection closed")
        .expect("join")
        .expect("clean close");
    assert!(sender.ready().await.is_err());
}

#[tokio::test]
async fn an_agent_that_goes_away_before_the_answer_is_recorded_and_frees_its_turn() {
    // An upstream that never answers, and says when a request arrived.
    let (arrived_tx, mut arrived) = tokio::sync::mpsc::channel::<()>(1);
    let app = axum::Router::new().fallback(move || {
        let arrived_tx = arrived_tx.clone();
        async move {
            let _ = arrived_tx.send(()).await;
            std::future::pending::<()>().await;
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let upstream = format!("http://{}", listener.local_addr().expect("addr"));
    let upstream_task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let limits = BudgetLimits {
        max_turns: Some(1),
        ..BudgetLimits::default()
    };
    let h = Harness::start(&upstream, limits.clone()).await;
    let req = Request::post(h.url("/v1/chat/completions"))
        .header("authorization", format!("Bearer {}", h.token.expose()))
        .body(Full::new(Bytes::from(
            json!({"model": "gpt-5", "messages": []}).to_string(),
        )))
        .expect("request");
    let sent = tokio::spawn(client().request(req));
    tokio::time::timeout(DEADLINE, arrived.recv())
        .await
        .expect("the upstream got the call");
    // While the call is in flight it holds the one turn.
    let state = h.gateway.task(&h.task);
    assert!(state.reserve_turn(&limits).is_err());
    sent.abort();
    let records = h.audit_after(1).await;
    assert_eq!(records[0].status, 0);
    state
        .reserve_turn(&limits)
        .expect("the turn was given back");
    upstream_task.abort();
}
