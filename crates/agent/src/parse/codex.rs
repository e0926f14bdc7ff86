//! Codex `exec --json`: `thread.started`, `turn.started`, `item.started`/`item.completed`
//! (items: `agent_message`, `reasoning`, `command_execution`, `file_change`, `mcp_tool_call`,
//! `web_search`, `todo_list`, `error`), then `turn.completed` (usage) or `turn.failed`, and
//! top-level `error` events. No cost is reported.
//!
//! Codex reports one "turn" per prompt; model round trips are counted instead: a new one
//! starts whenever model output follows a tool result.

use std::collections::HashSet;

use axon_core::results::Usage;
use serde_json::Value;

use super::{StreamParser, error_message, json_object, key_argument, str_of, u64_of};
use crate::event::{Event, FinalResult};

/// Parser state: whether the model is producing output, and which items were announced.
#[derive(Default)]
pub struct CodexParser {
    in_model_turn: bool,
    started: HashSet<String>,
}

impl CodexParser {
    fn model_output(&mut self, out: &mut Vec<Event>) {
        if !self.in_model_turn {
            self.in_model_turn = true;
            out.push(Event::TurnStart);
        }
    }

    fn tool_call(item: &Value) -> Option<Event> {
        let (name, detail) = match str_of(item, "type")? {
            "command_execution" => (
                "shell".to_string(),
                item.get("command").and_then(key_argument),
            ),
            "file_change" => {
                let paths = item.get("changes").and_then(Value::as_array).map(|c| {
                    c.iter()
                        .filter_map(|c| str_of(c, "path"))
                        .collect::<Vec<_>>()
                        .join(", ")
                });
                ("edit".to_string(), paths.filter(|p| !p.is_empty()))
            }
            "mcp_tool_call" => {
                let name = format!(
                    "{}.{}",
                    str_of(item, "server").unwrap_or("mcp"),
                    str_of(item, "tool").unwrap_or("tool")
                );
                (name, item.get("arguments").and_then(key_argument))
            }
            "web_search" => (
                "web_search".to_string(),
                str_of(item, "query").map(str::to_string),
            ),
            _ => return None,
        };
        Some(Event::ToolCall { name, detail })
    }
}

impl StreamParser for CodexParser {
    fn parse_line(&mut self, line: &str) -> Vec<Event> {
        let Some(v) = json_object(line) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        match str_of(&v, "type") {
            Some("thread.started") => out.push(Event::Init { model: None }),
            Some("item.started") | Some("item.updated") => {
                let Some(item) = v.get("item") else {
                    return out;
                };
                let id = str_of(item, "id").unwrap_or_default().to_string();
                if let Some(call) = Self::tool_call(item)
                    && !self.started.contains(&id)
                {
                    self.model_output(&mut out);
                    if self.started.len() < 10_000 {
                        self.started.insert(id);
                    }
                    out.push(call);
                }
            }
            Some("item.completed") => {
                let Some(item) = v.get("item") else {
                    return out;
                };
                let id = str_of(item, "id").unwrap_or_default();
                match str_of(item, "type") {
                    Some("agent_message") => {
                        self.model_output(&mut out);
                        let text = str_of(item, "text").unwrap_or_default();
                        out.push(Event::Text {
                            text: text.to_string(),
                            delta: false,
                        });
                    }
                    Some("reasoning") => self.model_output(&mut out),
                    Some("error") => out.push(Event::Error {
                        message: str_of(item, "message").unwrap_or("error").to_string(),
                        fatal: false,
                    }),
                    Some(_) => {
                        if let Some(call) = Self::tool_call(item) {
                            let name = match &call {
                                Event::ToolCall { name, .. } => Some(name.clone()),
                                _ => None,
                            };
                            if !self.started.remove(id) {
                                self.model_output(&mut out);
                                out.push(call);
                            }
                            let status = str_of(item, "status").unwrap_or_default();
                            let exit = item.get("exit_code").and_then(Value::as_i64);
                            let is_error = status == "failed"
                                || status == "declined"
                                || exit.is_some_and(|c| c != 0);
                            let mut output = str_of(item, "aggregated_output")
                                .unwrap_or_default()
                                .to_string();
                            if let Some(msg) = item.get("error").and_then(|e| str_of(e, "message"))
                            {
                                output = msg.to_string();
                            } else if is_error && let Some(code) = exit {
                                output = format!("exit code {code}: {output}");
                            }
                            out.push(Event::ToolResult {
                                name,
                                is_error,
                                output,
                            });
                            self.in_model_turn = false;
                        }
                    }
                    None => {}
                }
            }
            Some("turn.completed") => {
                let u = v.get("usage").cloned().unwrap_or(Value::Null);
                out.push(Event::Usage(Usage {
                    source: axon_core::results::UsageSource::Agent,
                    input_tokens: u64_of(&u, "input_tokens"),
                    output_tokens: u64_of(&u, "output_tokens"),
                    cost_usd: None,
                    turns: 0,
                    ..Default::default()
                }));
                out.push(Event::Result(FinalResult {
                    success: true,
                    ..Default::default()
                }));
            }
            Some("turn.failed") => {
                let message = v
                    .get("error")
                    .and_then(|e| str_of(e, "message"))
                    .unwrap_or("turn failed");
                out.push(Event::Result(FinalResult {
                    success: false,
                    error: Some(error_message(message)),
                    ..Default::default()
                }));
            }
            Some("error") => out.push(Event::Error {
                message: error_message(str_of(&v, "message").unwrap_or("error")),
                fatal: true,
            }),
            _ => {}
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../../tests/fixtures/codex.jsonl");

    #[test]
    fn parses_a_recorded_stream() {
        let mut p = CodexParser::default();
        let events: Vec<Event> = SAMPLE.lines().flat_map(|l| p.parse_line(l)).collect();
        insta::assert_debug_snapshot!(events);
    }
}
