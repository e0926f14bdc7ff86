//! Recorded-style answers of the four wire formats, metered whole and split at every byte.

use super::*;
use crate::pricing::PriceTable;

const ANTHROPIC_SSE: &str = concat!(
    "event: message_start\n",
    r#"data: {"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"cache_creation_input_tokens":2456,"cache_read_input_tokens":17350,"cache_creation":{"ephemeral_5m_input_tokens":2456,"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard"}}}"#,
    "\n\n",
    "event: content_block_start\n",
    r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
    "\n\n",
    "event: ping\n",
    r#"data: {"type": "ping"}"#,
    "\n\n",
    "event: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Voilà — the \"usage\": {\"output_tokens\": 999999} ✓"}}"#,
    "\n\n",
    "event: content_block_stop\n",
    r#"data: {"type":"content_block_stop","index":0}"#,
    "\n\n",
    "event: message_delta\n",
    r#"data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":3,"cache_creation_input_tokens":2456,"cache_read_input_tokens":17350,"output_tokens":312}}"#,
    "\n\n",
    "event: message_stop\n",
    r#"data: {"type":"message_stop"}"#,
    "\n\n",
);

const ANTHROPIC_JSON: &str = r#"{"id":"msg_01","type":"message","role":"assistant","model":"claude-haiku-4-5-20251001","content":[{"type":"text","text":"héllo"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1200,"cache_creation_input_tokens":0,"cache_read_input_tokens":800,"output_tokens":45}}"#;

const RESPONSES_SSE: &str = concat!(
    "event: response.created\n",
    r#"data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_68af","object":"response","created_at":1756300000,"status":"in_progress","model":"gpt-5-codex","output":[],"usage":null}}"#,
    "\n\n",
    "event: response.in_progress\n",
    r#"data: {"type":"response.in_progress","sequence_number":1,"response":{"id":"resp_68af","object":"response","status":"in_progress","model":"gpt-5-codex","output":[],"usage":null}}"#,
    "\n\n",
    "event: response.output_item.added\n",
    r#"data: {"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[]}}"#,
    "\n\n",
    "event: response.output_text.delta\n",
    r#"data: {"type":"response.output_text.delta","sequence_number":3,"item_id":"msg_1","output_index":1,"content_index":0,"delta":"Fertig ✓ — 完成"}"#,
    "\n\n",
    "event: response.completed\n",
    r#"data: {"type":"response.completed","sequence_number":4,"response":{"id":"resp_68af","object":"response","created_at":1756300000,"status":"completed","model":"gpt-5-codex","output":[{"id":"msg_1","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"text":"Fertig ✓ — 完成"}],"role":"assistant"}],"usage":{"input_tokens":12034,"input_tokens_details":{"cached_tokens":11008},"output_tokens":842,"output_tokens_details":{"reasoning_tokens":640},"total_tokens":12876}}}"#,
    "\n\n",
);

const RESPONSES_JSON: &str = r#"{"id":"resp_1","object":"response","status":"incomplete","model":"gpt-5-mini-2025-08-07","output":[],"usage":{"input_tokens":500,"input_tokens_details":{"cached_tokens":0},"output_tokens":128,"output_tokens_details":{"reasoning_tokens":128},"total_tokens":628}}"#;

const CHAT_SSE: &str = concat!(
    r#"data: {"id":"chatcmpl-C1","object":"chat.completion.chunk","created":1756300000,"model":"gpt-4.1-2025-04-14","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-C1","object":"chat.completion.chunk","created":1756300000,"model":"gpt-4.1-2025-04-14","choices":[{"index":0,"delta":{"content":"Grüße ✓"},"logprobs":null,"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-C1","object":"chat.completion.chunk","created":1756300000,"model":"gpt-4.1-2025-04-14","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-C1","object":"chat.completion.chunk","created":1756300000,"model":"gpt-4.1-2025-04-14","choices":[],"usage":{"prompt_tokens":2100,"completion_tokens":57,"total_tokens":2157,"prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}}}"#,
    "\n\n",
    "data: [DONE]\n\n",
);

const CHAT_JSON: &str = r#"{"id":"chatcmpl-2","object":"chat.completion","created":1,"model":"deepseek-chat","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":70,"completion_tokens":3,"total_tokens":73}}"#;

