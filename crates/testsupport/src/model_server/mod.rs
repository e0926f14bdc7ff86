//! A scripted fake model server, so the **real** agent CLIs run end to end offline.
//!
//! Why: Axon's promise is that an agent's own tools write, commit and push. The only honest
//! test of that runs the real `claude`, `codex`, `gemini` and `opencode` binaries; they need a
//! model, so this server plays one from a [`Script`], in each vendor's wire format:
//!
//! | client | request | module |
//! |---|---|---|
//! | Claude Code | `POST /v1/messages` (SSE or JSON), `POST /v1/messages/count_tokens` | [`anthropic`] |
//! | Codex | `POST /v1/responses` (SSE or JSON) | [`openai_responses`] |
//! | OpenCode (`@ai-sdk/openai-compatible`) | `POST /v1/chat/completions` (SSE or JSON) | [`openai_chat`] |
//! | Gemini CLI | `POST /v1beta/models/M:streamGenerateContent?alt=sse`, `:generateContent`, `:countTokens` | [`gemini`] |
//!
//! `GET …/models` answers a one-model list in the OpenAI/Anthropic or the Gemini shape; any
//! other path answers 404 with a JSON body, and is recorded too.
//!
//! **Which step is played.** The main conversation is the one that offers tools. Step `n` of the
//! script answers a request whose conversation already holds `n` tool results, so retries and
//! repeated requests are idempotent and side requests never advance the script. Requests that
//! offer no tools (titles, summaries, quota checks, Gemini's next-speaker check) get a short text
//! ([`script::SIDE_ANSWER`]) or, when they demand a JSON schema, a minimal object satisfying it.
//! Each step is mapped onto whichever tool the client offers (see [`Step`]).
//!
//! **Usage.** Every answer reports [`Script::input_tokens`] / [`Script::output_tokens`]
//! (100 / 20 by default) in the format's usage fields.
//!
//! **Bounds.** The server listens on 127.0.0.1 only, answers at most
//! [`Limits::max_requests`] requests and only during [`Limits::max_duration`] (afterwards a
//! non-retryable 400 error), and stops when dropped.
//!
//! **Debugging.** With `AXON_FAKE_MODEL_DUMP=DIR` set, each request and answer is written to
//! `DIR/PORT-NNN-request.json` / `DIR/PORT-NNN-response.txt`.
//!
//! How each CLI is pointed at this server, offline, is documented (and proven) in
//! `crates/testsupport/tests/agent_clis.rs` and summarised in `crates/testsupport/CLI-NOTES.md`.

pub mod anthropic;
pub mod gemini;
pub mod openai_chat;
pub mod openai_responses;
pub mod script;

pub use script::{Conversation, Reply, Script, Step};

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The wire format a request was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireFormat {
    /// Anthropic Messages.
    Anthropic,
    /// OpenAI Responses.
    OpenAiResponses,
    /// OpenAI Chat Completions.
    OpenAiChat,
    /// Gemini `generateContent` / `streamGenerateContent`.
    Gemini,
    /// Anything else (model lists, unknown paths).
    Other,
}

/// One request the server received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Query string (may be empty).
    pub query: String,
    /// Request headers (lower-case names; the last value wins).
    pub headers: BTreeMap<String, String>,
    /// Recognised wire format.
    pub format: WireFormat,
    /// Model named by the request (body field, or the Gemini path segment).
    pub model: Option<String>,
    /// Full JSON body (`Null` when absent or not JSON).
    pub body: Value,
    /// System prompt / instructions text, extracted per format.
    pub system: String,
    /// Names of the tools the request offered.
    pub tools: Vec<String>,
    /// Script step played for this request (`None` for side requests and non-model paths).
    pub step: Option<usize>,
    /// HTTP status answered.
    pub status: u16,
}

impl RecordedRequest {
    /// Whether the system prompt, or failing that anything in the body, contains `needle`.
    pub fn mentions(&self, needle: &str) -> bool {
        self.system.contains(needle) || self.body.to_string().contains(needle)
    }
}

/// Bounds that stop runaway clients.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Requests answered before every further one is refused.
    pub max_requests: usize,
    /// Time after start during which requests are answered.
    pub max_duration: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_requests: 500,
            max_duration: Duration::from_secs(15 * 60),
        }
    }
}

/// Everything one answer needs besides the [`Reply`].
#[derive(Debug, Clone)]
pub struct RenderCtx {
    /// Model to echo.
    pub model: String,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// Input tokens to report.
    pub input_tokens: u64,
    /// Output tokens to report.
    pub output_tokens: u64,
    /// A number unique within the server, for ids.
    pub id: u64,
}

struct Shared {
    script: Script,
    limits: Limits,
    started: Instant,
    log: Mutex<Vec<RecordedRequest>>,
    next_id: AtomicU64,
    dump_dir: Option<std::path::PathBuf>,
    port: u16,
}

