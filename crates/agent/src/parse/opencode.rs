//! OpenCode `run --format json`: `step_start`, `text`, `reasoning`, `tool_use` (a part with
//! `tool` and `state`: input, output or error), `step_finish` (tokens and cost of the step)
//! and `error` (`{name, data: {message}}`). There is no final result event: usage is the sum
//! of the steps, and failure is an `error` event or a non-zero exit code.

use axon_core::results::Usage;
use serde_json::Value;

use super::{StreamParser, json_object, key_argument, str_of, u64_of};
use crate::event::Event;

/// OpenCode needs no state across lines.
#[derive(Default)]
pub struct OpenCodeParser;

impl StreamParser for OpenCodeParser {
    fn parse_line(&mut self, line: &str) -> Vec<Event> {
        let Some(v) = json_object(line) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(ms) = v.get("timestamp").and_then(Value::as_i64) {
            out.push(Event::Time(ms));
        }
        let part = v.get("part").cloned().unwrap_or(Value::Null);
        match str_of(&v, "type") {
            Some("step_start") => out.push(Event::TurnStart),
            Some("text") => {
                let text = str_of(&part, "text").unwrap_or_default();
                if !text.trim().is_empty() {
                    out.push(Event::Text {
                        text: text.to_string(),
                        delta: false,
                    });
                }
            }
            Some("tool_use") => {
                let name = str_of(&part, "tool").unwrap_or("tool").to_string();
                let state = part.get("state").cloned().unwrap_or(Value::Null);
                out.push(Event::ToolCall {
                    name: name.clone(),
                    detail: state.get("input").and_then(key_argument),
                });
                let is_error = str_of(&state, "status") == Some("error");
                let output = if is_error {
                    str_of(&state, "error").unwrap_or("tool error").to_string()
                } else {
                    str_of(&state, "output").unwrap_or_default().to_string()
                };
                out.push(Event::ToolResult {
                    name: Some(name),
                    is_error,
                    output,
                });
            }
            Some("step_finish") => {
                let t = part.get("tokens").cloned().unwrap_or(Value::Null);
                let cache = t.get("cache").cloned().unwrap_or(Value::Null);
                out.push(Event::Usage(Usage {
                    source: axon_core::results::UsageSource::Agent,
                    input_tokens: u64_of(&t, "input")
                        + u64_of(&cache, "read")
                        + u64_of(&cache, "write"),
                    output_tokens: u64_of(&t, "output") + u64_of(&t, "reasoning"),
                    cost_usd: part.get("cost").and_then(Value::as_f64),
                    turns: 0,
                    ..Default::default()
                }));
            }
            Some("error") => {
                let e = v.get("error").cloned().unwrap_or(Value::Null);
                let name = str_of(&e, "name").unwrap_or("error");
                let message = e
                    .get("data")
                    .and_then(|d| str_of(d, "message"))
                    .map(|m| format!("{name}: {m}"))
                    .or_else(|| str_of(&e, "message").map(|m| format!("{name}: {m}")))
                    .unwrap_or_else(|| name.to_string());
                out.push(Event::Error {
                    message,
                    fatal: true,
                });
            }
            _ => {}
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../../tests/fixtures/opencode.jsonl");

    #[test]
    fn parses_a_recorded_stream() {
        let mut p = OpenCodeParser;
        let events: Vec<Event> = SAMPLE.lines().flat_map(|l| p.parse_line(l)).collect();
        insta::assert_debug_snapshot!(events);
    }
}