// Gemini's SSE ends lines with CRLF.
const GEMINI_SSE: &str = concat!(
    r#"data: {"candidates": [{"content": {"parts": [{"text": "Bonjour "}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 9120,"totalTokenCount": 9120,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 9120}]},"modelVersion": "gemini-2.5-pro","responseId": "fV2vaK7dLp"}"#,
    "\r\n\r\n",
    r#"data: {"candidates": [{"content": {"parts": [{"text": "le monde ✓"}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 9120,"candidatesTokenCount": 45,"totalTokenCount": 9968,"cachedContentTokenCount": 8000,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 9120}],"cacheTokensDetails": [{"modality": "TEXT","tokenCount": 8000}],"thoughtsTokenCount": 803},"modelVersion": "gemini-2.5-pro","responseId": "fV2vaK7dLp"}"#,
    "\r\n\r\n",
);

const GEMINI_JSON: &str = r#"{"candidates":[{"content":{"parts":[{"text":"hi"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":42,"candidatesTokenCount":7,"totalTokenCount":49},"modelVersion":"gemini-2.5-flash","responseId":"x"}"#;

fn meter(format: WireFormat, event_stream: bool, chunks: &[&[u8]]) -> CallUsage {
    let mut m = ResponseMeter::new(format, Some("requested-model".into()), event_stream);
    for c in chunks {
        m.feed(c);
    }
    m.finish()
}

fn whole(format: WireFormat, event_stream: bool, body: &str) -> CallUsage {
    meter(format, event_stream, &[body.as_bytes()])
}

fn usage(model: &str, input: u64, output: u64, read: u64, write: u64) -> CallUsage {
    CallUsage {
        model: Some(model.into()),
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: read,
        cache_write_tokens: write,
    }
}

#[test]
fn anthropic_stream_takes_the_latest_report_of_each_field() {
    assert_eq!(
        whole(WireFormat::AnthropicMessages, true, ANTHROPIC_SSE),
        usage("claude-sonnet-4-5-20250929", 3, 312, 17350, 2456)
    );
}

#[test]
fn anthropic_message_delta_without_input_keeps_message_start_figures() {
    let sse = concat!(
        "event: message_start\n",
        r#"data: {"type":"message_start","message":{"type":"message","model":"claude-opus-4-5","usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":7,"output_tokens":1}}}"#,
        "\n\n",
        "event: message_delta\n",
        r#"data: {"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":99}}"#,
        "\n\n",
    );
    assert_eq!(
        whole(WireFormat::AnthropicMessages, true, sse),
        usage("claude-opus-4-5", 10, 99, 7, 5)
    );
}

#[test]
fn anthropic_json_message() {
    assert_eq!(
        whole(WireFormat::AnthropicMessages, false, ANTHROPIC_JSON),
        usage("claude-haiku-4-5-20251001", 1200, 45, 800, 0)
    );
}

#[test]
fn openai_responses_stream_moves_cached_input_to_cache_read() {
    assert_eq!(
        whole(WireFormat::OpenAiResponses, true, RESPONSES_SSE),
        usage("gpt-5-codex", 12034 - 11008, 842, 11008, 0)
    );
}

#[test]
fn openai_responses_json_incomplete_is_still_counted() {
    assert_eq!(
        whole(WireFormat::OpenAiResponses, false, RESPONSES_JSON),
        usage("gpt-5-mini-2025-08-07", 500, 128, 0, 0)
    );
}

#[test]
fn openai_chat_stream_reads_the_usage_chunk_and_skips_done() {
    assert_eq!(
        whole(WireFormat::OpenAiChat, true, CHAT_SSE),
        usage("gpt-4.1-2025-04-14", 180, 57, 1920, 0)
    );
}

#[test]
fn openai_chat_json_completion() {
    assert_eq!(
        whole(WireFormat::OpenAiChat, false, CHAT_JSON),
        usage("deepseek-chat", 70, 3, 0, 0)
    );
}

#[test]
fn gemini_stream_last_usage_wins_thoughts_are_output_cached_is_cache_read() {
    assert_eq!(
        whole(WireFormat::Gemini, true, GEMINI_SSE),
        usage("gemini-2.5-pro", 1120, 45 + 803, 8000, 0)
    );
}

