//! OpenAI Chat Completions wire format (`POST /v1/chat/completions`), as OpenCode speaks it
//! through `@ai-sdk/openai-compatible`.
//!
//! Why: reads `messages` (system/developer text, `role: "tool"` results) and
//! `tools[].function` into a [`Conversation`], and writes a [`Reply`] as
//! `chat.completion.chunk` SSE events ending in `data: [DONE]` (usage in the last chunk), or as
//! one `chat.completion`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::script::{Conversation, Reply, Tool, ToolKind};
use super::{RenderCtx, json_response, push_event, read_model_and_text, sse_response, text_of};

/// Reads a Chat Completions request.
pub fn conversation(body: &Value) -> Conversation {
    let messages = body.get("messages").and_then(Value::as_array);
    let mut system = String::new();
    let mut tool_results = 0;
    for m in messages.into_iter().flatten() {
        match m.get("role").and_then(Value::as_str) {
            Some("system") | Some("developer") => {
                if !system.is_empty() {
                    system.push_str("\n\n");
                }
                system.push_str(&m.get("content").map(text_of).unwrap_or_default());
            }
            Some("tool") => tool_results += 1,
            _ => {}
        }
    }
    let tools = body
        .get("tools")
        .and_then(Value::as_array)
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| {
                    let f = t.get("function")?;
                    Some(Tool {
                        name: f.get("name")?.as_str()?.to_string(),
                        kind: ToolKind::Function,
                        schema: f.get("parameters").cloned().unwrap_or_else(|| json!({})),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    read_model_and_text(
        body,
        "messages",
        Conversation {
            system,
            tools,
            tool_results,
            ..Conversation::default()
        },
    )
}

/// Writes `reply` as Chat Completions chunks (or one completion when not streaming).
pub fn render(reply: &Reply, ctx: &RenderCtx) -> Response {
    let id = format!("chatcmpl-fake{:06}", ctx.id);
    let call_id = format!("call_fake{:06}", ctx.id);
    let (message, finish) = match reply {
        Reply::Error { status, message } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let ty = if status.is_server_error() {
                "server_error"
            } else {
                "invalid_request_error"
            };
            return json_response(
                status,
                &json!({"error": {"message": message, "type": ty, "param": null, "code": null}}),
            );
        }
        Reply::Text(text) => (json!({"role": "assistant", "content": text}), "stop"),
        Reply::Call { name, args } => (
            json!({"role": "assistant", "content": null, "tool_calls": [{
                "index": 0, "id": call_id, "type": "function",
                "function": {"name": name, "arguments": args.to_string()}}]}),
            "tool_calls",
        ),
        Reply::CustomCall { name, input } => (
            json!({"role": "assistant", "content": null, "tool_calls": [{
                "index": 0, "id": call_id, "type": "function",
                "function": {"name": name, "arguments": json!({"input": input}).to_string()}}]}),
            "tool_calls",
        ),
    };
    let usage = json!({
        "prompt_tokens": ctx.input_tokens,
        "completion_tokens": ctx.output_tokens,
        "total_tokens": ctx.input_tokens + ctx.output_tokens,
    });
    if !ctx.stream {
        return json_response(
            StatusCode::OK,
            &json!({
                "id": id, "object": "chat.completion", "created": 0, "model": ctx.model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": usage,
            }),
        );
    }
    let chunk = |choices: Value, usage: Value| {
        json!({"id": id, "object": "chat.completion.chunk", "created": 0, "model": ctx.model,
               "choices": choices, "usage": usage})
    };
    let mut out = String::new();
    push_event(
        &mut out,
        None,
        &chunk(
            json!([{"index": 0, "delta": message, "finish_reason": null}]),
            Value::Null,
        ),
    );
    push_event(
        &mut out,
        None,
        &chunk(
            json!([{"index": 0, "delta": {}, "finish_reason": finish}]),
            usage,
        ),
    );
    out.push_str("data: [DONE]\n\n");
    sse_response(out)
}
