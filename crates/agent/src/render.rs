//! Rendering an agent's stream for people (`axon logs`): turn markers, assistant text, one
//! line per tool call with its key argument, tool errors, and a closing line with the verdict,
//! turns, tokens, cost and duration. Works line by line, so `axon logs -f` can render as the
//! log grows; `raw` passes the JSONL through untouched.
//!
//! Lines that are not the agent's JSON (its standard error, the runner's own messages) are
//! shown as they are.

use std::io::{self, BufRead, Write};

use axon_api::AgentType;

use crate::event::Event;
use crate::lines::{Line, for_each_line};
use crate::outcome::Outcome;
use crate::parse::{StreamParser, one_line, parser_for};

/// Longest plain line shown, in characters.
const MAX_PLAIN: usize = 2000;

/// Renders one agent's log, a line at a time.
pub struct LogRenderer {
    agent_type: AgentType,
    raw: bool,
    parser: Box<dyn StreamParser>,
    outcome: Outcome,
    pending_text: String,
    turn: u64,
    summarized: bool,
}

impl LogRenderer {
    /// A renderer for `agent_type`'s stream; `raw` passes lines through.
    pub fn new(agent_type: AgentType, raw: bool) -> Self {
        LogRenderer {
            agent_type,
            raw,
            parser: parser_for(agent_type),
            outcome: Outcome::default(),
            pending_text: String::new(),
            turn: 0,
            summarized: false,
        }
    }

    /// Render one line of the log (without its newline).
    pub fn render_line(&mut self, line: &str, out: &mut dyn Write) -> io::Result<()> {
        self.render(line, 0, out)
    }

    fn render(&mut self, line: &str, dropped: usize, out: &mut dyn Write) -> io::Result<()> {
        if self.raw {
            return writeln!(out, "{line}");
        }
        let events = self.parser.parse_line(line);
        if events.is_empty() {
            let trimmed = line.trim_end();
            if trimmed.is_empty() || trimmed.trim_start().starts_with('{') && dropped == 0 {
                return Ok(());
            }
            self.flush_text(out)?;
            if dropped > 0 {
                let shown: String = trimmed.chars().take(200).collect();
                return writeln!(out, "{shown}… [{} more bytes not shown]", dropped);
            }
            let shown: String = trimmed.chars().take(MAX_PLAIN).collect();
            return writeln!(out, "{shown}");
        }
        for event in &events {
            self.outcome.apply(event);
            self.render_event(event, out)?;
        }
        Ok(())
    }

