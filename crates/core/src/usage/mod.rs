//! Measured model usage: which model call a request is, and how many tokens its answer used.
//!
//! Why: the gateway, not the agent, is the source of a Task's usage, so figures can no longer
//! be forged by what an agent prints. A request is classified from its method and path
//! ([`classify`]); the answer's bytes, in whatever chunks they arrive, are fed to a
//! [`ResponseMeter`] while they stream through untouched, and each call's [`CallUsage`] is added
//! to the Task's [`UsageTotals`] with its cost from the [`PriceTable`]. Everything here is pure:
//! no I/O, bounded memory, and any malformed or truncated answer just yields fewer tokens.
//!
//! Token conventions (the same for every format, so budgets mean the same thing everywhere):
//! `input_tokens` are uncached input tokens, `cache_read_tokens` / `cache_write_tokens` the
//! input tokens read from / written to a prompt cache, and `output_tokens` every generated
//! token, reasoning ("thinking") tokens included. OpenAI and Gemini report cached tokens as
//! part of their input count; they are moved out of `input_tokens` into `cache_read_tokens`.

mod anthropic;
mod gemini;
mod openai_chat;
mod openai_responses;
pub mod sse;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::pricing::PriceTable;
use sse::SseSplitter;

/// Longest non-streaming (JSON) answer kept for metering; a longer one is not parsed.
pub const MAX_JSON_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The model API wire format of a request and its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum WireFormat {
    /// Anthropic Messages (`/v1/messages`), as Claude Code speaks it.
    AnthropicMessages,
    /// OpenAI Responses (`/v1/responses`), as Codex speaks it.
    OpenAiResponses,
    /// OpenAI Chat Completions (`/v1/chat/completions`), as OpenCode speaks it.
    OpenAiChat,
    /// Gemini `generateContent` / `streamGenerateContent`, as Gemini CLI speaks it.
    Gemini,
}

/// Whether a model call generates (counts as a turn and is subject to budgets) or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CallKind {
    /// A generation: messages, responses, chat completions, (stream)generateContent.
    Generation,
    /// Anything else on a model API: token counting, model lists.
    Auxiliary,
}

/// Recognises a model API call from its method and path (without the query string).
///
/// Paths are matched by their end, so any prefix works (`/v1/messages`, `/messages`,
/// `/openai/v1/responses`, `/v1beta/models/M:streamGenerateContent`,
/// `/v1/projects/P/locations/L/publishers/google/models/M:generateContent`). `None` for
/// anything else (embeddings, batches, files, unknown paths): the gateway decides what to do
/// with those. For a `GET …/models` list the format is nominal (`Gemini` under `v1beta`/
/// `v1alpha`, else `OpenAiChat`): model lists are never metered or refused.
pub fn classify(method: &str, path: &str) -> Option<(WireFormat, CallKind)> {
    use CallKind::{Auxiliary, Generation};
    use WireFormat::*;
    let p = path.trim_end_matches('/');
    if method.eq_ignore_ascii_case("GET") {
        let last = p.rsplit('/').next().unwrap_or_default();
        let is_list = last == "models" || p.contains("/models/") && !last.contains(':');
        if !is_list {
            return None;
        }
        let gemini = p.contains("/v1beta/") || p.contains("/v1alpha/") || p.ends_with("/v1beta");
        return Some((if gemini { Gemini } else { OpenAiChat }, Auxiliary));
    }
    if !method.eq_ignore_ascii_case("POST") {
        return None;
    }
    let ends = |suffix: &str| p.ends_with(suffix);
    if ends("/messages/count_tokens") {
        Some((AnthropicMessages, Auxiliary))
    } else if ends("/messages") {
        Some((AnthropicMessages, Generation))
    } else if ends("/responses/input_tokens") {
        Some((OpenAiResponses, Auxiliary))
    } else if ends("/responses") || ends("/responses/compact") {
        Some((OpenAiResponses, Generation))
    } else if ends("/chat/completions") {
        Some((OpenAiChat, Generation))
    } else if ends(":streamGenerateContent") || ends(":generateContent") {
        Some((Gemini, Generation))
    } else if ends(":countTokens") {
        Some((Gemini, Auxiliary))
    } else {
        None
    }
}

