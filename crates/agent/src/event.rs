//! The common events every agent's stream is parsed into. The results document and the
//! rendered log are both built from these, so all four agents are treated alike downstream.

use axon_core::results::Usage;

/// One thing that happened in an agent run.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The session started (with the model, when the agent says).
    Init { model: Option<String> },
    /// A new model turn begins.
    TurnStart,
    /// Assistant text. `delta: true` continues the previous text (streamed chunks).
    Text { text: String, delta: bool },
    /// A tool call, with its key argument (command, file path, pattern, …).
    ToolCall {
        name: String,
        detail: Option<String>,
    },
    /// A tool's result. Only errors are shown in rendered logs.
    ToolResult {
        name: Option<String>,
        is_error: bool,
        output: String,
    },
    /// Usage to add to the running totals (per-turn or per-step reports).
    Usage(Usage),
    /// The agent's own end-of-run report.
    Result(FinalResult),
    /// An error the agent reported. `fatal: false` for warnings and retried errors.
    Error { message: String, fatal: bool },
    /// The agent's timestamp for this line, in milliseconds since the epoch.
    Time(i64),
}

/// The agent's end-of-run report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FinalResult {
    pub success: bool,
    pub answer: Option<String>,
    pub error: Option<String>,
    /// Totals for the whole run; replaces the running totals when present.
    pub usage: Option<Usage>,
    pub duration_ms: Option<u64>,
}
