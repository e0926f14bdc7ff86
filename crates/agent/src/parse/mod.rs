//! Parsing each agent's JSONL stream into common [`Event`]s.
//!
//! Parsers are fed one line at a time and are stateful (turn boundaries and tool names are
//! only known across lines). They never fail: a line that is not JSON, or JSON they do not
//! know, yields no events. Lines are already bounded in length by the reader.

mod claude;
mod codex;
mod gemini;
mod opencode;

use axon_api::AgentType;
use serde_json::Value;

use crate::event::Event;

pub use claude::ClaudeParser;
pub use codex::CodexParser;
pub use gemini::GeminiParser;
pub use opencode::OpenCodeParser;

/// Turns one agent's output lines into events.
pub trait StreamParser: Send {
    /// Parse one line (without its newline).
    fn parse_line(&mut self, line: &str) -> Vec<Event>;
}

/// The parser for an agent type's stream.
pub fn parser_for(agent_type: AgentType) -> Box<dyn StreamParser> {
    match agent_type {
        AgentType::ClaudeCode => Box::new(ClaudeParser::default()),
        AgentType::Codex => Box::new(CodexParser::default()),
        AgentType::Gemini => Box::new(GeminiParser::default()),
        AgentType::Opencode => Box::new(OpenCodeParser),
    }
}

/// Whether the agent always ends a run with a result event (so a missing one means the run
/// did not finish). OpenCode has none: its exit code and error events decide.
pub fn reports_result(agent_type: AgentType) -> bool {
    !matches!(agent_type, AgentType::Opencode)
}

/// Parse a line as a JSON object; anything else is not an event.
fn json_object(line: &str) -> Option<Value> {
    let trimmed = line.trim();
    if !trimmed.starts_with('{') {
        return None;
    }
    serde_json::from_str::<Value>(trimmed)
        .ok()
        .filter(Value::is_object)
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn u64_of(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// The argument that says what a tool call does, in a person's terms: the command, the
/// file, the pattern, the URL. Collapsed to one line and bounded.
pub fn key_argument(input: &Value) -> Option<String> {
    const KEYS: &[&str] = &[
        "command",
        "cmd",
        "file_path",
        "filePath",
        "absolute_path",
        "path",
        "notebook_path",
        "pattern",
        "query",
        "url",
        "description",
        "prompt",
        "subagent_type",
    ];
    if let Some(s) = input.as_str() {
        return Some(one_line(s, 200));
    }
    for key in KEYS {
        match input.get(*key) {
            Some(Value::String(s)) if !s.is_empty() => return Some(one_line(s, 200)),
            Some(Value::Array(parts)) if !parts.is_empty() => {
                let joined = parts
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" ");
                return Some(one_line(&joined, 200));
            }
            _ => {}
        }
    }
    None
}

/// Collapse whitespace runs (newlines included) to single spaces and cut at `max` chars.
pub fn one_line(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, word) in s.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
        if out.chars().count() > max {
            break;
        }
    }
    if out.chars().count() > max {
        let mut cut: String = out.chars().take(max).collect();
        cut.push('…');
        cut
    } else {
        out
    }
}

/// An error message as a person reads it: a JSON error body (`{"error":{"type","message"}}`,
/// as some CLIs pass the API's response through) becomes `type: message`; anything else is
/// kept.
pub fn error_message(raw: &str) -> String {
    let (Some(open), Some(close)) = (raw.find('{'), raw.rfind('}')) else {
        return raw.to_string();
    };
    if close < open {
        return raw.to_string();
    }
    let Some(v) = json_object(&raw[open..=close]) else {
        return raw.to_string();
    };
    let e = v.get("error").filter(|e| e.is_object()).unwrap_or(&v);
    let Some(message) = str_of(e, "message") else {
        return raw.to_string();
    };
    let kind = str_of(e, "type")
        .or_else(|| str_of(e, "status"))
        .or_else(|| str_of(e, "code"));
    let prefix = raw[..open].trim_matches(|c: char| c == '[' || c == ':' || c.is_whitespace());
    let mut out = String::new();
    for part in [Some(prefix), kind]
        .into_iter()
        .flatten()
        .filter(|p| !p.is_empty())
    {
        out.push_str(part);
        out.push_str(": ");
    }
    out.push_str(message);
    out
}

/// Text from a tool result's content: a string, or an array of `{type: text, text}` blocks.
fn content_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.get("text").and_then(Value::as_str).or_else(|| i.as_str()))
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Milliseconds since the epoch from an RFC 3339 timestamp.
fn rfc3339_ms(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_argument_prefers_the_command() {
        let v = serde_json::json!({"description": "list", "command": "ls -la\n  /tmp"});
        assert_eq!(key_argument(&v).as_deref(), Some("ls -la /tmp"));
        let v = serde_json::json!({"command": ["bash", "-lc", "make test"]});
        assert_eq!(key_argument(&v).as_deref(), Some("bash -lc make test"));
        assert_eq!(key_argument(&serde_json::json!({"x": 1})), None);
    }

    #[test]
    fn json_error_bodies_are_made_readable() {
        let raw = r#"{"error":{"code":"invalid_request","message":"model is on strike","type":"invalid_request_error"}}"#;
        assert_eq!(
            error_message(raw),
            "invalid_request_error: model is on strike"
        );
        assert_eq!(error_message("plain words"), "plain words");
        let gemini = r#"[API Error: {"error":{"code":400,"message":"on strike","status":"INVALID_ARGUMENT"}}]"#;
        assert_eq!(
            error_message(gemini),
            "API Error: INVALID_ARGUMENT: on strike"
        );
        assert_eq!(error_message("a {b} c"), "a {b} c");
    }

    #[test]
    fn one_line_is_bounded() {
        assert_eq!(one_line(&"ab ".repeat(100), 5), "ab ab…");
    }

    #[test]
    fn every_parser_ignores_garbage_and_huge_lines() {
        let huge = format!("{{\"type\":\"result\",\"x\":\"{}\"", "a".repeat(2 << 20));
        for t in AgentType::ALL {
            let mut p = parser_for(t);
            for line in [
                "",
                "not json",
                "{",
                "[1,2]",
                "{\"type\":42}",
                "null",
                &huge,
                "{\"type\":\"result\",\"usage\":\"x\"}",
            ] {
                let _ = p.parse_line(line);
            }
        }
    }
}
