//! Folding a run's events into its outcome: usage, turns, final answer, and the verdict
//! (success, or why not). The verdict combines what the agent reported with its exit code;
//! neither alone is trusted.

use axon_core::results::Usage;

use crate::event::{Event, FinalResult};
use crate::parse::one_line;

/// Longest failure reason kept (the results document must stay small).
const MAX_REASON: usize = 1000;

/// Everything learned from a run's events.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    summed: Usage,
    turns: u64,
    tool_calls: u64,
    current_text: String,
    last_text: String,
    result: Option<FinalResult>,
    fatal_errors: Vec<String>,
    first_time: Option<i64>,
    last_time: Option<i64>,
    events: u64,
}

/// Success or the reason for failure.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub success: bool,
    pub reason: Option<String>,
}

impl Outcome {
    /// Fold one event in.
    pub fn apply(&mut self, event: &Event) {
        self.events += 1;
        match event {
            Event::Init { .. } => {}
            Event::TurnStart => {
                self.turns += 1;
                self.end_text();
            }
            Event::Text { text, delta } => {
                if !*delta && !self.current_text.is_empty() {
                    self.current_text.push_str("\n\n");
                }
                if self.current_text.len() < 64 * 1024 {
                    self.current_text.push_str(text);
                }
            }
            Event::ToolCall { .. } => {
                self.tool_calls += 1;
                self.end_text();
            }
            Event::ToolResult { .. } => {}
            Event::Usage(u) => {
                self.summed.input_tokens += u.input_tokens;
                self.summed.output_tokens += u.output_tokens;
                if let Some(c) = u.cost_usd {
                    self.summed.cost_usd = Some(self.summed.cost_usd.unwrap_or(0.0) + c);
                }
            }
            Event::Result(r) => self.result = Some(r.clone()),
            Event::Error { message, fatal } => {
                if *fatal && self.fatal_errors.len() < 20 {
                    self.fatal_errors.push(message.clone());
                }
            }
            Event::Time(ms) => {
                self.first_time.get_or_insert(*ms);
                self.last_time = Some(*ms);
            }
        }
    }

    fn end_text(&mut self) {
        if !self.current_text.trim().is_empty() {
            self.last_text = std::mem::take(&mut self.current_text);
        } else {
            self.current_text.clear();
        }
    }

    /// Whether any event was seen (the stream was in the agent's format).
    pub fn saw_events(&self) -> bool {
        self.events > 0
    }

    /// The agent's end-of-run report, if it made one.
    pub fn result(&self) -> Option<&FinalResult> {
        self.result.as_ref()
    }

    /// Number of tool calls seen.
    pub fn tool_calls(&self) -> u64 {
        self.tool_calls
    }

    /// Usage: the agent's reported totals when it gave them, else the sum of its reports.
    /// Turns: the reported count, else the counted model turns.
    pub fn usage(&self) -> Usage {
        let mut usage = match self.result.as_ref().and_then(|r| r.usage.clone()) {
            Some(total)
                if total.input_tokens + total.output_tokens > 0
                    || self.summed.input_tokens + self.summed.output_tokens == 0 =>
            {
                Usage {
                    cost_usd: total.cost_usd.or(self.summed.cost_usd),
                    ..total
                }
            }
            _ => self.summed.clone(),
        };
        if usage.turns == 0 {
            usage.turns = self.turns;
        }
        usage
    }

    /// The final answer: the agent's reported result text, else its last assistant text.
    pub fn final_answer(&self) -> Option<String> {
        if let Some(answer) = self
            .result
            .as_ref()
            .and_then(|r| r.answer.clone())
            .filter(|a| !a.trim().is_empty())
        {
            return Some(answer);
        }
        let text = if self.current_text.trim().is_empty() {
            &self.last_text
        } else {
            &self.current_text
        };
        (!text.trim().is_empty()).then(|| text.trim().to_string())
    }

    /// Run duration: reported, else from the agent's timestamps.
    pub fn duration_ms(&self) -> Option<u64> {
        self.result
            .as_ref()
            .and_then(|r| r.duration_ms)
            .or_else(|| {
                let (a, b) = (self.first_time?, self.last_time?);
                u64::try_from(b - a).ok().filter(|d| *d > 0)
            })
    }

