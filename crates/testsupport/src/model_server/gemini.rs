//! Gemini wire format (`POST /v1beta/models/MODEL:streamGenerateContent?alt=sse`,
//! `:generateContent`, `:countTokens`), as Gemini CLI speaks it.
//!
//! Why: reads `systemInstruction`, `contents` (`functionResponse` parts are tool results),
//! `tools[].functionDeclarations` and a demanded JSON schema (`generationConfig`) into a
//! [`Conversation`], and writes a [`Reply`] as `GenerateContentResponse` chunks (one `data:`
//! event, usage in `usageMetadata`) or one response.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::script::{Conversation, Reply, Tool, ToolKind};
use super::{RenderCtx, json_response, push_event, read_model_and_text, sse_response, text_of};

/// The model segment of `…/models/MODEL:method`.
pub fn model_from_path(path: &str) -> Option<String> {
    let rest = path.rsplit("/models/").next()?;
    let model = rest.split(':').next()?;
    (!model.is_empty() && model != path).then(|| model.to_string())
}

/// Reads a Gemini `generateContent` request.
pub fn conversation(body: &Value) -> Conversation {
    let system = body
        .get("systemInstruction")
        .or_else(|| body.get("system_instruction"))
        .map(|s| s.get("parts").map(text_of).unwrap_or_else(|| text_of(s)))
        .unwrap_or_default();
    let tool_results = body
        .get("contents")
        .and_then(Value::as_array)
        .map(|contents| {
            contents
                .iter()
                .filter_map(|c| c.get("parts").and_then(Value::as_array))
                .flatten()
                .filter(|p| p.get("functionResponse").is_some())
                .count()
        })
        .unwrap_or(0);
    let mut tools = Vec::new();
    for t in body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let decls = t
            .get("functionDeclarations")
            .or_else(|| t.get("function_declarations"))
            .and_then(Value::as_array);
        for d in decls.into_iter().flatten() {
            let Some(name) = d.get("name").and_then(Value::as_str) else {
                continue;
            };
            let schema = d
                .get("parametersJsonSchema")
                .or_else(|| d.get("parameters"))
                .cloned()
                .unwrap_or_else(|| json!({}));
            tools.push(Tool {
                name: name.to_string(),
                kind: ToolKind::Function,
                schema,
            });
        }
    }
    let config = body.get("generationConfig");
    let response_schema = config
        .and_then(|c| {
            c.get("responseJsonSchema")
                .or_else(|| c.get("responseSchema"))
        })
        .cloned();
    let all_text = format!("{system}\n");
    read_model_and_text(
        body,
        "contents",
        Conversation {
            system,
            tools,
            tool_results,
            all_text,
            response_schema,
            ..Conversation::default()
        },
    )
}

fn status_name(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        _ => "INTERNAL",
    }
}

/// Writes `reply` as a Gemini response (SSE `data:` events when `ctx.stream`).
pub fn render(reply: &Reply, ctx: &RenderCtx) -> Response {
    let part = match reply {
        Reply::Error { status, message } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return json_response(
                status,
                &json!({"error": {"code": status.as_u16(), "message": message,
                                  "status": status_name(status.as_u16())}}),
            );
        }
        Reply::Text(text) => json!({"text": text}),
        Reply::Call { name, args } => json!({"functionCall": {"name": name, "args": args}}),
        Reply::CustomCall { name, input } => {
            json!({"functionCall": {"name": name, "args": {"input": input}}})
        }
    };
    let body = json!({
        "candidates": [{
            "content": {"parts": [part], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }],
        "usageMetadata": {
            "promptTokenCount": ctx.input_tokens,
            "candidatesTokenCount": ctx.output_tokens,
            "totalTokenCount": ctx.input_tokens + ctx.output_tokens,
        },
        "modelVersion": ctx.model,
        "responseId": format!("fake{:06}", ctx.id),
    });
    if !ctx.stream {
        return json_response(StatusCode::OK, &body);
    }
    let mut out = String::new();
    push_event(&mut out, None, &body);
    sse_response(out)
}