/// The model a request names: the JSON body's `model` field, or for Gemini the `models/M`
/// segment of the path (falling back to the body, as Code Assist puts it there).
pub fn request_model(format: WireFormat, path: &str, body: &[u8]) -> Option<String> {
    if format == WireFormat::Gemini
        && let Some(model) = gemini::model_from_path(path)
    {
        return Some(model);
    }
    #[derive(Deserialize)]
    struct ModelField {
        model: Option<String>,
    }
    serde_json::from_slice::<ModelField>(body)
        .ok()?
        .model
        .filter(|m| !m.is_empty())
}

/// The usage of one model call, as measured from its answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallUsage {
    /// The model that answered (as the answer names it), else the one the request named.
    pub model: Option<String>,
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Generated tokens, reasoning included.
    pub output_tokens: u64,
    /// Input tokens read from a prompt cache.
    pub cache_read_tokens: u64,
    /// Input tokens written to a prompt cache.
    pub cache_write_tokens: u64,
}

impl CallUsage {
    /// All tokens of the call: input, output and cache.
    pub fn tokens(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.output_tokens)
            .saturating_add(self.cache_read_tokens)
            .saturating_add(self.cache_write_tokens)
    }
}

/// What the answer said so far; each format fills it, later reports overriding earlier ones.
#[derive(Debug, Default)]
struct Observed {
    model: Option<String>,
    input: Option<u64>,
    output: Option<u64>,
    cache_read: Option<u64>,
    cache_write: Option<u64>,
    gemini: gemini::Counts,
}

impl Observed {
    fn set_model(&mut self, v: Option<&Value>) {
        if let Some(m) = v.and_then(Value::as_str).filter(|m| !m.is_empty()) {
            self.model = Some(m.to_string());
        }
    }
}

/// A token count field (`null`, negative or non-numeric → absent).
fn count(v: Option<&Value>) -> Option<u64> {
    v.and_then(Value::as_u64)
}

/// Reads one call's usage from its answer's bytes as they stream by.
#[derive(Debug)]
pub struct ResponseMeter {
    format: WireFormat,
    request_model: Option<String>,
    body: Body,
    observed: Observed,
}

#[derive(Debug)]
enum Body {
    Sse(SseSplitter),
    Json { buf: Vec<u8>, overflow: bool },
}

impl ResponseMeter {
    /// A meter for an answer in `format`; `event_stream` when the answer's `Content-Type` is
    /// `text/event-stream`, else the body is read as one JSON document at the end.
    pub fn new(format: WireFormat, request_model: Option<String>, event_stream: bool) -> Self {
        let body = if event_stream {
            Body::Sse(SseSplitter::default())
        } else {
            Body::Json {
                buf: Vec::new(),
                overflow: false,
            }
        };
        ResponseMeter {
            format,
            request_model,
            body,
            observed: Observed::default(),
        }
    }

    /// Feeds the next chunk of the answer, split anywhere.
    pub fn feed(&mut self, chunk: &[u8]) {
        let (format, observed) = (self.format, &mut self.observed);
        match &mut self.body {
            Body::Sse(splitter) => splitter.feed(chunk, &mut |data| event(format, observed, data)),
            Body::Json { overflow: true, .. } => {}
            Body::Json { buf, overflow } => {
                if buf.len() + chunk.len() > MAX_JSON_BODY_BYTES {
                    *overflow = true;
                    *buf = Vec::new();
                } else {
                    buf.extend_from_slice(chunk);
                }
            }
        }
    }

    /// The call's usage, from everything fed (zero tokens when the answer reported none).
    pub fn finish(mut self) -> CallUsage {
        let format = self.format;
        let observed = &mut self.observed;
        match &mut self.body {
            Body::Sse(splitter) => splitter.finish(&mut |data| event(format, observed, data)),
            Body::Json {
                buf,
                overflow: false,
            } => {
                if let Ok(v) = serde_json::from_slice::<Value>(buf) {
                    json_body(format, observed, &v);
                } else if looks_like_sse(buf) {
                    // An event stream served without its Content-Type.
                    let mut splitter = SseSplitter::default();
                    let mut on_event = |data: &[u8]| event(format, observed, data);
                    splitter.feed(buf, &mut on_event);
                    splitter.finish(&mut on_event);
                }
            }
            Body::Json { overflow: true, .. } => {}
        }
        let o = &self.observed;
        CallUsage {
            model: o.model.clone().or(self.request_model),
            input_tokens: o.input.unwrap_or(0),
            output_tokens: o.output.unwrap_or(0),
            cache_read_tokens: o.cache_read.unwrap_or(0),
            cache_write_tokens: o.cache_write.unwrap_or(0),
        }
    }
}

