//! Usage in Anthropic Messages answers.
//!
//! Why a file per format: each vendor reports usage in its own place. Anthropic streams it in
//! `message_start` (`message.usage`: `input_tokens`, `cache_creation_input_tokens`,
//! `cache_read_input_tokens`, an initial `output_tokens`) and in `message_delta` (`usage`:
//! the cumulative `output_tokens`, and on newer API versions the input and cache counts
//! again). Each field keeps its latest report. A non-streaming answer is one `message` object
//! with the same `usage`. Anthropic's `input_tokens` already excludes cached tokens.

use serde_json::Value;

use super::{Observed, count};

/// One streamed event (`message_start`, `message_delta`; others carry no usage).
pub(super) fn event(o: &mut Observed, v: &Value) {
    match v.get("type").and_then(Value::as_str) {
        Some("message_start") => {
            if let Some(message) = v.get("message") {
                body(o, message);
            }
        }
        Some("message_delta") => usage(o, v.get("usage")),
        _ => {}
    }
}

/// A whole `message` object.
pub(super) fn body(o: &mut Observed, v: &Value) {
    if v.get("type").and_then(Value::as_str) != Some("message") {
        return;
    }
    o.set_model(v.get("model"));
    usage(o, v.get("usage"));
}

fn usage(o: &mut Observed, usage: Option<&Value>) {
    let Some(u) = usage else { return };
    let field = |name: &str| count(u.get(name));
    o.input = field("input_tokens").or(o.input);
    o.output = field("output_tokens").or(o.output);
    o.cache_read = field("cache_read_input_tokens").or(o.cache_read);
    o.cache_write = field("cache_creation_input_tokens").or(o.cache_write);
}
