//! Anthropic Messages wire format (`POST /v1/messages`), as Claude Code speaks it.
//!
//! Why: reads a request into a [`Conversation`] (system blocks, `tools[].input_schema`,
//! `tool_result` blocks) and writes a [`Reply`] as a message or its SSE stream
//! (`message_start` … `message_stop`, usage in `message_start` and `message_delta`).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::script::{Conversation, Reply, Tool, ToolKind};
use super::{RenderCtx, json_response, push_event, read_model_and_text, sse_response, text_of};

/// Reads an Anthropic Messages request.
pub fn conversation(body: &Value) -> Conversation {
    let system = body.get("system").map(text_of).unwrap_or_default();
    let tools = body
        .get("tools")
        .and_then(Value::as_array)
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| {
                    Some(Tool {
                        name: t.get("name")?.as_str()?.to_string(),
                        kind: ToolKind::Function,
                        schema: t.get("input_schema").cloned().unwrap_or_else(|| json!({})),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let tool_results = body
        .get("messages")
        .and_then(Value::as_array)
        .map(|msgs| {
            msgs.iter()
                .filter_map(|m| m.get("content").and_then(Value::as_array))
                .flatten()
                .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
                .count()
        })
        .unwrap_or(0);
    let all_text = format!("{system}\n");
    read_model_and_text(
        body,
        "messages",
        Conversation {
            system,
            tools,
            tool_results,
            all_text,
            ..Conversation::default()
        },
    )
}

fn error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

/// Writes `reply` as an Anthropic message (SSE when `ctx.stream`).
pub fn render(reply: &Reply, ctx: &RenderCtx) -> Response {
    let (block, stop_reason) = match reply {
        Reply::Error { status, message } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return json_response(
                status,
                &json!({"type": "error", "error": {"type": error_type(status.as_u16()), "message": message}}),
            );
        }
        Reply::Text(text) => (json!({"type": "text", "text": text}), "end_turn"),
        Reply::Call { name, args } => (
            json!({"type": "tool_use", "id": format!("toolu_fake{:06}", ctx.id), "name": name, "input": args}),
            "tool_use",
        ),
        Reply::CustomCall { name, input } => (
            json!({"type": "tool_use", "id": format!("toolu_fake{:06}", ctx.id), "name": name, "input": {"input": input}}),
            "tool_use",
        ),
    };
    let id = format!("msg_fake{:06}", ctx.id);
    let usage = json!({
        "input_tokens": ctx.input_tokens,
        "output_tokens": ctx.output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    });
    if !ctx.stream {
        return json_response(
            StatusCode::OK,
            &json!({
                "id": id, "type": "message", "role": "assistant", "model": ctx.model,
                "content": [block], "stop_reason": stop_reason, "stop_sequence": null,
                "usage": usage,
            }),
        );
    }
    let mut out = String::new();
    push_event(
        &mut out,
        Some("message_start"),
        &json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": ctx.model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": ctx.input_tokens, "output_tokens": 1,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }}),
    );
    let (start, delta) = if block["type"] == "text" {
        (
            json!({"type": "text", "text": ""}),
            json!({"type": "text_delta", "text": block["text"]}),
        )
    } else {
        (
            json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}),
            json!({"type": "input_json_delta", "partial_json": block["input"].to_string()}),
        )
    };
    push_event(
        &mut out,
        Some("content_block_start"),
        &json!({"type": "content_block_start", "index": 0, "content_block": start}),
    );
    push_event(
        &mut out,
        Some("content_block_delta"),
        &json!({"type": "content_block_delta", "index": 0, "delta": delta}),
    );
    push_event(
        &mut out,
        Some("content_block_stop"),
        &json!({"type": "content_block_stop", "index": 0}),
    );
    push_event(
        &mut out,
        Some("message_delta"),
        &json!({"type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                "usage": {"input_tokens": ctx.input_tokens, "output_tokens": ctx.output_tokens}}),
    );
    push_event(
        &mut out,
        Some("message_stop"),
        &json!({"type": "message_stop"}),
    );
    sse_response(out)
}