fn looks_like_sse(buf: &[u8]) -> bool {
    let start = buf.trim_ascii_start();
    start.starts_with(b"data:") || start.starts_with(b"event:")
}

/// One SSE event's data. Only events that can carry usage are parsed, so metering a long
/// stream of text deltas costs a substring scan per event.
fn event(format: WireFormat, observed: &mut Observed, data: &[u8]) {
    if !contains(data, b"\"usage") {
        return;
    }
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    match format {
        WireFormat::AnthropicMessages => anthropic::event(observed, &v),
        WireFormat::OpenAiResponses => openai_responses::event(observed, &v),
        WireFormat::OpenAiChat => openai_chat::chunk(observed, &v),
        WireFormat::Gemini => gemini::chunk(observed, &v),
    }
}

/// A whole (non-streaming) answer.
fn json_body(format: WireFormat, observed: &mut Observed, v: &Value) {
    match format {
        WireFormat::AnthropicMessages => anthropic::body(observed, v),
        WireFormat::OpenAiResponses => openai_responses::body(observed, v),
        WireFormat::OpenAiChat => openai_chat::chunk(observed, v),
        WireFormat::Gemini => gemini::body(observed, v),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A Task's usage so far, as the gateway measured it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageTotals {
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Generated tokens, reasoning included.
    pub output_tokens: u64,
    /// Input tokens read from a prompt cache.
    pub cache_read_tokens: u64,
    /// Input tokens written to a prompt cache.
    pub cache_write_tokens: u64,
    /// Model calls of any kind.
    pub requests: u64,
    /// Generation calls.
    pub turns: u64,
    /// Cost in USD; `None` once a call used tokens of a model without a price.
    #[serde(rename = "costUSD")]
    pub cost_usd: Option<f64>,
    /// Models that used tokens but have no price (why `cost_usd` is `None`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub unpriced_models: BTreeSet<String>,
}

impl Default for UsageTotals {
    fn default() -> Self {
        UsageTotals {
            input_tokens: 0,
            output_tokens: 0,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            requests: 0,
            turns: 0,
            cost_usd: Some(0.0),
            unpriced_models: BTreeSet::new(),
        }
    }
}

/// Named in [`UsageTotals::unpriced_models`] for a call whose answer and request named no
/// model.
pub const UNNAMED_MODEL: &str = "(unnamed model)";

impl UsageTotals {
    /// Adds one call: `requests` always, `turns` for a generation, its tokens, and its cost.
    /// A call with no tokens costs nothing, priced or not; a call with tokens of a model
    /// without a price makes the cost unknown from then on (never a partial figure) and names
    /// the model in `unpriced_models`.
    pub fn add(&mut self, kind: CallKind, call: &CallUsage, prices: &PriceTable) {
        self.requests += 1;
        if kind == CallKind::Generation {
            self.turns += 1;
        }
        self.input_tokens = self.input_tokens.saturating_add(call.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(call.output_tokens);
        self.cache_read_tokens = self
            .cache_read_tokens
            .saturating_add(call.cache_read_tokens);
        self.cache_write_tokens = self
            .cache_write_tokens
            .saturating_add(call.cache_write_tokens);
        match prices.cost(call) {
            Some(cost) => self.cost_usd = self.cost_usd.map(|total| total + cost),
            None => {
                self.cost_usd = None;
                self.unpriced_models.insert(
                    call.model
                        .clone()
                        .unwrap_or_else(|| UNNAMED_MODEL.to_string()),
                );
            }
        }
    }

    /// All tokens: input, output and cache.
    pub fn tokens(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.output_tokens)
            .saturating_add(self.cache_read_tokens)
            .saturating_add(self.cache_write_tokens)
    }
}

#[cfg(test)]
mod tests;
