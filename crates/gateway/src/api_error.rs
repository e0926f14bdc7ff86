//! The gateway's own errors on a model call, shaped like the API the agent speaks.
//!
//! Why: an agent's CLI shows an API error's message only when the body has its vendor's shape;
//! an unknown token, a missing model credential, an oversized request or an unreachable
//! upstream must read as clearly as the provider's own errors. Budget refusals use
//! `axon_core::budget::refusal` (same shapes, status 400).

use http::{Response, StatusCode};
use serde_json::json;

use crate::body::{self, Body};
use crate::metering::WireFormat;

/// An error answer for a call in `format` (`None`: not a recognised model call; the OpenAI
/// shape, which most clients read).
pub fn api_error(format: Option<WireFormat>, status: StatusCode, message: &str) -> Response<Body> {
    let code = status.as_u16();
    let value = match format {
        Some(WireFormat::AnthropicMessages) => json!({
            "type": "error",
            "error": {"type": anthropic_type(code), "message": message},
        }),
        Some(WireFormat::Gemini) => json!({
            "error": {"code": code, "message": message, "status": google_status(code)},
        }),
        Some(WireFormat::OpenAiResponses | WireFormat::OpenAiChat) | None => json!({
            "error": {"message": message, "type": openai_type(code), "code": openai_code(code)},
        }),
    };
    body::json(status, &value)
}

fn anthropic_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        413 => "request_too_large",
        400 | 411 | 415 => "invalid_request_error",
        _ => "api_error",
    }
}

fn openai_type(status: u16) -> &'static str {
    match status {
        401 | 403 | 400 | 411 | 413 | 415 => "invalid_request_error",
        _ => "server_error",
    }
}

fn openai_code(status: u16) -> &'static str {
    match status {
        401 => "invalid_api_key",
        403 => "forbidden",
        413 => "request_too_large",
        502 => "bad_gateway",
        _ => "gateway_error",
    }
}

fn google_status(status: u16) -> &'static str {
    match status {
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        400 | 411 | 413 | 415 => "INVALID_ARGUMENT",
        _ => "UNAVAILABLE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_of(r: Response<Body>) -> serde_json::Value {
        let bytes = r.into_body().collect().await.expect("body").to_bytes();
        serde_json::from_slice(&bytes).expect("json")
    }

    #[tokio::test]
    async fn shapes_per_format() {
        let m = "unknown or expired Axon gateway token";
        let a = body_of(api_error(
            Some(WireFormat::AnthropicMessages),
            StatusCode::UNAUTHORIZED,
            m,
        ))
        .await;
        assert_eq!(a["error"]["type"], "authentication_error");
        assert_eq!(a["error"]["message"], m);
        let g = body_of(api_error(
            Some(WireFormat::Gemini),
            StatusCode::UNAUTHORIZED,
            m,
        ))
        .await;
        assert_eq!(g["error"]["status"], "UNAUTHENTICATED");
        assert_eq!(g["error"]["code"], 401);
        let o = body_of(api_error(None, StatusCode::BAD_GATEWAY, m)).await;
        assert_eq!(o["error"]["code"], "bad_gateway");
        assert_eq!(o["error"]["message"], m);
    }
}