/// The running server; dropping it stops it.
pub struct FakeModelServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeModelServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeModelServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakeModelServer {
    /// Binds 127.0.0.1 on a free port and serves `script` on its own thread and runtime.
    pub fn start(script: Script) -> std::io::Result<FakeModelServer> {
        Self::start_with_limits(script, Limits::default())
    }

    /// Like [`FakeModelServer::start`], with explicit bounds.
    pub fn start_with_limits(script: Script, limits: Limits) -> std::io::Result<FakeModelServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            script,
            limits,
            started: Instant::now(),
            log: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            dump_dir: std::env::var_os("AXON_FAKE_MODEL_DUMP").map(Into::into),
            port: addr.port(),
        });
        if let Some(dir) = &shared.dump_dir {
            std::fs::create_dir_all(dir)?;
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .fallback(handle)
            .layer(DefaultBodyLimit::max(256 * 1024 * 1024))
            .with_state(shared.clone());
        let deadline = limits.max_duration;
        let thread = std::thread::Builder::new()
            .name(format!("fake-model-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let serve = axum::serve(listener, app);
                    // Stop on drop, or at the latest a minute after the answering window.
                    tokio::select! {
                        _ = serve => {}
                        _ = rx => {}
                        _ = tokio::time::sleep(deadline + Duration::from_secs(60)) => {}
                    }
                });
                // Dropping the runtime here aborts any connection still open.
            })?;
        Ok(FakeModelServer {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.log).clone()
    }

    /// Requests of the main conversation (those that played a script step).
    pub fn main_requests(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.step.is_some())
            .collect()
    }

    /// The script being played.
    pub fn script(&self) -> &Script {
        &self.shared.script
    }
}

impl Drop for FakeModelServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or_default().to_string();
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let count = lock(&shared.log).len();

    let (format, route) = route(&method, &path);
    let mut conv = match format {
        WireFormat::Anthropic => anthropic::conversation(&json_body),
        WireFormat::OpenAiResponses => openai_responses::conversation(&json_body),
        WireFormat::OpenAiChat => openai_chat::conversation(&json_body),
        WireFormat::Gemini => gemini::conversation(&json_body),
        WireFormat::Other => Conversation::default(),
    };
    if format == WireFormat::Gemini {
        conv.model = gemini::model_from_path(&path);
    }
    let model = conv
        .model
        .clone()
        .unwrap_or_else(|| "fake-model".to_string());
    let stream = match format {
        WireFormat::Gemini => route == Route::Stream,
        _ => json_body.get("stream").and_then(Value::as_bool) == Some(true),
    };
    let ctx = RenderCtx {
        model: model.clone(),
        stream,
        input_tokens: shared.script.input_tokens,
        output_tokens: shared.script.output_tokens,
        id,
    };

    let refusal = if count >= shared.limits.max_requests {
        Some(format!(
            "fake model server: request limit of {} reached",
            shared.limits.max_requests
        ))
    } else if shared.started.elapsed() > shared.limits.max_duration {
        Some(format!(
            "fake model server: time limit of {:?} reached",
            shared.limits.max_duration
        ))
    } else {
        None
    };

    let (step, response) = if let Some(message) = refusal {
        let reply = Reply::Error {
            status: 400,
            message,
        };
        (None, render(format, &reply, &ctx))
    } else {
        match route {
            Route::Generate | Route::Stream => {
                let (step, reply) = script::decide(&shared.script, &conv);
                (step, render(format, &reply, &ctx))
            }
            Route::CountTokens => (
                None,
                match format {
                    WireFormat::Gemini => {
                        json_response(StatusCode::OK, &json!({"totalTokens": ctx.input_tokens}))
                    }
                    _ => json_response(StatusCode::OK, &json!({"input_tokens": ctx.input_tokens})),
                },
            ),
            Route::Models => (None, models_response(&path)),
            Route::Unknown => (
                None,
                json_response(
                    StatusCode::NOT_FOUND,
                    &json!({"error": {"message": format!("fake model server: no route for {method} {path}"), "type": "not_found_error"}}),
                ),
            ),
        }
    };

    let header_map: BTreeMap<String, String> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let record = RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        query,
        headers: header_map,
        format,
        model: conv.model.clone(),
        body: json_body,
        system: conv.system.clone(),
        tools: conv.tools.iter().map(|t| t.name.clone()).collect(),
        step,
        status: response.status().as_u16(),
    };
    let response = dump(&shared, count, &record, response).await;
    lock(&shared.log).push(record);
    response
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Generate,
    Stream,
    CountTokens,
    Models,
    Unknown,
}

