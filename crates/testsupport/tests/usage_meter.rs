//! The gateway's usage meter (`axon_core::usage`) on the fake model server's real answers:
//! each wire format, streamed and not, metered chunk by chunk as they arrive over HTTP, must
//! give the token counts the [`Script`] told the server to report.

use axon_core::pricing::PriceTable;
use axon_core::usage::{
    CallKind, CallUsage, ResponseMeter, UsageTotals, WireFormat, classify, request_model,
};
use axon_testsupport::model_server::{FakeModelServer, Script};
use serde_json::{Value, json};

const INPUT: u64 = 1234;
const OUTPUT: u64 = 567;

/// Sends one request the way the gateway would see it and meters the answer as it streams.
async fn call(
    server: &FakeModelServer,
    method: &str,
    path_and_query: &str,
    body: &Value,
) -> (CallKind, CallUsage) {
    let path = path_and_query.split('?').next().unwrap_or_default();
    let (format, kind) = classify(method, path).expect("a model API path");
    let body = serde_json::to_vec(body).expect("json");
    let model = request_model(format, path, &body);
    // reqwest is built without a TLS crypto provider; install one (plain HTTP here anyway).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let url = format!("{}{path_and_query}", server.base_url());
    let request = match method {
        "GET" => client.get(url),
        _ => client
            .post(url)
            .header("content-type", "application/json")
            .body(body),
    };
    let mut response = request.send().await.expect("send");
    assert!(
        response.status().is_success(),
        "{path_and_query}: {}",
        response.status()
    );
    let event_stream = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"));
    let mut meter = ResponseMeter::new(format, model, event_stream);
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        // Split each network chunk further, to cross line and UTF-8 boundaries.
        for piece in chunk.chunks(5) {
            meter.feed(piece);
        }
    }
    (kind, meter.finish())
}

fn messages(stream: bool, model: &str) -> Value {
    json!({"model": model, "max_tokens": 1024, "stream": stream,
           "messages": [{"role": "user", "content": "Say hi ✓"}]})
}

#[tokio::test]
async fn every_wire_format_is_metered_as_the_script_reported() {
    let server = FakeModelServer::start(Script::new().text("done ✓").usage(INPUT, OUTPUT))
        .expect("fake model server");
    let gemini_body = json!({"contents": [{"role": "user", "parts": [{"text": "Say hi ✓"}]}]});
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "POST",
            "/v1/messages?beta=true",
            messages(true, "claude-sonnet-4-5-20250929"),
            "claude-sonnet-4-5-20250929",
        ),
        (
            "POST",
            "/v1/messages",
            messages(false, "claude-haiku-4-5"),
            "claude-haiku-4-5",
        ),
        (
            "POST",
            "/v1/responses",
            json!({"model": "gpt-5-codex", "stream": true, "input": [{"role": "user", "content": "hi"}]}),
            "gpt-5-codex",
        ),
        (
            "POST",
            "/v1/responses",
            json!({"model": "gpt-5.5", "stream": false, "input": [{"role": "user", "content": "hi"}]}),
            "gpt-5.5",
        ),
        (
            "POST",
            "/v1/chat/completions",
            json!({"model": "gpt-5-mini", "stream": true,
            "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "hi"}]}),
            "gpt-5-mini",
        ),
        (
            "POST",
            "/v1/chat/completions",
            json!({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]}),
            "gpt-4.1",
        ),
        (
            "POST",
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
            gemini_body.clone(),
            "gemini-2.5-pro",
        ),
        (
            "POST",
            "/v1beta/models/gemini-2.5-flash:generateContent",
            gemini_body,
            "gemini-2.5-flash",
        ),
    ];
    let prices = PriceTable::shipped();
    let mut totals = UsageTotals::default();
    let mut expected_cost = 0.0;
    for (method, path, body, model) in &cases {
        let (kind, usage) = call(&server, method, path, body).await;
        assert_eq!(kind, CallKind::Generation, "{path}");
        assert_eq!(
            usage,
            CallUsage {
                model: Some(model.to_string()),
                input_tokens: INPUT,
                output_tokens: OUTPUT,
                cache_read_tokens: 0,
                cache_write_tokens: 0,
            },
            "{path}"
        );
        let price = prices.price(model).expect("a shipped price");
        expected_cost +=
            (INPUT as f64 * price.input_per_mtok + OUTPUT as f64 * price.output_per_mtok) / 1e6;
        totals.add(kind, &usage, &prices);
    }

    // Auxiliary calls: counted as requests, not turns, and their answers are not usage.
    let aux = [
        (
            "POST",
            "/v1/messages/count_tokens",
            messages(false, "claude-sonnet-4-5"),
        ),
        (
            "POST",
            "/v1beta/models/gemini-2.5-pro:countTokens",
            json!({"contents": []}),
        ),
        ("GET", "/v1/models", Value::Null),
        ("GET", "/v1beta/models", Value::Null),
    ];
    for (method, path, body) in &aux {
        let (kind, usage) = call(&server, method, path, body).await;
        assert_eq!(kind, CallKind::Auxiliary, "{path}");
        assert_eq!(usage.tokens(), 0, "{path}: {usage:?}");
        totals.add(kind, &usage, &prices);
    }

    let n = cases.len() as u64;
    assert_eq!(
        (
            totals.requests,
            totals.turns,
            totals.input_tokens,
            totals.output_tokens
        ),
        (n + aux.len() as u64, n, n * INPUT, n * OUTPUT)
    );
    let cost = totals.cost_usd.expect("every model is priced");
    assert!(
        (cost - expected_cost).abs() < 1e-9,
        "{cost} vs {expected_cost}"
    );
    assert_eq!(server.requests().len(), cases.len() + aux.len());
}

#[tokio::test]
async fn an_unpriced_model_is_metered_but_has_no_cost() {
    let server = FakeModelServer::start(Script::new().text("ok").usage(10, 2)).expect("server");
    let (kind, usage) = call(
        &server,
        "POST",
        "/v1/chat/completions",
        &json!({"model": "my-local-llama", "stream": true, "messages": []}),
    )
    .await;
    assert_eq!((usage.input_tokens, usage.output_tokens), (10, 2));
    let mut totals = UsageTotals::default();
    totals.add(kind, &usage, &PriceTable::shipped());
    assert_eq!(totals.cost_usd, None);
    assert!(totals.unpriced_models.contains("my-local-llama"));
}

#[test]
fn the_meter_and_the_fake_server_agree_on_what_a_format_is() {
    use axon_testsupport::model_server::WireFormat as Fake;
    let paths = [
        (
            "/v1/messages",
            Fake::Anthropic,
            WireFormat::AnthropicMessages,
        ),
        (
            "/v1/responses",
            Fake::OpenAiResponses,
            WireFormat::OpenAiResponses,
        ),
        (
            "/v1/chat/completions",
            Fake::OpenAiChat,
            WireFormat::OpenAiChat,
        ),
        (
            "/v1beta/models/m:streamGenerateContent",
            Fake::Gemini,
            WireFormat::Gemini,
        ),
    ];
    for (path, fake, ours) in paths {
        assert_eq!(
            classify("POST", path).map(|(f, _)| f),
            Some(ours),
            "{path} ({fake:?})"
        );
    }
}