#[test]
fn gemini_json_single_array_and_code_assist_wrapped() {
    assert_eq!(
        whole(WireFormat::Gemini, false, GEMINI_JSON),
        usage("gemini-2.5-flash", 42, 7, 0, 0)
    );
    let array = r#"[{"candidates":[],"usageMetadata":{"promptTokenCount":42},"modelVersion":"gemini-2.5-flash"},
                   {"candidates":[],"usageMetadata":{"promptTokenCount":42,"candidatesTokenCount":9,"toolUsePromptTokenCount":3},"modelVersion":"gemini-2.5-flash"}]"#;
    assert_eq!(
        whole(WireFormat::Gemini, false, array),
        usage("gemini-2.5-flash", 45, 9, 0, 0)
    );
    let wrapped = r#"data: {"response":{"candidates":[],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":2},"modelVersion":"gemini-2.5-pro"},"traceId":"t"}

"#;
    assert_eq!(
        whole(WireFormat::Gemini, true, wrapped),
        usage("gemini-2.5-pro", 5, 2, 0, 0)
    );
}

#[test]
fn gemini_fields_missing_from_a_later_chunk_keep_their_value() {
    let sse = concat!(
        r#"data: {"candidates":[],"usageMetadata":{"promptTokenCount":300,"cachedContentTokenCount":100},"modelVersion":"gemini-2.5-pro"}"#,
        "\n\n",
        r#"data: {"candidates":[],"usageMetadata":{"candidatesTokenCount":12}}"#,
        "\n\n",
    );
    assert_eq!(
        whole(WireFormat::Gemini, true, sse),
        usage("gemini-2.5-pro", 200, 12, 100, 0)
    );
}

