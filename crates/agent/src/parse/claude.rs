//! Claude Code `--output-format stream-json --verbose`: `system` (init), `assistant` and
//! `user` messages (content blocks: text, tool_use, tool_result) and a final `result` line.
//!
//! Success is `is_error: false` (together with the exit code, checked by the outcome); the
//! `subtype` is not trusted. On failure the result's `result` text names the error (for
//! example `API Error: 500 …`).

use std::collections::HashMap;

use axon_core::results::Usage;
use serde_json::Value;

use super::{StreamParser, content_text, json_object, key_argument, str_of, u64_of};
use crate::event::{Event, FinalResult};

/// Parser state: the current message id (a message is split over several lines) and the
/// names of tool calls by id.
#[derive(Default)]
pub struct ClaudeParser {
    message_id: Option<String>,
    tools: HashMap<String, String>,
}

impl StreamParser for ClaudeParser {
    fn parse_line(&mut self, line: &str) -> Vec<Event> {
        let Some(v) = json_object(line) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        match str_of(&v, "type") {
            Some("system") if str_of(&v, "subtype") == Some("init") => {
                out.push(Event::Init {
                    model: str_of(&v, "model").map(str::to_string),
                });
            }
            Some("assistant") => {
                let Some(message) = v.get("message") else {
                    return out;
                };
                let id = str_of(message, "id").map(str::to_string);
                if id.is_none() || id != self.message_id {
                    out.push(Event::TurnStart);
                    self.message_id = id;
                }
                for block in message
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    match str_of(block, "type") {
                        Some("text") => {
                            let text = str_of(block, "text").unwrap_or_default();
                            if !text.is_empty() {
                                out.push(Event::Text {
                                    text: text.to_string(),
                                    delta: false,
                                });
                            }
                        }
                        Some("tool_use") => {
                            let name = str_of(block, "name").unwrap_or("tool").to_string();
                            if let Some(id) = str_of(block, "id")
                                && self.tools.len() < 10_000
                            {
                                self.tools.insert(id.to_string(), name.clone());
                            }
                            let detail = block.get("input").and_then(key_argument);
                            out.push(Event::ToolCall { name, detail });
                        }
                        _ => {}
                    }
                }
            }
            Some("user") => {
                let content = v.get("message").and_then(|m| m.get("content"));
                for block in content.and_then(Value::as_array).into_iter().flatten() {
                    if str_of(block, "type") != Some("tool_result") {
                        continue;
                    }
                    let name = str_of(block, "tool_use_id")
                        .and_then(|id| self.tools.get(id))
                        .cloned();
                    out.push(Event::ToolResult {
                        name,
                        is_error: block
                            .get("is_error")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                        output: content_text(block.get("content").unwrap_or(&Value::Null)),
                    });
                }
            }
            Some("result") => {
                let is_error = v.get("is_error").and_then(Value::as_bool).unwrap_or(true);
                let text = str_of(&v, "result").map(str::to_string);
                let error = is_error.then(|| {
                    let errors = v
                        .get("errors")
                        .and_then(Value::as_array)
                        .map(|e| {
                            e.iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join("; ")
                        })
                        .filter(|e| !e.is_empty());
                    text.clone()
                        .filter(|t| !t.is_empty())
                        .or(errors)
                        .unwrap_or_else(|| {
                            format!(
                                "Claude Code reported an error ({})",
                                str_of(&v, "subtype").unwrap_or("no detail")
                            )
                        })
                });
                let usage = v.get("usage").map(|u| Usage {
                    source: axon_core::results::UsageSource::Agent,
                    input_tokens: u64_of(u, "input_tokens")
                        + u64_of(u, "cache_creation_input_tokens")
                        + u64_of(u, "cache_read_input_tokens"),
                    output_tokens: u64_of(u, "output_tokens"),
                    cost_usd: v.get("total_cost_usd").and_then(Value::as_f64),
                    turns: u64_of(&v, "num_turns"),
                    ..Default::default()
                });
                out.push(Event::Result(FinalResult {
                    success: !is_error,
                    answer: if is_error { None } else { text },
                    error,
                    usage,
                    duration_ms: v.get("duration_ms").and_then(Value::as_u64),
                }));
            }
            _ => {}
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const SAMPLE: &str = include_str!("../../tests/fixtures/claude-code.jsonl");

    #[test]
    fn parses_a_recorded_stream() {
        let mut p = ClaudeParser::default();
        let events: Vec<Event> = SAMPLE.lines().flat_map(|l| p.parse_line(l)).collect();
        insta::assert_debug_snapshot!(events);
    }

    #[test]
    fn an_api_error_result_names_the_error() {
        let mut p = ClaudeParser::default();
        let line = r#"{"type":"result","subtype":"success","is_error":true,"result":"API Error: 500 {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"scripted failure\"}}","num_turns":1,"usage":{"input_tokens":0,"output_tokens":0}}"#;
        let events = p.parse_line(line);
        let Some(Event::Result(r)) = events.first() else {
            panic!("{events:?}")
        };
        assert!(!r.success);
        assert!(
            r.error
                .as_deref()
                .unwrap_or_default()
                .contains("scripted failure")
        );
    }
}
