//! Usage in OpenAI Chat Completions answers.
//!
//! Why: OpenCode (and any OpenAI-compatible endpoint) streams `chat.completion.chunk` events
//! ending in `data: [DONE]`; usage (`prompt_tokens`, cached ones included in
//! `prompt_tokens_details.cached_tokens`, and `completion_tokens`, reasoning included) comes in
//! a chunk near the end, usually the last, with `usage: null` in the others. A non-streaming
//! `chat.completion` has the same top-level `usage`, so one function reads both.

use serde_json::Value;

use super::{Observed, count};

/// One chunk, or a whole completion.
pub(super) fn chunk(o: &mut Observed, v: &Value) {
    let Some(u) = v.get("usage").filter(|u| u.is_object()) else {
        return;
    };
    o.set_model(v.get("model"));
    let input = count(u.get("prompt_tokens")).unwrap_or(0);
    let cached = count(u.pointer("/prompt_tokens_details/cached_tokens")).unwrap_or(0);
    o.input = Some(input.saturating_sub(cached));
    o.cache_read = Some(cached.min(input));
    o.output = Some(count(u.get("completion_tokens")).unwrap_or(0));
    o.cache_write = None;
}