fn route(method: &Method, path: &str) -> (WireFormat, Route) {
    let p = path.trim_end_matches('/');
    if method == Method::GET {
        if p.ends_with("/models") || p.contains("/models/") {
            let format = if p.contains("v1beta") {
                WireFormat::Gemini
            } else {
                WireFormat::Other
            };
            return (format, Route::Models);
        }
        return (WireFormat::Other, Route::Unknown);
    }
    if method != Method::POST {
        return (WireFormat::Other, Route::Unknown);
    }
    if p.ends_with("/messages/count_tokens") {
        (WireFormat::Anthropic, Route::CountTokens)
    } else if p.ends_with("/messages") {
        (WireFormat::Anthropic, Route::Generate)
    } else if p.ends_with("/responses") {
        (WireFormat::OpenAiResponses, Route::Generate)
    } else if p.ends_with("/chat/completions") {
        (WireFormat::OpenAiChat, Route::Generate)
    } else if p.ends_with(":streamGenerateContent") {
        (WireFormat::Gemini, Route::Stream)
    } else if p.ends_with(":generateContent") {
        (WireFormat::Gemini, Route::Generate)
    } else if p.ends_with(":countTokens") {
        (WireFormat::Gemini, Route::CountTokens)
    } else {
        (WireFormat::Other, Route::Unknown)
    }
}

fn render(format: WireFormat, reply: &Reply, ctx: &RenderCtx) -> Response {
    match format {
        WireFormat::Anthropic => anthropic::render(reply, ctx),
        WireFormat::OpenAiResponses => openai_responses::render(reply, ctx),
        WireFormat::OpenAiChat | WireFormat::Other => openai_chat::render(reply, ctx),
        WireFormat::Gemini => gemini::render(reply, ctx),
    }
}

fn models_response(path: &str) -> Response {
    const MODELS: &[&str] = &[
        "claude-sonnet-4-5",
        "gpt-5-codex",
        "gemini-2.5-pro",
        "fake-model",
    ];
    if path.contains("v1beta") {
        let models: Vec<Value> = MODELS
            .iter()
            .map(|m| json!({"name": format!("models/{m}"), "displayName": m, "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"]}))
            .collect();
        return json_response(StatusCode::OK, &json!({"models": models}));
    }
    let data: Vec<Value> = MODELS
        .iter()
        .map(|m| json!({"id": m, "object": "model", "type": "model", "display_name": m, "created": 0, "created_at": "2025-01-01T00:00:00Z", "owned_by": "axon-test"}))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"object": "list", "data": data, "has_more": false, "first_id": MODELS[0], "last_id": MODELS[MODELS.len() - 1]}),
    )
}

/// A JSON response.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A complete `text/event-stream` response (the whole stream is sent at once).
pub fn sse_response(body: String) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Appends one SSE event (`event:` line only when `event` is given).
pub fn push_event(out: &mut String, event: Option<&str>, data: &Value) {
    if let Some(event) = event {
        out.push_str("event: ");
        out.push_str(event);
        out.push('\n');
    }
    out.push_str("data: ");
    out.push_str(&data.to_string());
    out.push_str("\n\n");
}

/// Completes a [`Conversation`] read by a wire format: `model` from the request body, and every
/// string under `body[messages]` appended to `all_text`.
pub(crate) fn read_model_and_text(
    body: &Value,
    messages: &str,
    mut conv: Conversation,
) -> Conversation {
    conv.model = body
        .get("model")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(messages) = body.get(messages) {
        collect_strings(messages, &mut conv.all_text);
    }
    conv
}

/// Collects every string in `v` (except under `tools` keys) into `out`, one per line.
pub fn collect_strings(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Object(map) => {
            for (k, v) in map {
                if k != "tools" {
                    collect_strings(v, out);
                }
            }
        }
        _ => {}
    }
}

/// Joins the `text` of content parts (a string, or an array of `{text}` / strings).
pub fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(text_of)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Object(map) => map.get("text").map(text_of).unwrap_or_default(),
        _ => String::new(),
    }
}

/// Writes the request and answer to `AXON_FAKE_MODEL_DUMP` when set (buffering the answer).
async fn dump(shared: &Shared, n: usize, record: &RecordedRequest, response: Response) -> Response {
    let Some(dir) = &shared.dump_dir else {
        return response;
    };
    let req = json!({
        "method": record.method, "path": record.path, "query": record.query,
        "headers": record.headers, "step": record.step, "tools": record.tools,
        "body": record.body,
    });
    let _ = std::fs::write(
        dir.join(format!("{}-{n:03}-request.json", shared.port)),
        serde_json::to_string_pretty(&req).unwrap_or_default(),
    );
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let _ = std::fs::write(
        dir.join(format!("{}-{n:03}-response.txt", shared.port)),
        format!("{}\n\n{}", parts.status, String::from_utf8_lossy(&bytes)),
    );
    Response::from_parts(parts, Body::from(bytes))
}
