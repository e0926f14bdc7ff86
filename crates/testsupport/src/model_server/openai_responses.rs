//! OpenAI Responses wire format (`POST /v1/responses`), as Codex speaks it.
//!
//! Why: reads `instructions`, `input` items and `tools` (function and free-form "custom" tools
//! such as Codex's `apply_patch`) into a [`Conversation`], and writes a [`Reply`] as the SSE
//! stream Codex consumes: `response.created`, `response.output_item.added/done`,
//! `response.output_text.delta`, `response.completed` (with usage), or an error body.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::script::{Conversation, Reply, Tool, ToolKind};
use super::{RenderCtx, json_response, push_event, read_model_and_text, sse_response, text_of};

const RESULT_TYPES: &[&str] = &[
    "function_call_output",
    "custom_tool_call_output",
    "local_shell_call_output",
    "tool_search_output",
];

/// Reads an OpenAI Responses request.
pub fn conversation(body: &Value) -> Conversation {
    let mut system = body.get("instructions").map(text_of).unwrap_or_default();
    let input = body.get("input").and_then(Value::as_array);
    let mut tool_results = 0;
    for item in input.into_iter().flatten() {
        let ty = item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message");
        if RESULT_TYPES.contains(&ty) {
            tool_results += 1;
        }
        let role = item.get("role").and_then(Value::as_str).unwrap_or_default();
        if ty == "message" && (role == "developer" || role == "system") {
            let text = item.get("content").map(text_of).unwrap_or_default();
            if !text.is_empty() {
                system.push_str("\n\n");
                system.push_str(&text);
            }
        }
    }
    let tools = body
        .get("tools")
        .and_then(Value::as_array)
        .map(|tools| tools.iter().filter_map(tool).collect())
        .unwrap_or_default();
    let all_text = format!("{system}\n");
    read_model_and_text(
        body,
        "input",
        Conversation {
            system,
            tools,
            tool_results,
            all_text,
            ..Conversation::default()
        },
    )
}

fn tool(t: &Value) -> Option<Tool> {
    let ty = t.get("type").and_then(Value::as_str).unwrap_or("function");
    let name = t.get("name").and_then(Value::as_str);
    match ty {
        "function" => Some(Tool {
            name: name?.to_string(),
            kind: ToolKind::Function,
            schema: t.get("parameters").cloned().unwrap_or_else(|| json!({})),
        }),
        "custom" => Some(Tool {
            name: name?.to_string(),
            kind: ToolKind::Custom,
            schema: json!({}),
        }),
        // Built-in tools (web_search, local_shell, …) are listed by type but never called.
        other => Some(Tool {
            name: name.unwrap_or(other).to_string(),
            kind: ToolKind::Function,
            schema: json!({}),
        }),
    }
}

/// Writes `reply` as a Responses stream (or a response object when not streaming).
pub fn render(reply: &Reply, ctx: &RenderCtx) -> Response {
    let item = match reply {
        Reply::Error { status, message } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let (ty, code) = match status.as_u16() {
                401 => ("invalid_request_error", "invalid_api_key"),
                429 => ("rate_limit_error", "rate_limit_exceeded"),
                400..=499 => ("invalid_request_error", "invalid_request"),
                _ => ("server_error", "server_error"),
            };
            return json_response(
                status,
                &json!({"error": {"message": message, "type": ty, "param": null, "code": code}}),
            );
        }
        Reply::Text(text) => json!({
            "type": "message", "id": format!("msg_fake{:06}", ctx.id), "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }),
        Reply::Call { name, args } => json!({
            "type": "function_call", "id": format!("fc_fake{:06}", ctx.id),
            "call_id": format!("call_fake{:06}", ctx.id), "name": name,
            "arguments": args.to_string(), "status": "completed",
        }),
        Reply::CustomCall { name, input } => json!({
            "type": "custom_tool_call", "id": format!("ctc_fake{:06}", ctx.id),
            "call_id": format!("call_fake{:06}", ctx.id), "name": name,
            "input": input, "status": "completed",
        }),
    };
    let id = format!("resp_fake{:06}", ctx.id);
    let usage = json!({
        "input_tokens": ctx.input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": ctx.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": ctx.input_tokens + ctx.output_tokens,
    });
    let response = |status: &str, output: Value, usage: Value| {
        json!({
            "id": id, "object": "response", "created_at": 0, "status": status,
            "model": ctx.model, "output": output, "usage": usage,
            "parallel_tool_calls": false, "tool_choice": "auto", "tools": [],
        })
    };
    if !ctx.stream {
        return json_response(StatusCode::OK, &response("completed", json!([item]), usage));
    }
    let mut out = String::new();
    let mut seq = 0u64;
    let mut event = |out: &mut String, ty: &str, mut data: Value| {
        data["type"] = json!(ty);
        data["sequence_number"] = json!(seq);
        seq += 1;
        push_event(out, Some(ty), &data);
    };
    event(
        &mut out,
        "response.created",
        json!({"response": response("in_progress", json!([]), Value::Null)}),
    );
    let mut added = item.clone();
    added["status"] = json!("in_progress");
    if item["type"] == "message" {
        added["content"] = json!([]);
    }
    event(
        &mut out,
        "response.output_item.added",
        json!({"output_index": 0, "item": added}),
    );
    if item["type"] == "message" {
        let text = item["content"][0]["text"].clone();
        event(
            &mut out,
            "response.content_part.added",
            json!({"item_id": item["id"], "output_index": 0, "content_index": 0,
                   "part": {"type": "output_text", "text": "", "annotations": []}}),
        );
        event(
            &mut out,
            "response.output_text.delta",
            json!({"item_id": item["id"], "output_index": 0, "content_index": 0, "delta": text}),
        );
        event(
            &mut out,
            "response.output_text.done",
            json!({"item_id": item["id"], "output_index": 0, "content_index": 0, "text": text}),
        );
        event(
            &mut out,
            "response.content_part.done",
            json!({"item_id": item["id"], "output_index": 0, "content_index": 0,
                   "part": item["content"][0]}),
        );
    }
    event(
        &mut out,
        "response.output_item.done",
        json!({"output_index": 0, "item": item}),
    );
    event(
        &mut out,
        "response.completed",
        json!({"response": response("completed", json!([item]), usage)}),
    );
    sse_response(out)
}