#[test]
fn every_split_of_every_stream_meters_the_same() {
    let cases = [
        (WireFormat::AnthropicMessages, true, ANTHROPIC_SSE),
        (WireFormat::AnthropicMessages, false, ANTHROPIC_JSON),
        (WireFormat::OpenAiResponses, true, RESPONSES_SSE),
        (WireFormat::OpenAiResponses, false, RESPONSES_JSON),
        (WireFormat::OpenAiChat, true, CHAT_SSE),
        (WireFormat::OpenAiChat, false, CHAT_JSON),
        (WireFormat::Gemini, true, GEMINI_SSE),
        (WireFormat::Gemini, false, GEMINI_JSON),
    ];
    for (format, sse, body) in cases {
        let bytes = body.as_bytes();
        let want = whole(format, sse, body);
        assert!(want.tokens() > 0, "{format:?}: the sample has usage");
        for i in 0..=bytes.len() {
            let (a, b) = bytes.split_at(i);
            assert_eq!(meter(format, sse, &[a, b]), want, "{format:?} split at {i}");
        }
        // Three pieces, and one byte at a time.
        for i in (0..bytes.len()).step_by(7) {
            let j = (i + 13).min(bytes.len());
            let pieces = [&bytes[..i], &bytes[i..j], &bytes[j..]];
            assert_eq!(
                meter(format, sse, &pieces),
                want,
                "{format:?} split at {i},{j}"
            );
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(
            meter(format, sse, &singles),
            want,
            "{format:?} byte by byte"
        );
        // LF line endings where the sample has CRLF, and the other way round.
        if sse {
            let lf = body.replace("\r\n", "\n");
            let crlf = lf.replace('\n', "\r\n");
            assert_eq!(whole(format, sse, &lf), want, "{format:?} LF");
            assert_eq!(whole(format, sse, &crlf), want, "{format:?} CRLF");
        }
    }
}

#[test]
fn error_answers_have_no_tokens_and_keep_the_requested_model() {
    let body = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    let got = whole(WireFormat::AnthropicMessages, false, body);
    assert_eq!(
        got,
        CallUsage {
            model: Some("requested-model".into()),
            ..CallUsage::default()
        }
    );
    let gemini = r#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}"#;
    assert_eq!(whole(WireFormat::Gemini, false, gemini).tokens(), 0);
    assert_eq!(
        whole(WireFormat::OpenAiChat, false, "not json at all").tokens(),
        0
    );
}

#[test]
fn count_tokens_answers_are_not_usage() {
    assert_eq!(
        whole(
            WireFormat::AnthropicMessages,
            false,
            r#"{"input_tokens":100}"#
        )
        .tokens(),
        0
    );
    assert_eq!(
        whole(WireFormat::Gemini, false, r#"{"totalTokens":100}"#).tokens(),
        0
    );
}

#[test]
fn a_stream_cut_before_its_final_usage_counts_what_was_reported() {
    let cut = &ANTHROPIC_SSE[..ANTHROPIC_SSE.find("event: message_delta").expect("sample")];
    assert_eq!(
        whole(WireFormat::AnthropicMessages, true, cut),
        usage("claude-sonnet-4-5-20250929", 3, 1, 17350, 2456)
    );
    // Cut in the middle of the final event's JSON: that event is ignored.
    let mid = &RESPONSES_SSE[..RESPONSES_SSE.len() - 40];
    assert_eq!(whole(WireFormat::OpenAiResponses, true, mid).tokens(), 0);
    // Cut right after the last data line, without the blank line: still read.
    let no_blank = CHAT_SSE.trim_end_matches("data: [DONE]\n\n").trim_end();
    assert_eq!(
        whole(WireFormat::OpenAiChat, true, no_blank).output_tokens,
        57
    );
}

#[test]
fn an_event_stream_without_its_content_type_is_still_read() {
    assert_eq!(
        whole(WireFormat::OpenAiChat, false, CHAT_SSE),
        whole(WireFormat::OpenAiChat, true, CHAT_SSE)
    );
}

#[test]
fn a_json_body_beyond_the_cap_is_skipped_with_bounded_memory() {
    let mut m = ResponseMeter::new(WireFormat::OpenAiChat, None, false);
    let filler = vec![b' '; 1024 * 1024];
    for _ in 0..9 {
        m.feed(&filler);
    }
    m.feed(CHAT_JSON.as_bytes());
    match &m.body {
        Body::Json { buf, overflow } => assert!(*overflow && buf.capacity() == 0),
        Body::Sse(_) => panic!("json mode"),
    }
    assert_eq!(m.finish(), CallUsage::default());
}

#[test]
fn forged_or_odd_numbers_are_ignored_or_clamped() {
    // Negative, string and float counts are not counts; cached above input is clamped.
    let body = r#"{"model":"gpt-5","usage":{"prompt_tokens":10,"completion_tokens":-5,"prompt_tokens_details":{"cached_tokens":50}}}"#;
    assert_eq!(
        whole(WireFormat::OpenAiChat, false, body),
        usage("gpt-5", 0, 0, 10, 0)
    );
    let body = r#"{"type":"message","model":"m","usage":{"input_tokens":"7","output_tokens":2.5}}"#;
    assert_eq!(
        whole(WireFormat::AnthropicMessages, false, body),
        usage("m", 0, 0, 0, 0)
    );
}

#[test]
fn classify_recognises_each_cli_path() {
    use CallKind::*;
    use WireFormat::*;
    let cases = [
        (
            "POST",
            "/v1/messages",
            Some((AnthropicMessages, Generation)),
        ),
        (
            "POST",
            "/v1/messages/",
            Some((AnthropicMessages, Generation)),
        ),
        (
            "POST",
            "/v1/messages/count_tokens",
            Some((AnthropicMessages, Auxiliary)),
        ),
        ("POST", "/v1/responses", Some((OpenAiResponses, Generation))),
        ("POST", "/responses", Some((OpenAiResponses, Generation))),
        (
            "POST",
            "/v1/responses/compact",
            Some((OpenAiResponses, Generation)),
        ),
        (
            "POST",
            "/v1/responses/input_tokens",
            Some((OpenAiResponses, Auxiliary)),
        ),
        (
            "POST",
            "/v1/chat/completions",
            Some((OpenAiChat, Generation)),
        ),
        (
            "POST",
            "/api/openai/v1/chat/completions",
            Some((OpenAiChat, Generation)),
        ),
        (
            "POST",
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
            Some((Gemini, Generation)),
        ),
        (
            "POST",
            "/v1beta/models/gemini-2.5-flash:generateContent",
            Some((Gemini, Generation)),
        ),
        (
            "POST",
            "/v1beta/models/gemini-2.5-pro:countTokens",
            Some((Gemini, Auxiliary)),
        ),
        (
            "POST",
            "/v1internal:streamGenerateContent",
            Some((Gemini, Generation)),
        ),
        ("GET", "/v1/models", Some((OpenAiChat, Auxiliary))),
        (
            "GET",
            "/v1/models/claude-sonnet-4-5",
            Some((OpenAiChat, Auxiliary)),
        ),
        ("GET", "/v1beta/models", Some((Gemini, Auxiliary))),
        (
            "GET",
            "/v1beta/models/gemini-2.5-pro",
            Some((Gemini, Auxiliary)),
        ),
        ("get", "/v1beta/models/", Some((Gemini, Auxiliary))),
        ("GET", "/v1/messages", None),
        ("POST", "/v1/embeddings", None),
        ("POST", "/v1/messages/batches", None),
        ("POST", "/v1/files", None),
        ("DELETE", "/v1/responses", None),
        ("POST", "/", None),
    ];
    for (method, path, want) in cases {
        assert_eq!(classify(method, path), want, "{method} {path}");
    }
}

#[test]
fn request_model_from_body_or_gemini_path() {
    let body = br#"{"model":"claude-sonnet-4-5","max_tokens":32000,"stream":true,"messages":[]}"#;
    assert_eq!(
        request_model(WireFormat::AnthropicMessages, "/v1/messages", body),
        Some("claude-sonnet-4-5".into())
    );
    assert_eq!(
        request_model(
            WireFormat::Gemini,
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
            b"{}"
        ),
        Some("gemini-2.5-pro".into())
    );
    assert_eq!(
        request_model(
            WireFormat::Gemini,
            "/v1internal:streamGenerateContent",
            br#"{"model":"gemini-2.5-flash","request":{}}"#
        ),
        Some("gemini-2.5-flash".into())
    );
    assert_eq!(
        request_model(
            WireFormat::OpenAiChat,
            "/v1/chat/completions",
            b"{\"model\":\"\"}"
        ),
        None
    );
    assert_eq!(
        request_model(WireFormat::OpenAiChat, "/v1/chat/completions", b"not json"),
        None
    );
    assert_eq!(
        request_model(
            WireFormat::OpenAiChat,
            "/v1/chat/completions",
            b"{\"model\":5}"
        ),
        None
    );
}

#[test]
fn totals_count_requests_turns_tokens_and_cost() {
    let prices = PriceTable::shipped();
    let mut t = UsageTotals::default();
    t.add(CallKind::Auxiliary, &CallUsage::default(), &prices);
    let sonnet = usage("claude-sonnet-4-5-20250929", 1_000_000, 0, 0, 0);
    t.add(CallKind::Generation, &sonnet, &prices);
    assert_eq!((t.requests, t.turns, t.input_tokens), (2, 1, 1_000_000));
    assert_eq!(t.cost_usd, Some(3.0));
    assert!(t.unpriced_models.is_empty());
}

#[test]
fn an_unpriced_model_makes_the_cost_unknown_for_good() {
    let prices = PriceTable::shipped();
    let mut t = UsageTotals::default();
    t.add(
        CallKind::Generation,
        &usage("gpt-5", 1000, 10, 0, 0),
        &prices,
    );
    assert!(t.cost_usd.is_some_and(|c| c > 0.0));
    // A failed call of an unknown model used no tokens: it costs nothing.
    t.add(
        CallKind::Generation,
        &usage("my-llama", 0, 0, 0, 0),
        &prices,
    );
    assert!(t.cost_usd.is_some());
    t.add(
        CallKind::Generation,
        &usage("my-llama", 10, 1, 0, 0),
        &prices,
    );
    t.add(
        CallKind::Generation,
        &usage("gpt-5", 1000, 10, 0, 0),
        &prices,
    );
    let unnamed = CallUsage {
        input_tokens: 1,
        ..CallUsage::default()
    };
    t.add(CallKind::Generation, &unnamed, &prices);
    assert_eq!(t.cost_usd, None);
    assert_eq!(
        t.unpriced_models
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        [UNNAMED_MODEL, "my-llama"]
    );
    assert_eq!((t.turns, t.input_tokens, t.output_tokens), (5, 2011, 21));
}

#[test]
fn totals_serialize_in_camel_case() {
    let mut t = UsageTotals::default();
    t.add(
        CallKind::Generation,
        &usage("x", 1, 2, 3, 4),
        &PriceTable::default(),
    );
    insta::assert_json_snapshot!(t, @r#"
    {
      "inputTokens": 1,
      "outputTokens": 2,
      "cacheReadTokens": 3,
      "cacheWriteTokens": 4,
      "requests": 1,
      "turns": 1,
      "costUSD": null,
      "unpricedModels": [
        "x"
      ]
    }
    "#);
}
