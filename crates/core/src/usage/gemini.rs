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
    // Each chunk repeats the running counts; a field missing from a later chunk keeps its
    // earlier value.
    let seen = &mut o.gemini;
    let merge = |slot: &mut Option<u64>, name: &str| {
        if let Some(n) = count(u.get(name)) {
            *slot = Some(n);
        }
    };
    merge(&mut seen.prompt, "promptTokenCount");
    merge(&mut seen.cached, "cachedContentTokenCount");
    merge(&mut seen.tool_use_prompt, "toolUsePromptTokenCount");
    merge(&mut seen.candidates, "candidatesTokenCount");
    merge(&mut seen.thoughts, "thoughtsTokenCount");
    let prompt = seen.prompt.unwrap_or(0);
    let cached = seen.cached.unwrap_or(0).min(prompt);
    o.input = Some((prompt - cached).saturating_add(seen.tool_use_prompt.unwrap_or(0)));
    o.cache_read = Some(cached);
    o.output = Some(
        seen.candidates
            .unwrap_or(0)
            .saturating_add(seen.thoughts.unwrap_or(0)),
    );
    o.cache_write = None;
}

/// The latest `usageMetadata` counts, field by field.
#[derive(Debug, Default)]
pub(super) struct Counts {
    prompt: Option<u64>,
    cached: Option<u64>,
    tool_use_prompt: Option<u64>,
    candidates: Option<u64>,
    thoughts: Option<u64>,
}

/// A whole answer: one response, or an array of streamed responses.
pub(super) fn body(o: &mut Observed, v: &Value) {
    match v.as_array() {
        Some(items) => items.iter().for_each(|item| chunk(o, item)),
        None => chunk(o, v),
    }
}