    /// Decide success from the events and the exit code.
    ///
    /// * `exit_code`: `None` when the process was killed by a signal.
    /// * `requires_result`: the agent always ends with a result event, so its absence means
    ///   the run did not finish.
    /// * `stderr_tail`: the last lines of the agent's standard error, for a reason when the
    ///   stream says nothing.
    pub fn verdict(
        &self,
        program: &str,
        exit_code: Option<i32>,
        requires_result: bool,
        stderr_tail: &str,
    ) -> Verdict {
        let reported_failure = self.result.as_ref().filter(|r| !r.success);
        let reason = if let Some(r) = reported_failure {
            Some(
                r.error
                    .clone()
                    .or_else(|| self.fatal_errors.last().cloned())
                    .unwrap_or_else(|| format!("{program} reported failure")),
            )
        } else if let Some(e) = self.fatal_errors.last() {
            Some(e.clone())
        } else if exit_code != Some(0) {
            let how = match exit_code {
                Some(code) => format!("{program} exited with code {code}"),
                None => format!("{program} was killed by a signal"),
            };
            Some(with_tail(how, stderr_tail))
        } else if requires_result && self.result.is_none() {
            Some(with_tail(
                format!("{program} ended without reporting a result"),
                stderr_tail,
            ))
        } else {
            None
        };
        let reason = reason.map(|r| {
            let r = one_line(&r, MAX_REASON);
            match exit_code {
                Some(0) | None => r,
                Some(_) if r.contains("exited with code") => r,
                Some(code) => format!("{r} (exit code {code})"),
            }
        });
        Verdict {
            success: reason.is_none(),
            reason,
        }
    }
}

fn with_tail(msg: String, tail: &str) -> String {
    let tail = tail.trim();
    if tail.is_empty() {
        msg
    } else {
        format!("{msg}: {tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(events: &[Event]) -> Outcome {
        let mut o = Outcome::default();
        events.iter().for_each(|e| o.apply(e));
        o
    }

    #[test]
    fn success_needs_a_clean_exit_and_a_result() {
        let ok = fold(&[Event::Result(FinalResult {
            success: true,
            ..Default::default()
        })]);
        assert!(ok.verdict("claude", Some(0), true, "").success);
        let v = ok.verdict("claude", Some(1), true, "boom");
        assert_eq!(v.reason.as_deref(), Some("claude exited with code 1: boom"));
        let none = fold(&[]);
        assert!(!none.verdict("claude", Some(0), true, "").success);
        assert!(none.verdict("opencode", Some(0), false, "").success);
    }

    #[test]
    fn reported_errors_win_over_exit_codes() {
        let o = fold(&[
            Event::Error {
                message: "APIError: rate limited".into(),
                fatal: true,
            },
            Event::Result(FinalResult {
                success: false,
                error: None,
                ..Default::default()
            }),
        ]);
        let v = o.verdict("gemini", Some(1), true, "");
        assert_eq!(
            v.reason.as_deref(),
            Some("APIError: rate limited (exit code 1)")
        );
    }

    #[test]
    fn usage_sums_steps_and_prefers_reported_totals() {
        let step = Usage {
            source: Default::default(),
            input_tokens: 10,
            output_tokens: 2,
            cost_usd: Some(0.5),
            turns: 0,
            ..Default::default()
        };
        let o = fold(&[
            Event::TurnStart,
            Event::Usage(step.clone()),
            Event::TurnStart,
            Event::Usage(step),
        ]);
        assert_eq!(
            o.usage(),
            Usage {
                source: Default::default(),
                input_tokens: 20,
                output_tokens: 4,
                cost_usd: Some(1.0),
                turns: 2,
                ..Default::default()
            }
        );
        let total = Usage {
            source: Default::default(),
            input_tokens: 7,
            output_tokens: 3,
            cost_usd: None,
            turns: 5,
            ..Default::default()
        };
        let o = fold(&[Event::Result(FinalResult {
            success: true,
            usage: Some(total.clone()),
            ..Default::default()
        })]);
        assert_eq!(o.usage(), total);
    }

    #[test]
    fn final_answer_is_the_last_text() {
        let o = fold(&[
            Event::Text {
                text: "first".into(),
                delta: false,
            },
            Event::ToolCall {
                name: "Bash".into(),
                detail: None,
            },
            Event::Text {
                text: "Done".into(),
                delta: true,
            },
            Event::Text {
                text: ".".into(),
                delta: true,
            },
        ]);
        assert_eq!(o.final_answer().as_deref(), Some("Done."));
    }
}
