//! Gemini CLI `--output-format stream-json`: `init`, `message` (user, and assistant text in
//! `delta` chunks), `tool_use`, `tool_result`, `error` (severity warning or error) and a final
//! `result` with `status` and `stats` (tokens, duration). No cost is reported.
//!
//! On failure the `result` carries no message in every version; the preceding `error` event
//! does, so the outcome keeps both.

use std::collections::HashMap;

use axon_core::results::Usage;
use serde_json::Value;

use super::{StreamParser, error_message, json_object, key_argument, rfc3339_ms, str_of, u64_of};
use crate::event::{Event, FinalResult};

/// Parser state: whether the model is producing output, and tool names by id.
#[derive(Default)]
pub struct GeminiParser {
    in_model_turn: bool,
    tools: HashMap<String, String>,
}

impl GeminiParser {
    fn model_output(&mut self, out: &mut Vec<Event>) {
        if !self.in_model_turn {
            self.in_model_turn = true;
            out.push(Event::TurnStart);
        }
    }
}

impl StreamParser for GeminiParser {
    fn parse_line(&mut self, line: &str) -> Vec<Event> {
        let Some(v) = json_object(line) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(ms) = str_of(&v, "timestamp").and_then(rfc3339_ms) {
            out.push(Event::Time(ms));
        }
        match str_of(&v, "type") {
            Some("init") => out.push(Event::Init {
                model: str_of(&v, "model").map(str::to_string),
            }),
            Some("message") => {
                if str_of(&v, "role") == Some("assistant") {
                    self.model_output(&mut out);
                    let text = str_of(&v, "content").unwrap_or_default();
                    out.push(Event::Text {
                        text: text.to_string(),
                        delta: v.get("delta").and_then(Value::as_bool).unwrap_or(false),
                    });
                } else {
                    self.in_model_turn = false;
                }
            }
            Some("tool_use") => {
                self.model_output(&mut out);
                let name = str_of(&v, "tool_name").unwrap_or("tool").to_string();
                if let Some(id) = str_of(&v, "tool_id")
                    && self.tools.len() < 10_000
                {
                    self.tools.insert(id.to_string(), name.clone());
                }
                out.push(Event::ToolCall {
                    name,
                    detail: v.get("parameters").and_then(key_argument),
                });
            }
            Some("tool_result") => {
                self.in_model_turn = false;
                let is_error = str_of(&v, "status") == Some("error");
                let output = if is_error {
                    v.get("error")
                        .and_then(|e| str_of(e, "message"))
                        .unwrap_or("tool error")
                        .to_string()
                } else {
                    str_of(&v, "output").unwrap_or_default().to_string()
                };
                let name = str_of(&v, "tool_id")
                    .and_then(|id| self.tools.get(id))
                    .cloned();
                out.push(Event::ToolResult {
                    name,
                    is_error,
                    output,
                });
            }
            Some("error") => out.push(Event::Error {
                message: error_message(str_of(&v, "message").unwrap_or("error")),
                fatal: str_of(&v, "severity") != Some("warning"),
            }),
            Some("result") => {
                let stats = v.get("stats").cloned().unwrap_or(Value::Null);
                let success = str_of(&v, "status") == Some("success");
                out.push(Event::Result(FinalResult {
                    success,
                    answer: None,
                    error: v
                        .get("error")
                        .and_then(|e| str_of(e, "message"))
                        .map(error_message)
                        .or_else(|| (!success).then(|| "Gemini CLI reported an error".to_string())),
                    usage: stats.is_object().then(|| Usage {
                        source: axon_core::results::UsageSource::Agent,
                        input_tokens: u64_of(&stats, "input_tokens"),
                        output_tokens: u64_of(&stats, "output_tokens"),
                        cost_usd: None,
                        turns: 0,
                        ..Default::default()
                    }),
                    duration_ms: stats
                        .get("duration_ms")
                        .and_then(Value::as_u64)
                        .filter(|d| *d > 0),
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

    const SAMPLE: &str = include_str!("../../tests/fixtures/gemini.jsonl");

    #[test]
    fn parses_a_recorded_stream() {
        let mut p = GeminiParser::default();
        let events: Vec<Event> = SAMPLE.lines().flat_map(|l| p.parse_line(l)).collect();
        insta::assert_debug_snapshot!(events);
    }
}
