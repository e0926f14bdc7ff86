//! Usage in Gemini answers.
//!
//! Why: Gemini CLI streams `GenerateContentResponse` chunks (`alt=sse`), each with a running
//! `usageMetadata` (the last one wins): `promptTokenCount` (cached ones included, counted in
//! `cachedContentTokenCount`), `candidatesTokenCount`, `thoughtsTokenCount` (billed as output),
//! `toolUsePromptTokenCount` (billed as input). A non-streaming answer is one response, or
//! for `streamGenerateContent` without `alt=sse` a JSON array of them. Code Assist wraps each
//! response in `{"response": …}`.

use serde_json::Value;

use super::{Observed, count};

/// The model segment of `…/models/MODEL:method`.
pub(super) fn model_from_path(path: &str) -> Option<String> {
    let (_, rest) = path.rsplit_once("/models/")?;
    let model = rest.split(':').next()?;
    (!model.is_empty()).then(|| model.to_string())
}

/// One streamed response.
pub(super) fn chunk(o: &mut Observed, v: &Value) {
    let v = match v.get("response") {
        Some(inner) if v.get("usageMetadata").is_none() => inner,
        _ => v,
    };
    let Some(u) = v.get("usageMetadata").filter(|u| u.is_object()) else {
        return;
    };
    o.set_model(v.get("modelVersion"));
    let field = |name: &str| count(u.get(name)).unwrap_or(0);
    let prompt = field("promptTokenCount");
    let cached = field("cachedContentTokenCount").min(prompt);
    o.input = Some((prompt - cached).saturating_add(field("toolUsePromptTokenCount")));
    o.cache_read = Some(cached);
    o.output = Some(field("candidatesTokenCount").saturating_add(field("thoughtsTokenCount")));
    o.cache_write = None;
}

/// A whole answer: one response, or an array of streamed responses.
pub(super) fn body(o: &mut Observed, v: &Value) {
    match v.as_array() {
        Some(items) => items.iter().for_each(|item| chunk(o, item)),
        None => chunk(o, v),
    }
}