    fn render_event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        match event {
            Event::Text { text, delta } => {
                if !*delta {
                    self.flush_text(out)?;
                }
                self.pending_text.push_str(text);
                return Ok(());
            }
            Event::Usage(_) | Event::Time(_) => return Ok(()),
            _ => self.flush_text(out)?,
        }
        match event {
            Event::Init { model } => match model {
                Some(m) => writeln!(out, "● {} started (model {m})", self.agent_type),
                None => writeln!(out, "● {} started", self.agent_type),
            },
            Event::TurnStart => {
                self.turn += 1;
                writeln!(out, "── turn {} ──", self.turn)
            }
            Event::ToolCall { name, detail } => match detail {
                Some(d) => writeln!(out, "→ {name}: {d}"),
                None => writeln!(out, "→ {name}"),
            },
            Event::ToolResult {
                name,
                is_error: true,
                output,
            } => {
                let name = name.as_deref().unwrap_or("tool");
                writeln!(out, "  ✗ {name} failed: {}", one_line(output, 300))
            }
            Event::Error {
                message,
                fatal: true,
            } => writeln!(out, "✗ error: {}", one_line(message, 1000)),
            Event::Error {
                message,
                fatal: false,
            } => writeln!(out, "! warning: {}", one_line(message, 1000)),
            Event::Result(_) => self.summary(out),
            _ => Ok(()),
        }
    }

    fn flush_text(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.pending_text.trim().is_empty() {
            self.pending_text.clear();
            return Ok(());
        }
        let text = std::mem::take(&mut self.pending_text);
        writeln!(out, "{}", text.trim_end())
    }

    fn summary(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.summarized = true;
        let verdict = self
            .outcome
            .verdict(self.agent_type.as_str(), Some(0), false, "");
        let usage = self.outcome.usage();
        let mut parts = vec![match &verdict.reason {
            None => "succeeded".to_string(),
            Some(reason) => format!("failed: {reason}"),
        }];
        parts.push(format!(
            "{} turn{}",
            usage.turns,
            if usage.turns == 1 { "" } else { "s" }
        ));
        parts.push(format!(
            "{} tool call{}",
            self.outcome.tool_calls(),
            if self.outcome.tool_calls() == 1 {
                ""
            } else {
                "s"
            }
        ));
        parts.push(format!(
            "{} in / {} out tokens",
            usage.input_tokens, usage.output_tokens
        ));
        if let Some(cost) = usage.cost_usd {
            parts.push(format!("${cost:.4}"));
        }
        if let Some(ms) = self.outcome.duration_ms() {
            parts.push(format!("{:.1}s", ms as f64 / 1000.0));
        }
        writeln!(out, "■ {}", parts.join(" · "))
    }

    /// End of the log: flush pending text and, for agents without a result event, print the
    /// closing line.
    pub fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.flush_text(out)?;
        if !self.raw && !self.summarized && self.outcome.saw_events() {
            self.summary(out)?;
        }
        Ok(())
    }

    fn render_bounded(&mut self, line: Line<'_>, out: &mut dyn Write) -> io::Result<()> {
        if self.raw {
            out.write_all(line.bytes)?;
            return out.write_all(b"\n");
        }
        let text = line.text();
        self.render(&text, line.dropped, out)
    }
}

/// Render a whole log (or a growing one, line by line) to `out`.
pub fn render_logs(
    input: impl BufRead,
    agent_type: AgentType,
    raw: bool,
    mut out: impl Write,
) -> io::Result<()> {
    let mut renderer = LogRenderer::new(agent_type, raw);
    for_each_line(input, |line| renderer.render_bounded(line, &mut out))?;
    renderer.finish(&mut out)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(agent_type: AgentType, input: &str) -> String {
        let mut out = Vec::new();
        render_logs(input.as_bytes(), agent_type, false, &mut out).expect("render");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn claude_code() {
        insta::assert_snapshot!(render(
            AgentType::ClaudeCode,
            include_str!("../tests/fixtures/claude-code.jsonl")
        ));
    }

    #[test]
    fn codex() {
        insta::assert_snapshot!(render(
            AgentType::Codex,
            include_str!("../tests/fixtures/codex.jsonl")
        ));
    }

    #[test]
    fn gemini() {
        insta::assert_snapshot!(render(
            AgentType::Gemini,
            include_str!("../tests/fixtures/gemini.jsonl")
        ));
    }

    #[test]
    fn opencode() {
        insta::assert_snapshot!(render(
            AgentType::Opencode,
            include_str!("../tests/fixtures/opencode.jsonl")
        ));
    }

    #[test]
    fn raw_passes_lines_through() {
        let input = "{\"type\":\"x\"}\nplain\n";
        let mut out = Vec::new();
        render_logs(input.as_bytes(), AgentType::Codex, true, &mut out).expect("render");
        assert_eq!(out, input.as_bytes());
    }

    #[test]
    fn huge_and_garbage_lines_do_not_break_rendering() {
        let mut input = String::from("garbage {\n");
        input.push_str(&format!(
            "{{\"type\":\"text\",\"part\":{{\"text\":\"{}\"}}}}\n",
            "y".repeat(2 << 20)
        ));
        input.push_str("{\"type\":\"step_start\"}\n");
        let text = render(AgentType::Opencode, &input);
        assert!(text.starts_with("garbage {\n"), "{text}");
        assert!(
            text.contains("more bytes not shown"),
            "{}",
            &text[..200.min(text.len())]
        );
        assert!(text.contains("── turn 1 ──"));
    }
}
