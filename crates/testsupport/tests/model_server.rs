//! The fake model server over plain HTTP: each wire format's shape, step selection, side
//! requests, the request log, and the bounds. (The real CLIs are in `agent_clis.rs`.)

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use axon_testsupport::model_server::{FakeModelServer, Limits, Script, WireFormat};
use serde_json::{Value, json};

/// A minimal HTTP/1.1 client: one request per connection; returns status and body.
fn http(server: &FakeModelServer, method: &str, path: &str, body: &Value) -> (u16, String) {
    let mut stream = TcpStream::connect(server.addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = raw.split_once("\r\n\r\n").expect("http response");
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// The JSON `data:` payloads of an SSE body.
fn sse_data(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect()
}

fn script() -> Script {
    Script::new()
        .write_file("a.txt", "A\n")
        .shell("echo hi")
        .text("finished")
        .usage(7, 3)
}

const BASH: &str = r#"{"name":"Bash","input_schema":{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}}"#;
const WRITE: &str = r#"{"name":"Write","input_schema":{"type":"object","properties":{"file_path":{"type":"string"},"content":{"type":"string"}},"required":["file_path","content"]}}"#;

fn anthropic_body(tool_results: usize) -> Value {
    let mut messages = vec![json!({"role": "user", "content": "go"})];
    for i in 0..tool_results {
        messages.push(json!({"role": "assistant", "content": [{"type": "tool_use", "id": format!("t{i}"), "name": "Bash", "input": {}}]}));
        messages.push(json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": format!("t{i}"), "content": "ok"}]}));
    }
    json!({
        "model": "claude-test",
        "stream": true,
        "system": [{"type": "text", "text": "You are a test.\nWorking directory: /w\n"}],
        "tools": [serde_json::from_str::<Value>(BASH).expect("json"), serde_json::from_str::<Value>(WRITE).expect("json")],
        "messages": messages,
    })
}

#[test]
fn anthropic_plays_steps_by_tool_results() {
    let server = FakeModelServer::start(script()).expect("start");
    let (status, body) = http(&server, "POST", "/v1/messages", &anthropic_body(0));
    assert_eq!(status, 200);
    let events = sse_data(&body);
    assert_eq!(events[0]["type"], "message_start");
    assert_eq!(events[0]["message"]["usage"]["input_tokens"], 7);
    assert_eq!(events[1]["content_block"]["name"], "Write");
    let args: Value = serde_json::from_str(
        events[2]["delta"]["partial_json"]
            .as_str()
            .expect("partial json"),
    )
    .expect("args");
    assert_eq!(args, json!({"file_path": "/w/a.txt", "content": "A\n"}));
    let delta = events
        .iter()
        .find(|e| e["type"] == "message_delta")
        .expect("delta");
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["output_tokens"], 3);

    // The same request again plays the same step: retries are idempotent.
    let (_, again) = http(&server, "POST", "/v1/messages", &anthropic_body(0));
    assert_eq!(sse_data(&again)[1]["content_block"]["name"], "Write");

    let (_, body) = http(&server, "POST", "/v1/messages", &anthropic_body(1));
    assert_eq!(sse_data(&body)[1]["content_block"]["name"], "Bash");
    let (_, body) = http(&server, "POST", "/v1/messages", &anthropic_body(2));
    let events = sse_data(&body);
    assert_eq!(events[2]["delta"]["text"], "finished");

    // Non-streaming variant.
    let mut plain = anthropic_body(2);
    plain["stream"] = json!(false);
    let (_, body) = http(&server, "POST", "/v1/messages", &plain);
    let msg: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(msg["content"][0]["text"], "finished");
    assert_eq!(msg["stop_reason"], "end_turn");

    let log = server.requests();
    assert_eq!(log.len(), 5);
    assert_eq!(log[0].format, WireFormat::Anthropic);
    assert_eq!(log[0].model.as_deref(), Some("claude-test"));
    assert!(log[0].system.contains("You are a test."));
    assert_eq!(log[0].tools, vec!["Bash", "Write"]);
    assert_eq!(
        log.iter().map(|r| r.step).collect::<Vec<_>>(),
        vec![Some(0), Some(0), Some(1), Some(2), Some(2)]
    );
}

#[test]
fn side_requests_without_tools_get_text_and_do_not_advance() {
    let server = FakeModelServer::start(Script::new().api_error(500, "down")).expect("start");
    let (status, body) = http(
        &server,
        "POST",
        "/v1/messages",
        &json!({"model": "haiku", "stream": false, "messages": [{"role": "user", "content": "title?"}]}),
    );
    assert_eq!(status, 200);
    let msg: Value = serde_json::from_str(&body).expect("json");
    assert!(msg["content"][0]["text"].as_str().is_some());
    assert_eq!(server.requests()[0].step, None);
    assert!(server.main_requests().is_empty());
}

#[test]
fn api_errors_are_vendor_shaped() {
    let server = FakeModelServer::start(Script::new().api_error(429, "slow down")).expect("start");
    let (status, body) = http(&server, "POST", "/v1/messages", &anthropic_body(0));
    assert_eq!(status, 429);
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert_eq!(v["error"]["message"], "slow down");

    let tools = json!([{"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}}]);
    let (status, body) = http(
        &server,
        "POST",
        "/v1/responses",
        &json!({"model": "m", "stream": true, "input": [], "tools": tools}),
    );
    assert_eq!(status, 429);
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["error"]["message"], "slow down");

    let (status, body) = http(
        &server,
        "POST",
        "/v1beta/models/gemini-x:streamGenerateContent?alt=sse",
        &json!({"contents": [], "tools": [{"functionDeclarations": [{"name": "run_shell_command", "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}}]}]}),
    );
    assert_eq!(status, 429);
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(v["error"]["code"], 429);
}

#[test]
fn openai_responses_stream() {
    let server = FakeModelServer::start(script()).expect("start");
    let tools = json!([
        {"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}, "justification": {"type": "string"}}, "required": ["cmd"]}},
        {"type": "custom", "name": "apply_patch", "format": {"type": "grammar"}},
        {"type": "web_search"}
    ]);
    let input = json!([
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Be brief."}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context><cwd>/w</cwd></environment_context>"}]},
    ]);
    let body = json!({"model": "gpt-test", "stream": true, "instructions": "Base.", "input": input, "tools": tools});
    let (status, text) = http(&server, "POST", "/v1/responses", &body);
    assert_eq!(status, 200);
    let events = sse_data(&text);
    let done = events
        .iter()
        .find(|e| e["type"] == "response.output_item.done")
        .expect("item done");
    assert_eq!(done["item"]["type"], "custom_tool_call");
    assert_eq!(done["item"]["name"], "apply_patch");
    assert_eq!(
        done["item"]["input"],
        "*** Begin Patch\n*** Add File: a.txt\n+A\n*** End Patch\n"
    );
    let completed = events.last().expect("events");
    assert_eq!(completed["type"], "response.completed");
    assert_eq!(completed["response"]["usage"]["input_tokens"], 7);
    assert_eq!(completed["response"]["usage"]["output_tokens"], 3);

    let mut second = body.clone();
    second["input"]
        .as_array_mut()
        .expect("input")
        .push(json!({"type": "custom_tool_call_output", "call_id": "c", "output": "ok"}));
    let (_, text) = http(&server, "POST", "/v1/responses", &second);
    let events = sse_data(&text);
    let done = events
        .iter()
        .find(|e| e["type"] == "response.output_item.done")
        .expect("item done");
    assert_eq!(done["item"]["type"], "function_call");
    assert_eq!(done["item"]["name"], "exec_command");
    let args: Value =
        serde_json::from_str(done["item"]["arguments"].as_str().expect("args")).expect("json");
    assert_eq!(args, json!({"cmd": "echo hi"}));

    let log = server.requests();
    assert_eq!(log[0].format, WireFormat::OpenAiResponses);
    assert!(log[0].system.contains("Base."));
    assert!(log[0].system.contains("Be brief."));
}

#[test]
fn openai_chat_stream() {
    let server = FakeModelServer::start(script()).expect("start");
    let tools = json!([
        {"type": "function", "function": {"name": "bash", "parameters": {"type": "object", "properties": {"command": {"type": "string"}, "description": {"type": "string"}}, "required": ["command", "description"]}}},
        {"type": "function", "function": {"name": "write", "parameters": {"type": "object", "properties": {"filePath": {"type": "string"}, "content": {"type": "string"}}, "required": ["filePath", "content"]}}}
    ]);
    let body = json!({"model": "oc-test", "stream": true, "tools": tools, "messages": [
        {"role": "system", "content": "Working directory: /w"},
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "1", "type": "function", "function": {"name": "write", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "1", "content": "ok"}
    ]});
    let (status, text) = http(&server, "POST", "/v1/chat/completions", &body);
    assert_eq!(status, 200);
    assert!(text.trim_end().ends_with("data: [DONE]"));
    let chunks = sse_data(&text);
    let call = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "bash");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().expect("args")).expect("json");
    assert_eq!(
        args,
        json!({"command": "echo hi", "description": "Scripted step"})
    );
    let last = chunks.last().expect("chunks");
    assert_eq!(last["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(last["usage"]["prompt_tokens"], 7);
    assert_eq!(last["usage"]["completion_tokens"], 3);
    assert_eq!(server.requests()[0].system, "Working directory: /w");
}

#[test]
fn gemini_stream_count_tokens_and_next_speaker() {
    let server = FakeModelServer::start(script()).expect("start");
    let tools = json!([{"functionDeclarations": [
        {"name": "write_file", "parametersJsonSchema": {"type": "object", "properties": {"file_path": {"type": "string"}, "content": {"type": "string"}}, "required": ["file_path", "content"]}},
        {"name": "run_shell_command", "parametersJsonSchema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}
    ]}]);
    let body = json!({
        "systemInstruction": {"parts": [{"text": "- **Workspace Directories:**\n  - /w\n"}]},
        "contents": [{"role": "user", "parts": [{"text": "go"}]}],
        "tools": tools,
    });
    let (status, text) = http(
        &server,
        "POST",
        "/v1beta/models/gemini-test:streamGenerateContent?alt=sse",
        &body,
    );
    assert_eq!(status, 200);
    let chunks = sse_data(&text);
    let part = &chunks[0]["candidates"][0]["content"]["parts"][0];
    assert_eq!(part["functionCall"]["name"], "write_file");
    assert_eq!(part["functionCall"]["args"]["file_path"], "/w/a.txt");
    assert_eq!(chunks[0]["usageMetadata"]["promptTokenCount"], 7);
    assert_eq!(chunks[0]["usageMetadata"]["candidatesTokenCount"], 3);

    let (status, text) = http(
        &server,
        "POST",
        "/v1beta/models/gemini-test:countTokens",
        &json!({"contents": []}),
    );
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&text).expect("json")["totalTokens"],
        7
    );

    let schema = json!({"type": "object", "properties": {"reasoning": {"type": "string"}, "next_speaker": {"type": "string", "enum": ["model", "user"]}}, "required": ["reasoning", "next_speaker"]});
    let (_, text) = http(
        &server,
        "POST",
        "/v1beta/models/gemini-flash:generateContent",
        &json!({"contents": [], "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": schema}}),
    );
    let v: Value = serde_json::from_str(&text).expect("json");
    let answer: Value = serde_json::from_str(
        v["candidates"][0]["content"]["parts"][0]["text"]
            .as_str()
            .expect("text"),
    )
    .expect("json answer");
    assert_eq!(answer["next_speaker"], "user");

    let log = server.requests();
    assert_eq!(log[0].model.as_deref(), Some("gemini-test"));
    assert_eq!(log[0].format, WireFormat::Gemini);
    assert_eq!(log[2].model.as_deref(), Some("gemini-flash"));
    assert_eq!(log[2].step, None);
}

#[test]
fn side_endpoints() {
    let server = FakeModelServer::start(Script::new()).expect("start");
    let (status, text) = http(&server, "GET", "/v1/models", &Value::Null);
    assert_eq!(status, 200);
    assert!(
        serde_json::from_str::<Value>(&text).expect("json")["data"]
            .as_array()
            .is_some_and(|d| !d.is_empty())
    );
    let (status, text) = http(&server, "GET", "/v1beta/models", &Value::Null);
    assert_eq!(status, 200);
    assert!(text.contains("models/"));
    let (status, text) = http(
        &server,
        "POST",
        "/v1/messages/count_tokens",
        &json!({"model": "m", "messages": []}),
    );
    assert_eq!(status, 200);
    assert!(text.contains("input_tokens"));
    let (status, _) = http(&server, "GET", "/nowhere", &Value::Null);
    assert_eq!(status, 404);
    assert_eq!(server.requests().len(), 4);
}

#[test]
fn request_limit_refuses_further_requests() {
    let limits = Limits {
        max_requests: 2,
        max_duration: Duration::from_secs(60),
    };
    let server = FakeModelServer::start_with_limits(script(), limits).expect("start");
    assert_eq!(
        http(&server, "POST", "/v1/messages", &anthropic_body(0)).0,
        200
    );
    assert_eq!(
        http(&server, "POST", "/v1/messages", &anthropic_body(0)).0,
        200
    );
    let (status, body) = http(&server, "POST", "/v1/messages", &anthropic_body(0));
    assert_eq!(status, 400);
    assert!(body.contains("request limit"));
}

#[test]
fn time_limit_refuses_requests() {
    let limits = Limits {
        max_requests: 10,
        max_duration: Duration::ZERO,
    };
    let server = FakeModelServer::start_with_limits(script(), limits).expect("start");
    let (status, body) = http(&server, "POST", "/v1/messages", &anthropic_body(0));
    assert_eq!(status, 400);
    assert!(body.contains("time limit"));
}

#[test]
fn stops_on_drop() {
    let server = FakeModelServer::start(script()).expect("start");
    let addr = server.addr();
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
    drop(server);
    assert!(TcpStream::connect(addr).is_err());
}

#[tokio::test]
async fn usable_from_async_tests() {
    let server = FakeModelServer::start(script()).expect("start inside a runtime");
    let addr = server.addr();
    let stream = tokio::net::TcpStream::connect(addr).await;
    assert!(stream.is_ok());
    drop(stream);
    drop(server);
}
