//! Usage in OpenAI Responses answers.
//!
//! Why: Codex streams `response.*` events; the final one (`response.completed`, or
//! `response.incomplete` / `response.failed`, which are billed too) carries `response.usage`:
//! `input_tokens` (cached ones included, counted in `input_tokens_details.cached_tokens`),
//! `output_tokens` (reasoning included). A non-streaming answer is the `response` object itself.

use serde_json::Value;

use super::{Observed, count};

/// One streamed event: any event whose `response` carries a usage object.
pub(super) fn event(o: &mut Observed, v: &Value) {
    if let Some(response) = v.get("response") {
        body(o, response);
    }
}

/// A whole `response` object.
pub(super) fn body(o: &mut Observed, v: &Value) {
    let Some(u) = v.get("usage").filter(|u| u.is_object()) else {
        return;
    };
    o.set_model(v.get("model"));
    let input = count(u.get("input_tokens")).unwrap_or(0);
    let cached = count(u.pointer("/input_tokens_details/cached_tokens")).unwrap_or(0);
    o.input = Some(input.saturating_sub(cached));
    o.cache_read = Some(cached.min(input));
    o.output = Some(count(u.get("output_tokens")).unwrap_or(0));
    o.cache_write = None;
}
